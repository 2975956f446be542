"""/hoso (my cases) and /trangthai <code> (one case, within what the asker may see)."""

from __future__ import annotations

import re

from bot.events import Reply
from bot.messages import t
from bot.request import Request
from storage import repo
from storage.communes import all_communes
from storage.models import Case, Role, Unit

MY_CASES_SHOWN = 20
_CODE = re.compile(r"^NT-\d{4}-\d{3,}$", re.IGNORECASE)


def status_label(status: str) -> str:
    return t(f"status.{status}")


def local_date(request: Request, case: Case) -> str:
    return case.submitted_at.astimezone(request.now.tzinfo).strftime("%d/%m/%Y")


async def my_cases(request: Request) -> list[Reply]:
    assert request.person is not None
    cases, total = await repo.cases_by_nominator(request.session, request.person.id, MY_CASES_SHOWN)
    if not cases:
        return [Reply(t("cases.none"))]
    lines = [t("cases.title", count=total)]
    lines += [
        t("cases.line", code=c.code, name=c.name, status=status_label(c.status), date=local_date(request, c))
        for c in cases
    ]
    if total > len(cases):
        lines.append(t("cases.more", more=total - len(cases)))
    return [Reply("\n".join(lines))]


def may_see(request: Request, case: Case) -> bool:
    """A nominator sees their cases; a cadre their unit's; a secretary or official their scope."""
    if request.person is not None and case.nominator_id == request.person.id:
        return True
    for m in request.memberships:
        if m.role == Role.CADRE and m.unit_id is not None and m.unit_id == case.unit_id:
            return True
        if m.role in (Role.SECRETARY, Role.OFFICIAL) and m.commune_code == case.commune_code:
            return True
        if m.role == Role.OFFICIAL and m.province_code and case.commune_code in _province_communes(m.province_code):
            return True
    return False


def _province_communes(province_code: str) -> set[str]:
    return {c.code for c in all_communes() if c.province_code == province_code}


async def case_status(request: Request) -> list[Reply]:
    code = request.event.args.strip().split()[0] if request.event.args.strip() else ""
    if not code:
        return [Reply(t("case.usage"))]
    case = await repo.case_by_code(request.session, code) if _CODE.match(code) else None
    # The same answer whether the case is missing or out of scope: existence is not revealed.
    if case is None or not may_see(request, case):
        return [Reply(t("case.not_found", code=code.upper()[:32]))]
    unit = await request.session.get(Unit, case.unit_id) if case.unit_id else None
    photos = await repo.photo_count(request.session, case.id)
    return [Reply(t(
        "case.detail", code=case.code, name=case.name, kind=t(f"kind.{case.kind}"),
        status=status_label(case.status),
        submitted=case.submitted_at.astimezone(request.now.tzinfo).strftime("%H:%M %d/%m/%Y"),
        unit=unit.name if unit else "—", field=case.field or "—", photos=photos,
    ))]
