"""/lienket: one person on several channels. A person registered on one channel asks for a one-time code and
sends it to the bot on the other; that account then belongs to them: one set of roles, one draft, one
history. What the bot sends on its own goes to the channel they wrote from last, or the one they chose
(/nhacnho)."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta

from bot.request import Request
from bot.typed_codes import TYPED_ALPHABET, new_code, normal_code
from common.events import Inbound, InboundKind, Reply
from common.messages import t
from scheduler.outbox import Message, enqueue
from storage import repo
from storage.models import Person

log = logging.getLogger(__name__)

LINK_TTL = timedelta(minutes=30)
# Typed on a phone: no 0/O, 1/I/L; 31^8 codes, single use, for half an hour.
_SHAPE = re.compile(rf"LK[{TYPED_ALPHABET}]{{8}}")


def looks_like_link_code(text: str) -> bool:
    return _SHAPE.fullmatch(normal_code(text)) is not None


def typed_code(event: Inbound) -> str:
    """A link code sent on its own, or after /start or /lienket; "" if none."""
    if event.kind is InboundKind.TEXT and looks_like_link_code(event.text):
        return event.text
    if event.kind is InboundKind.COMMAND and event.command in ("start", "lienket") and looks_like_link_code(event.args):
        return event.args
    return ""


def _hash(code: str) -> str:
    return hashlib.sha256(normal_code(code).encode()).hexdigest()


def channel_name(channel: str) -> str:
    return t(f"channel.{channel}") if channel in ("telegram", "zalo", "terminal", "web") else channel


async def link_command(request: Request) -> list[Reply]:
    """A new code, and which channels are linked already."""
    code = new_code("LK", 2)
    await repo.add_link_code(request.session, _hash(code), request.person.id, request.event.channel, request.now,
                             request.now + LINK_TTL)
    lines = [t("link.code", code=code, minutes=int(LINK_TTL.total_seconds() // 60))]
    accounts = await repo.accounts_of_person(request.session, request.person.id)
    channels = list(dict.fromkeys(a.channel for a in accounts))
    if len(channels) > 1:
        preferred = request.person.chosen_channel or request.person.last_channel or channels[0]
        lines.append(t("link.linked", channels=", ".join(map(channel_name, channels)),
                       channel=channel_name(preferred)))
    return [Reply("\n".join(lines))]


async def redeem(request: Request, typed: str) -> list[Reply]:
    """The code sent on the other channel: this chat's account joins the person who asked for it."""
    session, now, event = request.session, request.now, request.event
    code = await repo.link_code_by_hash(session, _hash(typed))
    if code is None:
        return [Reply(t("link.unknown"))]
    if code.used_at is not None:
        return [Reply(t("link.used"))]
    if code.expires_at <= now:
        return [Reply(t("link.expired", minutes=int(LINK_TTL.total_seconds() // 60)))]
    if code.channel == event.channel:
        return [Reply(t("link.same_channel"))]
    account = request.account
    if account is not None and account.person_id == code.person_id:
        return [Reply(t("link.already"))]
    if account is not None and await repo.has_roles(session, account.person_id):
        log.warning("refused: %s account %s has roles of its own; not linked to person %s", event.channel,
                    event.user_id, code.person_id)
        return [Reply(t("link.taken", channel=channel_name(event.channel)))]
    if not await repo.claim_link_code(session, code, now):
        return [Reply(t("link.used"))]
    await repo.link_account(session, code.person_id, event.channel, event.user_id, event.chat_id, account)
    person = await session.get(Person, code.person_id)
    await repo.note_channel(session, person, event.channel, touch=False)
    await _tell_the_other_channel(session, code.person_id, code.channel, event.channel, now)
    log.info("person %s linked their %s account", person.id, event.channel)
    request.account, request.person = None, person  # the menus drawn for the reply are the person's
    request.memberships = await repo.memberships_of(session, person.id)
    lines = [t("link.done", channel=channel_name(event.channel), name=person.name)]
    if await repo.conversation_of(session, person.id) is not None:
        lines.append(t("draft.pending_hint"))
    return [Reply("\n".join(lines), with_main_menu=True, with_commands=True)]


async def person_of_code(session, typed: str, now) -> int | None:
    """A link code given at the web chat's sign-in (bot/web_access.py): the person who asked for it, once."""
    if not looks_like_link_code(typed):
        return None
    code = await repo.link_code_by_hash(session, _hash(typed))
    if code is None or code.used_at is not None or code.expires_at <= now:
        return None
    if not await repo.claim_link_code(session, code, now):
        return None
    await _tell_the_other_channel(session, code.person_id, code.channel, "web", now)
    log.info("person %s linked a web session with a code from %s", code.person_id, code.channel)
    return code.person_id


async def _tell_the_other_channel(session, person_id: int, channel: str, linked: str, now) -> None:
    """Where the code was asked for hears of it: a link they did not make is noticed at once."""
    account = next((a for a in await repo.accounts_of_person(session, person_id) if a.channel == channel), None)
    if account is None:
        return
    text = t("link.notice", channel=channel_name(linked))
    await enqueue(session, [Message(f"linked:{person_id}:{linked}:{now.timestamp():.0f}", person_id, channel,
                                    account.chat_id, "linked", Reply(text), now)], now)
