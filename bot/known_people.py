"""Who wrote, remembered between their answers, so an answer in a conversation costs one write.

Reading the person, their roles and their conversation before each answer was the largest part of
the bot's work per message. A person in a conversation is remembered here after each answer (and
after a command that started or moved it, such as /decu), with the conversation as this process last
wrote it. The next answer is handled from that, and its write
(`UPDATE conversation … WHERE version = <remembered>`) is what checks it:

- another worker that moved the conversation on changed its version;
- a change to who the person is (a role revoked or granted, the account found unreachable) moves
  the version too (storage.repo.touch_conversation), wherever it is made.

Either way the write matches no row, the unit of work is rolled back, and the core handles the
answer again from a fresh read. An answer whose handling writes nothing (a sticker, a repeat) is
handled again from a fresh read as well, so nothing is ever shown from memory alone. Only answers
to the conversation use this; commands, review buttons and anyone with a reviewer's role always
read afresh.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from storage.models import Account, Membership, Person, Role
from storage.repo import SavedConversation

REMEMBERED = 10_000  # people; the least recently active are dropped first
FRESH_SECONDS = 60.0  # and nobody is remembered longer than this: a change made by hand shows


@dataclass(frozen=True)
class Known:
    account: Account
    person: Person
    memberships: list[Membership]
    conversation: SavedConversation
    at: float  # time.monotonic() when remembered


class KnownPeople:
    def __init__(self, size: int = REMEMBERED, fresh_seconds: float = FRESH_SECONDS) -> None:
        self.size = size
        self.fresh_seconds = fresh_seconds
        self._known: OrderedDict[tuple[str, str], Known] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Known | None:
        known = self._known.get(key)
        if known is None:
            return None
        if time.monotonic() - known.at > self.fresh_seconds:
            del self._known[key]
            return None
        return known

    def remember(self, key: tuple[str, str], account: Account, person: Person, memberships: list[Membership],
                 conversation: SavedConversation | None) -> None:
        """After a committed answer. Not remembered: no conversation left, a reviewer, an unreachable account
        (their next message resets it, which needs the row)."""
        if conversation is None or account.unreachable_at is not None or any(
                m.role != Role.CADRE for m in memberships) or not memberships:
            self.forget(key)
            return
        self._known[key] = Known(account, person, list(memberships), conversation, time.monotonic())
        self._known.move_to_end(key)
        if len(self._known) > self.size:
            self._known.popitem(last=False)

    def forget(self, key: tuple[str, str]) -> None:
        self._known.pop(key, None)
