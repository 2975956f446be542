"""/start: registration by single-use invitation, and a greeting by role."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.request import Request
from common.events import Reply
from common.messages import t
from storage import repo
from storage.communes import find_province
from storage.models import Commune, Invite, Membership, Role, Unit

INVITE_BYTES = 16  # 128 bits; token_urlsafe keeps to Telegram's deep-link alphabet [A-Za-z0-9_-]


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


async def create_invite(session: AsyncSession, *, role: Role, now: datetime, ttl: timedelta,
                        commune_code: str | None = None, province_code: str | None = None,
                        unit_id: int | None = None) -> str:
    """A new invitation; the code is returned once and only its hash is stored."""
    code = secrets.token_urlsafe(INVITE_BYTES)
    session.add(Invite(code_hash=hash_code(code), role=role, commune_code=commune_code,
                       province_code=province_code, unit_id=unit_id, created_at=now, expires_at=now + ttl))
    await session.flush()
    return code


# What token_urlsafe(INVITE_BYTES) gives: someone not yet registered who sends just this has typed a code.
_CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{22}")


def looks_like_invite(text: str) -> bool:
    return _CODE_SHAPE.fullmatch(text.strip()) is not None


async def start(request: Request) -> list[Reply]:
    code = request.event.args.strip()
    if code:
        return await redeem(request, code)
    if request.person is None:
        return [Reply(t("access.unregistered"))]
    return [Reply(t("welcome.back", name=request.person.name), with_main_menu=True,
                  with_commands=True)]


async def redeem(request: Request, code: str) -> list[Reply]:
    session, now = request.session, request.now
    invite = await repo.invite_by_hash(session, hash_code(code))
    if invite is None:
        return [Reply(t("invite.unknown"))]
    if invite.used_at is not None:
        return [Reply(t("invite.used"))]
    if invite.expires_at <= now:
        return [Reply(t("invite.expired"))]
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
