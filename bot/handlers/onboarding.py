"""/start: registration by single-use invitation, and a greeting by role."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.request import Request
from bot.typed_codes import TYPED_ALPHABET, new_code, normal_code
from common.events import Reply
from common.messages import t
from storage import repo
from storage.communes import find_province
from storage.models import Commune, Invite, Membership, Role, Unit

# An invite is "MOI-" and 12 typed characters (bot/typed_codes.py; 59 bits, single use, and sign-in is
# rate-limited), which Telegram's deep links also carry ([A-Za-z0-9_-]).
INVITE_PREFIX, INVITE_GROUPS = "MOI", 3
_CODE_SHAPE = re.compile(rf"{INVITE_PREFIX}[{TYPED_ALPHABET}]{{{4 * INVITE_GROUPS}}}")
# The codes made before (token_urlsafe of 16 bytes) still work, typed exactly.
_OLD_CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{22}")


def _invite_normal(text: str) -> str:
    """The prefix has the O and I the rest avoids: "M0I", "MO1" are read as "MOI"."""
    return re.sub(r"^M[O0][I1L]", INVITE_PREFIX, normal_code(text))


def hash_code(code: str) -> str:
    return hashlib.sha256(_invite_normal(code).encode()).hexdigest()


def _old_hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


async def create_invite(session: AsyncSession, *, role: Role, now: datetime, ttl: timedelta,
                        commune_code: str | None = None, province_code: str | None = None,
                        unit_id: int | None = None) -> str:
    """A new invitation; the code is returned once and only its hash is stored."""
    code = new_code(INVITE_PREFIX, INVITE_GROUPS)
    session.add(Invite(code_hash=hash_code(code), role=role, commune_code=commune_code,
                       province_code=province_code, unit_id=unit_id, created_at=now, expires_at=now + ttl))
    await session.flush()
    return code


def looks_like_invite(text: str) -> bool:
    """Someone not yet registered who sends just this has typed a code."""
    return _CODE_SHAPE.fullmatch(_invite_normal(text)) is not None or _OLD_CODE_SHAPE.fullmatch(text.strip()) is not None


async def start(request: Request) -> list[Reply]:
    code = request.event.args.strip()
    if code:
        return await redeem(request, code)
    if request.person is None:
        return [Reply(t("access.unregistered"))]
    return [Reply(t("welcome.back", name=request.person.name, hint=hint(request.memberships)),
                  with_main_menu=True, with_commands=True)]


async def usable_invite(session: AsyncSession, code: str, now: datetime) -> tuple[Invite | None, str]:
    """The invitation a code names, or why it cannot be used (in the person's words)."""
    invite = await repo.invite_by_hash(session, hash_code(code))
    if invite is None and _OLD_CODE_SHAPE.fullmatch(code.strip()):
        invite = await repo.invite_by_hash(session, _old_hash(code))
    if invite is None:
        return None, t("invite.unknown")
    if invite.used_at is not None:
        return None, t("invite.used")
    if invite.expires_at <= now:
        return None, t("invite.expired")
    return invite, ""


async def redeem(request: Request, code: str) -> list[Reply]:
    session, now = request.session, request.now
    invite, problem = await usable_invite(session, code, now)
    if invite is None:
        return [Reply(problem)]
    if _already_holds(request, invite):
        return [Reply(t("invite.already"), with_main_menu=True)]
    if not await repo.claim_invite(session, invite, now):
        return [Reply(t("invite.used"))]  # someone else redeemed it a moment ago
    if request.person is None:
        event = request.event
        request.person = await repo.create_person(session, event.display_name or t("person.unnamed"), now, event.channel,
                                                  event.user_id, event.chat_id)
    membership = Membership(person_id=request.person.id, role=invite.role, commune_code=invite.commune_code,
                            province_code=invite.province_code, unit_id=invite.unit_id, created_at=now)
    session.add(membership)
    await repo.touch_conversation(session, request.person.id)  # the new role counts in a draft at once
    await repo.note_invite_user(session, invite, request.person.id)
    request.memberships.append(membership)
    return [Reply(await _welcome(session, request.person.name, membership), with_main_menu=True,
                  with_commands=True)]


def hint(memberships: list[Membership]) -> str:
    """What to type next, in one line, for the person's main role (a cadre nominates, a secretary reviews, an
    official reads figures): the greeting and the "not understood" reply end with it."""
    roles = {m.role for m in memberships}
    for role in (Role.CADRE, Role.SECRETARY, Role.OFFICIAL):
        if role in roles:
            return t(f"hint.{role.value}")
    return t("hint.other")


def _already_holds(request: Request, invite: Invite) -> bool:
    return any(
        m.role == invite.role and m.commune_code == invite.commune_code and m.unit_id == invite.unit_id
        and m.province_code == invite.province_code
        for m in request.memberships
    )


async def _welcome(session: AsyncSession, name: str, membership: Membership) -> str:
    commune = await session.get(Commune, membership.commune_code) if membership.commune_code else None
    commune_name = commune.name if commune else ""
    if membership.role == Role.CADRE:
        unit = await session.get(Unit, membership.unit_id) if membership.unit_id else None
        return t("welcome.cadre", name=name, unit=unit.name if unit else "", commune=commune_name)
    if membership.role == Role.SECRETARY:
        return t("welcome.secretary", name=name, commune=commune_name)
    if membership.role == Role.OFFICIAL:
        scope = commune_name or find_province(membership.province_code or "")[1]  # "Tỉnh …", "Thành phố …"
        return t("welcome.official", name=name, scope=scope)
    return t("welcome.admin", name=name)
