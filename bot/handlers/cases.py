"""/hoso (my cases) and /trangthai <code> (one case, within what the asker may see)."""

from __future__ import annotations

import logging

from bot import casework
from bot.request import Request
from common.events import Choice, Reply
from common.messages import t
from storage import repo
from storage.models import Case, Unit

log = logging.getLogger(__name__)
MY_CASES_SHOWN = 20


def local_date(request: Request, case: Case) -> str:
    return case.submitted_at.astimezone(request.now.tzinfo).strftime("%d/%m/%Y")


async def my_cases(request: Request) -> list[Reply]:
    assert request.person is not None
    cases, total = await repo.cases_by_nominator(request.session, request.person.id, MY_CASES_SHOWN)
    if not cases:
        return [Reply(t("cases.none"))]
    lines = [t("cases.title", count=total)]
    lines += [
        t("cases.line", code=c.code, name=c.name, status=casework.status_label(c.status), date=local_date(request, c))
        for c in cases
    ]
    if total > len(cases):
        lines.append(t("cases.more", more=total - len(cases)))
    return [Reply("\n".join(lines))]


async def case_status(request: Request) -> list[Reply]:
    code = request.event.args.strip().split()[0] if request.event.args.strip() else ""
    if not code:
        return [Reply(t("case.usage"))]
    case = await repo.case_by_code(request.session, code) if casework.CASE_CODE.match(code) else None
    # The same answer whether the case is missing or out of scope: existence is not revealed.
    if case is None or not casework.may_see(request.person.id, request.memberships, case):
        if case is not None:
            log.warning("refused: person %s asked for case %s outside their scope", request.person.id, case.code)
        return [Reply(t("case.not_found", code=code.upper()[:32]))]
    unit = await request.session.get(Unit, case.unit_id) if case.unit_id else None
    photos = await repo.photo_count(request.session, case.id)
    tz = request.now.tzinfo
    lines = [t("case.detail", code=case.code, name=case.name, kind=t(f"kind.{case.kind}"),
               status=casework.status_label(case.status), submitted=case.submitted_at.astimezone(tz).strftime("%H:%M %d/%m/%Y"),
               updated=case.updated_at.astimezone(tz).strftime("%H:%M %d/%m/%Y"), unit=unit.name if unit else "—",
               field=case.field or "—", photos=photos)]
    if case.reason:
        lines.append(t("review.reason_line", reason=case.reason))
    if case.commendation:
        lines.append(t("case.commendation", **case.commendation))
    # A reviewer who named a case waiting for them (a code typed at the pending list) can open it from here.
    review = (Choice(t("case.open_review"), f"rv:open:{case.id}"),) \
        if case.status in casework.REVIEWABLE and casework.reviews(request.memberships, case) else ()
    return [Reply("\n".join(lines), review)]
