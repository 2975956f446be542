"""A secretary manages the commune by chat: villages and organisations (/donvi), invitations (/moi),
people (/nguoi) and revocation (/thuhoi). Everything stays inside the secretary's own commune.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.handlers.onboarding import create_invite
from bot.parsing import row_id
from bot.request import Request
from common.events import Reply
from common.messages import t
from common.text import fold, natural_key
from storage import repo
from storage.models import Person, Role, Unit, UnitKind

log = logging.getLogger(__name__)
KIND_WORDS = {"thon": UnitKind.VILLAGE, "to": UnitKind.VILLAGE, "ap": UnitKind.VILLAGE, "ban": UnitKind.VILLAGE,
              "doan the": UnitKind.ORGANISATION, "doanthe": UnitKind.ORGANISATION, "to chuc": UnitKind.ORGANISATION}
INVITE_ROLES = {"can bo": Role.CADRE, "canbo": Role.CADRE, "lanh dao": Role.OFFICIAL, "lanhdao": Role.OFFICIAL,
                "thu ky": Role.SECRETARY, "thuky": Role.SECRETARY}


def _commune(request: Request) -> str | None:
    return next((m.commune_code for m in request.memberships if m.role == Role.SECRETARY and m.commune_code), None)


def _split(args: str) -> tuple[str, str]:
    head, _, rest = args.strip().partition(" ")
    return fold(head), rest.strip()


async def _units(request: Request, commune: str) -> list[Unit]:
    return await repo.commune_units(request.session, commune)


# ---- /donvi [them thon|doanthe <tên> | doiten <số> <tên mới> | nghi <số>]
async def units(request: Request) -> list[Reply]:
    commune = _commune(request)
    if commune is None:
        return [Reply(t("role.not_allowed"))]
    action, rest = _split(request.event.args)
    if action == "them":
        return await _add_unit(request, commune, rest)
    if action in ("doiten", "nghi"):
        number, _, name = rest.partition(" ")
        unit = await _unit_of(request, commune, number)
        if unit is None:
            return [Reply(t("units.unknown"))]
        if action == "nghi":
            unit.retired_at = request.now
            return [Reply(t("units.retired", name=unit.name))]
        return await _rename(request, unit, name)
    if action:
        return [Reply(t("units.usage"))]
    listed = sorted(await _units(request, commune), key=lambda u: (u.kind != UnitKind.VILLAGE, natural_key(u.name)))
    lines = [t("units.title")] + [
        t("units.line", id=u.id, name=u.name, kind=t(f"units.kind.{u.kind}"),
          retired=t("units.retired_mark") if u.retired_at else "").rstrip() for u in listed]
    return [Reply("\n".join(lines + [t("units.usage")]))]


async def _add_unit(request: Request, commune: str, rest: str) -> list[Reply]:
    kind_word, _, name = rest.partition(" ")
    kind = KIND_WORDS.get(fold(kind_word))
    name = " ".join(name.split())
    confirmed = name.endswith(" !")  # "yes, another one": asked when the name looks like one the commune has
    name = name.removesuffix(" !")
    if kind is None or not 2 <= len(name) <= 120:
        return [Reply(t("units.usage"))]
    alike = await repo.unit_like(request.session, commune, kind, name) \
        if await repo.unit_named(request.session, commune, kind, name) is None else None
    if alike is not None and not confirmed:
        return [Reply(t("units.alike", name=alike.name, typed=name, again=f"/donvi them {kind_word} {name} !"))]
    unit = await repo.ensure_unit(request.session, commune, kind, name)
    unit.retired_at = None
    return [Reply(t("units.added", name=unit.name))]


async def _rename(request: Request, unit: Unit, name: str) -> list[Reply]:
    name = " ".join(name.split())
    if not 2 <= len(name) <= 120:
        return [Reply(t("units.usage"))]
    taken = await repo.other_unit_named(request.session, unit, name)
    if taken is not None:
        return [Reply(t("units.taken", name=taken.name))]
    old, unit.name, unit.name_key = unit.name, name, fold(name)
    return [Reply(t("units.renamed", old=old, name=name))]


async def _unit_of(request: Request, commune: str, number: str) -> Unit | None:
    number = number.lstrip("#")
    unit = await request.session.get(Unit, row_id(number)) if row_id(number) else None
    return unit if unit is not None and unit.commune_code == commune else None


# ---- /moi canbo <thôn> | lanhdao | thuky
async def invite(request: Request) -> list[Reply]:
    commune = _commune(request)
    if commune is None:
        return [Reply(t("role.not_allowed"))]
    words = fold(request.event.args)
    role_word = next((w for w in INVITE_ROLES if words == w or words.startswith(w + " ")), None)
    if role_word is None:
        return [Reply(t("invite.usage"))]
    role, unit_id = INVITE_ROLES[role_word], None
    if role == Role.CADRE:
        unit_name = " ".join(request.event.args.split()[len(role_word.split()):])
        unit = await _find_unit(request, commune, unit_name)
        if unit is None:
            return [Reply(t("invite.unit_unknown"))]
        unit_id = unit.id
    code = await create_invite(request.session, role=role, now=request.now, commune_code=commune, unit_id=unit_id,
                               ttl=timedelta(days=request.settings.invite_ttl_days))
    return [Reply(t("invite.created", role=t(f"role.{role.value}"), code=code, days=request.settings.invite_ttl_days),
                  invite=code)]


async def _find_unit(request: Request, commune: str, name: str) -> Unit | None:
    if not name:
        return None
    if name.lstrip("#").isdigit():
        return await _unit_of(request, commune, name)
    key = fold(name)
    found = [u for u in await _units(request, commune) if u.retired_at is None and (u.name_key == key)]
    return found[0] if len(found) == 1 else None


# ---- /nguoi, /thuhoi <số>
async def people(request: Request) -> list[Reply]:
    commune = _commune(request)
    if commune is None:
        return [Reply(t("role.not_allowed"))]
    rows = await repo.members_of(request.session, commune)
    names = {u.id: u.name for u in await _units(request, commune)}
    lines = [t("people.title", count=len({p.id for _, p in rows}))]
    lines += [t("people.line", id=p.id, name=p.name, role=t(f"role.{m.role}"),
                unit=names.get(m.unit_id, "")).rstrip() for m, p in rows]
    return [Reply("\n".join(lines + [t("people.hint")]))]


async def revoke(request: Request) -> list[Reply]:
    commune = _commune(request)
    if commune is None:
        return [Reply(t("role.not_allowed"))]
    number = request.event.args.strip().lstrip("#")
    person_id = row_id(number)
    if person_id is None:
        return [Reply(t("people.hint"))]
    if person_id == request.person.id:
        return [Reply(t("people.not_self"))]
    if not await repo.revoke_memberships(request.session, person_id, commune, request.now):
        log.warning("refused: person %s tried to revoke %s outside commune %s", request.person.id, number, commune)
        return [Reply(t("people.unknown"))]
    person = await request.session.get(Person, person_id)
    return [Reply(t("people.revoked", name=person.name if person else number))]
