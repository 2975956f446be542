"""The channel-agnostic core: one inbound event in, the replies out.

It identifies the person, opens one unit of work, and routes the event to a command handler
or to the person's conversation. Messages from one person are handled one at a time in this
process; between processes, the conversation's version number detects a concurrent writer,
and the whole event is simply handled again.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from bot import casework, menus
from bot.charts import ChartRenderer
from bot.conversation import ConversationService
from bot.exports import ExportRunner
from bot.flows.engine import Input, PhotoInput
from bot.handlers import linking, onboarding, registry, review
from bot.known_people import Known, KnownPeople
from bot.request import Request
from common.clock import Clock
from common.events import Fetch, Inbound, InboundKind, Reply, reply_to_json
from common.messages import t
from common.settings import Settings
from storage import inbox, repo
from storage.db import Database, GroupCommit, is_lost_connection, is_unavailable, is_write_conflict
from storage.media import MediaStore
from storage.models import PendingAction, Role
from storage.repo import SavedConversation

log = logging.getLogger(__name__)

CONFLICT_RETRIES = 5
REASON_WAIT = timedelta(minutes=30)  # how long a reviewer's "type the reason" question stays open


class Core:
    def __init__(self, db: Database, media: MediaStore, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.media = media
        self.conversations = ConversationService(media, settings.max_photo_bytes)
        self.known = KnownPeople()
        self.exports = ExportRunner(db, media, settings, clock)  # channels attached by the composition root
        self.charts = ChartRenderer(media)
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()
        self._answers = GroupCommit(db)  # PostgreSQL: the answers of chats handled at once, in one statement

    async def handle(self, event: Inbound, fetch: Fetch) -> list[Reply]:
        """Never raises: an unexpected error is logged and the user told to retry, the draft intact."""
        return (await self._handle(event, fetch, ())).replies

    async def handle_stored(self, event: Inbound, fetch: Fetch, inbox_ids: Sequence[int]) -> Handled:
        """An event made of stored updates (the inbox, bot/intake.py): they are marked handled, with the
        replies to send, in the unit of work that handles them, so their effect and their being handled
        commit together. Raises only when the database cannot be reached: then it is tried again later."""
        return await self._handle(event, fetch, tuple(inbox_ids))

    async def _handle(self, event: Inbound, fetch: Fetch, inbox_ids: tuple[int, ...]) -> Handled:
        key = (event.channel, event.user_id)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            try:
                photos = await self._download_if_wanted(event, fetch)
                known = self.known.get(key) if answers_conversation(event) else None
                for _ in range(CONFLICT_RETRIES):
                    try:
                        replies, request = await self._unit_of_work(event, photos, known, inbox_ids)
                    except Exception as conflict:
                        if not isinstance(conflict, (repo.StaleConversation, _Unverified)) \
                                and not is_write_conflict(conflict) and not is_lost_connection(conflict):
                            raise
                        self.known.forget(key)
                        known = None
                        if not isinstance(conflict, _Unverified):
                            log.info("conversation of %s:%s changed meanwhile; handling again",
                                     event.channel, event.user_id)
                        continue
                    self._remember(key, request)
                    if request.after_work:
                        replies = await self._after_work(request, replies, inbox_ids)
                    return Handled(replies, stored=bool(inbox_ids))
                if inbox_ids:
                    raise StorageUnavailable("conflicts or lost connections went on")
                return Handled([Reply(t("error.busy"))])
            except _AlreadyHandled:
                log.info("update(s) %s already handled by another worker", inbox_ids)
                return Handled([], stored=True)
            except Exception as error:
                self.known.forget(key)
                if inbox_ids and is_unavailable(error):
                    raise StorageUnavailable(str(error)) from error
                log.exception("failed to handle %s event from %s:%s", event.kind, event.channel, event.user_id)
                return Handled([Reply(t("error.unexpected"))])

    async def close(self) -> None:
        """Stop background exports, the chart and preview workers."""
        await self.exports.close()
        self.charts.close()
        self.media.close()

    async def _after_work(self, request: Request, replies: list[Reply], inbox_ids: tuple[int, ...]) -> list[Reply]:
        """Slow work on the replies once the unit of work has ended (drawing a chart: no lock held meanwhile).
        For stored updates the replies are stored again as they now are; a crash just before that sends them
        as first stored (the text without its picture)."""
        for finish in request.after_work:
            replies = [_drawn(reply, request) for reply in await finish(replies)]
        if inbox_ids:
            async with self.db.session() as session:
                await inbox.store_replies(session, inbox_ids[0], [reply_to_json(r) for r in replies])
        return replies

    async def _unit_of_work(self, event: Inbound, photos: PhotoInput | None, known: Known | None,
                            inbox_ids: tuple[int, ...]) -> tuple[list[Reply], Request]:
        # A stored update is marked handled in this unit of work: it can be redone from the inbox (storage/db.py).
        async with self.db.session(redoable=bool(inbox_ids)) as session:
            request = self._request(event, session)
            replies = [_drawn(reply, request) for reply in await self._route(request, photos, known)]
            await self._note_chat(request, replies)
            if inbox_ids:
                await self._mark_handled(request, inbox_ids, [reply_to_json(reply) for reply in replies])
            else:
                await self._write_conversation(request)
            if known is not None and not request.conversation_writes:
                raise _Unverified  # nothing checked what was remembered: read afresh (bot/known_people.py)
        return replies, request

    async def _mark_handled(self, request: Request, inbox_ids: tuple[int, ...], replies: list[dict]) -> None:
        """The stored update marked handled, with its replies, in the unit of work that had its effects. An
        answer whose only write is its conversation's next state (most are) goes on the driver, without the
        session (on PostgreSQL in one statement alone, with those of other chats handled meanwhile)."""
        writes = request.conversation_writes
        if len(inbox_ids) == 1 and len(writes) == 1 and writes[0].flow is not None \
                and not request.session.in_transaction():  # nothing else written: the driver's statements suffice
            target = self.db.driver(redoable=True, in_turn=True) if self.db.is_sqlite else self._answers
            request.conversation_after = await repo.save_and_mark_handled(
                target, writes[0], request.now, inbox_ids[0], replies, inbox.wall_clock())
            return
        if not await inbox.mark_handled(request.session, inbox_ids, replies, inbox.wall_clock()):
            raise _AlreadyHandled
        await self._write_conversation(request)  # after the mark: it joins its transaction, never alone

    async def _write_conversation(self, request: Request) -> None:
        """The conversation's writes, last: an answer's only statement, as it mostly is, then goes alone."""
        writes = request.conversation_writes
        if len(writes) == 1 and self.db.can_go_alone(request.session):
            async with self.db.alone() as connection:
                request.conversation_after = await repo.write_conversation(connection, writes[0], request.now)
            return
        for write in writes:
            request.conversation_after = await repo.write_conversation(request.session, write, request.now)

    def _remember(self, key: tuple[str, str], request: Request) -> None:
        """Once committed: remember whoever answered their conversation, or started or moved it with a
        command (/decu), as it now stands."""
        if not (request.conversation_writes or answers_conversation(request.event)) \
                or request.account is None or request.person is None:
            self.known.forget(key)
            return
        conversation = request.conversation_after if request.conversation_writes else request.conversation
        self.known.remember(key, request.account, request.person, request.memberships, conversation)

    async def _download_if_wanted(self, event: Inbound, fetch: Fetch) -> PhotoInput | None:
        """Photos are fetched before the unit of work opens, so no transaction waits on the network."""
        if event.kind is not InboundKind.MEDIA:
            return None
        wanted = self.conversations.surely_wants_photos(event.channel, event.user_id)
        if not wanted:  # not known in this process (a restart, another worker): ask the database
            async with self.db.session() as session:
                found = await repo.identity(session, event.channel, event.user_id)
            conversation = found[3] if found else None
            wanted = conversation is not None and self.conversations.wants_photos(conversation)
        if not wanted:
            return None
        photos = await self.conversations.download(event.media, fetch)
        await self._record(photos)
        return photos

    async def _record(self, photos: PhotoInput) -> None:
        """The photos' rows, before the unit of work: a stored file's row is true whatever the answer does, and
        the answer's one write, its conversation's, then goes on the driver (on PostgreSQL with others')."""
        if not photos.stored:
            return
        now = self.clock.now()
        async with self.db.session() if self.db.is_sqlite else self.db.alone() as target:
            await repo.record_media(target, list(photos.stored), now)

    def _request(self, event: Inbound, session) -> Request:
        return Request(event=event, session=session, now=self.clock.now(), settings=self.settings,
                       conversations=self.conversations, exports=self.exports, charts=self.charts,
                       reads=lambda: self.db.reads_for(session))

    async def _route(self, request: Request, photos: PhotoInput | None, known: Known | None) -> list[Reply]:
        event = request.event
        if event.kind in (InboundKind.BLOCKED, InboundKind.UNBLOCKED):  # the channel tells, the person did not write
            unreachable = request.now if event.kind is InboundKind.BLOCKED else None
            await repo.set_reachable(request.session, event.channel, event.user_id, unreachable)
            return []
        await self._identify(request, known)
        if code := linking.typed_code(event):  # an account on another channel joins its person
            return await linking.redeem(request, code)
        if event.kind is InboundKind.COMMAND and event.command == "start":
            return await onboarding.start(request)  # before registration too
        if request.person is None or not request.memberships:
            if event.kind is InboundKind.TEXT and onboarding.looks_like_invite(event.text):
                return await onboarding.redeem(request, event.text.strip())  # the code alone, without /start
            return [Reply(t("access.unregistered"))]
        if event.kind is InboundKind.EDITED:
            return [Reply(t("input.edited"))]
        if event.kind is InboundKind.TEXT and request.conversation is None and onboarding.looks_like_invite(event.text):
            return await onboarding.redeem(request, event.text.strip())  # a new role's code, sent alone as it says
        if event.kind is InboundKind.TEXT and request.account is not None:
            picked = menus.typed_choice(request.account.menu, event.text, request.now)
            if picked:  # "2", or a label, answers the last menu this chat was shown, as a press would
                event = request.event = replace(event, kind=InboundKind.CHOICE, choice=picked)
        conversation = request.conversation
        waiting = await self._pending_reason(request)
        command = event.command if event.kind is InboundKind.COMMAND else ""
        if not command and event.kind is InboundKind.TEXT:
            command, args = registry.typed_command(event.text)  # a command typed without its slash, or as words
            if not command and conversation is None and casework.CASE_CODE.match(event.text.strip()):
                command, args = "trangthai", event.text.strip()  # a case's code alone: that case
            if conversation is not None and (command != "decu" or args) or waiting is not None and args:
                command = ""  # in a draft, "đề cử" alone offers to continue it; other words are answers (or a reason)
            if command:
                event = request.event = replace(event, kind=InboundKind.COMMAND, command=command, args=args)
        part_of_question = event.kind is InboundKind.CHOICE and event.choice.startswith(("rv:flag:", "rv:cancel"))
        if waiting is not None and (command or event.kind is InboundKind.CHOICE) and not part_of_question:
            await request.session.delete(waiting)  # anything else than the reason: the question is dropped
            request.drop_menu = True
            if command == "huy":
                return [Reply(t("review.cancelled"))]
        elif waiting is not None and event.kind is InboundKind.TEXT:
            return await review.reason_typed(request, waiting)  # a reviewer was asked for a reason: this is it
        if command:
            return await self._command(request, command, conversation)
        if event.kind is InboundKind.CHOICE:
            replies = await self._choice(request, conversation)
            if replies is not None:
                return replies
        if conversation is None:
            return self._idle_reply(request)
        return await self._converse(request, conversation, photos)

    async def _note_chat(self, request: Request, replies: list[Reply]) -> None:
        """Where the person now is: the channel they wrote from (what the bot sends on its own goes there), and
        the menu the replies end with (bot/menus.py)."""
        person, channel = request.person, request.event.channel
        if person is None or request.account is None:
            return
        if person.last_channel != channel:
            await repo.note_channel(request.session, person, channel, touch=not request.conversation_writes)
        await menus.remember(request, replies)

    async def _pending_reason(self, request: Request) -> PendingAction | None:
        """The reason a reviewer was asked for, if still current: recent, and newer than their own draft."""
        if not request.has_role(Role.SECRETARY):  # only reviewers are ever asked for a reason
            return None
        waiting = await request.session.get(PendingAction, request.person.id)
        if waiting is None:
            return None
        stale = request.now - waiting.created_at > REASON_WAIT
        if request.conversation is not None and request.conversation.updated_at > waiting.created_at:
            stale = True
        if stale:
            await request.session.delete(waiting)
            return None
        return waiting

    async def _choice(self, request: Request, conversation: SavedConversation | None) -> list[Reply] | None:
        """A button that is not an answer to the conversation (registry.BUTTONS), gated like its command."""
        choice = request.event.choice
        found = registry.button(choice)
        if found is None:
            return None
        if found.handler is None:  # cmd:<name>
            return await self._command(request, choice.partition(":")[2], conversation)
        gate = registry.command(found.command)
        if gate is not None and not gate.allows(request.memberships):
            log.warning("refused: person %s pressed %s outside their roles", request.person.id, choice[:40])
            return [Reply(t(gate.refusal()))]
        return await found.handler(request, choice)

    async def _identify(self, request: Request, known: Known | None) -> None:
        if known is not None:
            request.account, request.person = known.account, known.person
            request.memberships, request.conversation = list(known.memberships), known.conversation
            return
        async with request.reading() as reading:  # alone, so that a command's one write may go on the driver
            found = await repo.identity(reading, request.event.channel, request.event.user_id)
        if found is None:
            return
        request.account, request.person, request.memberships, request.conversation = found
        if request.account.unreachable_at is not None:  # they wrote again: reminders may reach them again
            request.session.add(request.account)  # read apart (reads_for): the unit of work writes it
            request.account.unreachable_at = None

    async def _command(self, request: Request, name: str, conversation: SavedConversation | None) -> list[Reply]:
        command = registry.command(name)
        if command is None:
            return [Reply(t("unknown.command", command=name[:32]))]
        if command.control:  # anyone may ask for help or cancel their own draft
            if conversation is None:
                if command.control == "help":
                    return [Reply(registry.help_text(request.memberships), with_main_menu=True)]
                return [Reply(t("cancel.nothing"), with_main_menu=True)]
            return await self.conversations.handle(request, conversation, Input(control=command.control))
        if not command.allows(request.memberships):
            return [Reply(t(command.refusal()))]
        replies = await command.handler(request)
        if conversation is not None and not command.moves_draft:
            replies.append(Reply(t("draft.pending_hint")))
        return replies

    async def _converse(self, request: Request, conversation: SavedConversation,
                        photos: PhotoInput | None) -> list[Reply]:
        event = request.event
        if self.conversations.already_handled(request, conversation):
            log.info("update %s of %s:%s delivered again; ignored", event.sequence, event.channel, event.user_id)
            return []
        if event.kind is InboundKind.UNSUPPORTED:
            what = t(f"input.unsupported.{event.unsupported}") if event.unsupported in _UNSUPPORTED else \
                t("input.unsupported.other")
            return [Reply(t("input.unsupported", what=what))] + await self.conversations.reprompt(
                request, conversation)
        if event.kind is InboundKind.MEDIA:
            if photos is None or not self.conversations.wants_photos(conversation):
                return [Reply(t("input.need_text"))] + await self.conversations.reprompt(request, conversation)
            return await self.conversations.handle(request, conversation, Input(photos=photos))
        if event.kind is InboundKind.CHOICE:
            return await self.conversations.handle(request, conversation, Input(choice=event.choice))
        return await self.conversations.handle(request, conversation, Input(text=event.text))

    def _idle_reply(self, request: Request) -> list[Reply]:
        event = request.event
        menu = request.account.menu if request.account is not None else None
        if event.kind is InboundKind.TEXT and event.text.strip().isdigit() and menus.live(menu, request.now):
            return [Reply(t("invalid.choice.unknown", count=len(menu["choices"])))]  # a number off the list
        if event.kind is InboundKind.CHOICE:
            return [Reply(t("input.stale_button") + " " + t("unknown.text", hint=onboarding.hint(request.memberships)),
                          with_main_menu=True)]
        return [Reply(t("unknown.text", hint=onboarding.hint(request.memberships)), with_main_menu=True)]

def _drawn(reply: Reply, request: Request) -> Reply:
    """The menus a handler asked for, drawn from the person's roles as they are now."""
    if not (reply.with_main_menu or reply.with_commands):
        return reply
    return replace(reply, with_main_menu=False, with_commands=False,
                   menu=registry.main_menu(request.memberships) if reply.with_main_menu else reply.menu,
                   commands=registry.commands_for(request.memberships) if reply.with_commands else reply.commands)


def answers_conversation(event: Inbound) -> bool:
    """Goes to the person's conversation, if they have one: not a command, not another kind of button."""
    if event.kind is InboundKind.CHOICE:
        return registry.button(event.choice) is None
    return event.kind in (InboundKind.TEXT, InboundKind.MEDIA, InboundKind.UNSUPPORTED)


class _Unverified(Exception):
    """Handled from what was remembered, but nothing written checked it."""


class _AlreadyHandled(Exception):
    """Another worker marked these stored updates handled first."""


class StorageUnavailable(Exception):
    """The database cannot be reached now: the stored update stays open and is handled later."""


@dataclass(frozen=True)
class Handled:
    replies: list[Reply]
    stored: bool = False  # the inbox rows were marked handled, with these replies, in the unit of work


_UNSUPPORTED = {"sticker", "voice", "video", "location", "contact"}

