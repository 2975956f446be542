"""What a handler gets: the event, the open unit of work, who is asking, and the time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel.ext.asyncio.session import AsyncSession

from common.events import Inbound, Reply
from common.settings import Settings
from storage.models import Account, Membership, Person, Role
from storage.repo import ConversationWrite, SavedConversation

if TYPE_CHECKING:
    from bot.charts import ChartRenderer
    from bot.conversation import ConversationService
    from bot.exports import ExportRunner


@dataclass
class Request:
    event: Inbound
    session: AsyncSession
    now: datetime  # aware, in the configured zone
    settings: Settings
    conversations: ConversationService | None = None  # the conversation service, for the flow commands
    exports: ExportRunner | None = None  # background exports (/xuat)
    charts: ChartRenderer | None = None  # /thongke's pictures
    # Reads that need not be in the unit of work's transaction (Database.reads_for): the core sets it.
    reads: Callable[[], AbstractAsyncContextManager[AsyncSession]] | None = None
    account: Account | None = None
    person: Person | None = None
    memberships: list[Membership] = field(default_factory=list)
    conversation: SavedConversation | None = None  # the person's open flow (a draft, a fix), if any
    # What is to be written to the conversation, in order, when the unit of work ends (Core); often
    # the unit of work's only statement, which then goes alone (Database.can_go_alone).
    conversation_writes: list[ConversationWrite] = field(default_factory=list)
    # Once written: the row as it now is (None: it ended); bot/known_people.py remembers it once committed.
    conversation_after: SavedConversation | None = None
    # Slow work on the replies for after the unit of work (drawing a chart), so that no database lock or
    # connection is held meanwhile: each gets the replies and returns them, changed.
    after_work: list[Callable[[list[Reply]], Awaitable[list[Reply]]]] = field(default_factory=list)
    # A question asked with a one-shot menu ended (a reviewer's reason given): its remembered menu goes too,
    # so a later "1" on Zalo does not answer it again (bot/menus.py).
    drop_menu: bool = False

    def reading(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for a read that need not be in the unit of work (objects read come detached from it)."""
        return self.reads() if self.reads is not None else nullcontext(self.session)

    def write_conversation(self, write: ConversationWrite) -> None:
        self.conversation_writes.append(write)

    def has_role(self, role: Role) -> bool:
        return any(m.role == role for m in self.memberships)

    def cadre_membership(self) -> Membership | None:
        return next((m for m in self.memberships if m.role == Role.CADRE), None)
