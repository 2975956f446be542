"""/danhsach [thôn | quý | trạng thái] — cases in the asker's scope, paged; /thongke [quý | năm] — numbers.

Scope: a cadre sees their unit's cases, a secretary or commune official their commune, a province
official every commune of the province. Text is written for a phone: short lines, no tables.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, time

from sqlalchemy import func, or_
from sqlmodel import select

from bot import casework
from bot.handlers.deadlines import calendar
from bot.request import Request
from common.events import Choice, Reply
from common.messages import t
from common.text import fold
from scheduler.calendar import period_of, quarter_label, years_around
from storage.communes import all_communes
from storage.models import Case, CaseStatus, Commune, Deadline, Role, Unit

PAGE = 10
STATUS_WORDS = {fold(t(f"status.{s.value}")): s.value for s in CaseStatus} | {
    "cho duyet": "pending", "tra lai": CaseStatus.RETURNED, "bi tra lai": CaseStatus.RETURNED,
    "duyet": CaseStatus.APPROVED, "tu choi": CaseStatus.REJECTED, "khen thuong": CaseStatus.COMMENDED}
QUARTER = re.compile(r"^(?:quy|q)\s*([1-4])(?:\s*/?\s*(\d{4}))?$")


# ---- scope
async def _scope(request: Request) -> tuple[list[str], list[int]]:
    """(communes, units) the asker may list: whole communes, or only some units."""
    communes: list[str] = []
    units: list[int] = []
    for m in request.memberships:
        if m.role in (Role.SECRETARY, Role.OFFICIAL) and m.commune_code:
            communes.append(m.commune_code)
        elif m.role == Role.OFFICIAL and m.province_code:
            communes += sorted(casework.province_communes(m.province_code))
        elif m.role == Role.CADRE and m.unit_id:
            units.append(m.unit_id)
    return list(dict.fromkeys(communes)), units


def _in_scope(communes: list[str], units: list[int], person_id: int):
    return or_(Case.commune_code.in_(communes), Case.unit_id.in_(units), Case.nominator_id == person_id)


# ---- /danhsach
async def case_list(request: Request) -> list[Reply]:
    token = await _filter_token(request, request.event.args)
    if token is None:
        return [Reply(t("list.bad_filter"))]
    return await _page(request, token, 1)


async def page_choice(request: Request, value: str) -> list[Reply]:
    _, page, token = (value.split(":", 2) + ["", ""])[:3]
    if not re.fullmatch(r"(|s=[a-z]+|u=\d+|q=\d{4}-[1-4])", token):  # an old or forged button
        return [Reply(t("input.stale_button") + " " + t("list.bad_filter"))]
    return await _page(request, token, int(page) if page.isdigit() else 1)


async def _filter_token(request: Request, args: str) -> str | None:
    """A short, button-safe form of the filter: s=<status>, q=<year>-<quarter>, u=<unit id>, or ""."""
    words = fold(args)
    if not words:
        return ""
    if words in STATUS_WORDS:
        return f"s={STATUS_WORDS[words]}"
    if words in ("quy nay", "ky nay"):
        dues = calendar(request).for_commune("", "", years_around(request.now.date()), [])
        return f"q={period_of(request.now, dues)[1].key[1:]}"
    if match := QUARTER.match(words):
        return f"q={match.group(2) or request.now.year}-{match.group(1)}"
    communes, own_units = await _scope(request)
    if words.startswith("#") or words.isdigit():  # the unit's number from /donvi
        words = words.lstrip("#")
    units = (await request.session.exec(select(Unit).where(
        or_(Unit.commune_code.in_(communes or [""]), Unit.id.in_(own_units or [0])),
        or_(Unit.name_key.contains(words), Unit.id == (int(words) if words.isdigit() else -1))))).all()
    exact = [u for u in units if u.name_key == words or str(u.id) == words]  # "Thôn 1" beside "Thôn 10"
    units = exact or units
    return f"u={units[0].id}" if len(units) == 1 else None


async def _page(request: Request, token: str, page: int) -> list[Reply]:
    communes, units = await _scope(request)
    where = [_in_scope(communes, units, request.person.id)]
    kind, _, value = token.partition("=")
    if kind == "s":
        where.append(Case.status.in_(casework.REVIEWABLE) if value == "pending" else Case.status == value)
    elif kind == "u" and value.isdigit():
        where.append(Case.unit_id == int(value))
    elif kind == "q":
        start, end = _quarter_bounds(request, value)
        where += [Case.submitted_at > start, Case.submitted_at <= end]
    total = int(await request.session.scalar(select(func.count()).select_from(Case).where(*where)) or 0)
    if not total:
        return [Reply(t("list.empty"))]
    pages = (total + PAGE - 1) // PAGE
    page = min(max(page, 1), pages)
    rows = (await request.session.exec(select(Case).where(*where).order_by(Case.submitted_at.desc(), Case.id.desc())
                                       .offset((page - 1) * PAGE).limit(PAGE))).all()
    tz = request.settings.zone
    lines = [t("list.title", total=total, page=page, pages=pages)]
    lines += [t("cases.line", code=c.code, name=c.name, status=casework.status_label(c.status),
                date=c.submitted_at.astimezone(tz).strftime("%d/%m/%Y")) for c in rows]
    choices = []
    if page > 1:
        choices.append(Choice(t("page.previous"), f"ls:{page - 1}:{token}"))
    if page < pages:
        choices.append(Choice(t("page.next"), f"ls:{page + 1}:{token}"))
    return [Reply("\n".join(lines), tuple(choices), columns=2)]


def _quarter_bounds(request: Request, value: str) -> tuple[datetime, datetime]:
    year, _, quarter = value.partition("-")
    cal = calendar(request)
    due = cal.quarterly(int(year), int(quarter))
    previous = cal.quarterly(int(year) - 1, 4) if quarter == "1" else cal.quarterly(int(year), int(quarter) - 1)
    return previous.due_at, due.due_at


# ---- /thongke
async def statistics(request: Request) -> list[Reply]:
    words = fold(request.event.args)
    if words not in ("", "quy", "nam", "quy nay", "nam nay"):
        return [Reply(t("stats.usage"))]
    by_year = words.startswith("nam")
    province_codes = [m.province_code for m in request.memberships if m.role == Role.OFFICIAL and m.province_code]
    if province_codes:
        return await _province(request, province_codes[0], by_year)
    communes = [m.commune_code for m in request.memberships
                if m.role in (Role.SECRETARY, Role.OFFICIAL) and m.commune_code]
    if not communes:
        return [Reply(t("role.not_allowed"))]
    return [await _commune(request, code, by_year) for code in dict.fromkeys(communes)]


async def _bounds(request: Request, commune: Commune | None) -> tuple[datetime, datetime, str]:
    """The current reporting period of the commune (its own deadlines), or the default calendar's."""
    rows = list((await request.session.exec(select(Deadline))).all())
    dues = calendar(request).for_commune(commune.code if commune else "", commune.province_code if commune else "",
                                         years_around(request.now.date()), rows)
    start, due = period_of(request.now, dues)
    return start, due.due_at, quarter_label(due.quarter, due.due_at.year) if due.quarterly else due.title


async def _cases(request: Request, communes: list[str], start: datetime, end: datetime) -> list[Case]:
    return list((await request.session.exec(select(Case).where(
        Case.commune_code.in_(communes), Case.submitted_at > start, Case.submitted_at <= end,
        Case.status != CaseStatus.WITHDRAWN))).all())


async def _commune(request: Request, code: str, by_year: bool) -> Reply:
    commune = await request.session.get(Commune, code)
    q_start, q_end, q_label = await _bounds(request, commune)
    year_start = datetime.combine(date(request.now.year, 1, 1), time(), request.settings.zone)
    year_end = year_start.replace(year=year_start.year + 1)
    quarter = await _cases(request, [code], q_start, q_end)
    year = await _cases(request, [code], year_start, year_end)
    shown = year if by_year else quarter
    units = {u.id: u for u in (await request.session.exec(select(Unit).where(Unit.commune_code == code))).all()}
    forwarded = sum(1 for c in year if c.status in (CaseStatus.APPROVED, CaseStatus.COMMENDED))
    lines = [t("stats.title", commune=commune.name if commune else code,
               period=t("stats.year", year=request.now.year) if by_year else q_label, total=len(shown))]
    lines += _counted(t("stats.by_status"), Counter(casework.status_label(c.status) for c in shown))
    lines += _counted(t("stats.by_unit"), Counter(units[c.unit_id].name if c.unit_id in units else "—"
                                                  for c in shown))
    lines += _counted(t("stats.by_field"), Counter(c.field or "—" for c in shown))
    lines.append(t("stats.quota", year=request.now.year, forwarded=forwarded, quota=request.settings.yearly_quota,
                   mark="✅" if forwarded >= request.settings.yearly_quota else "⚠️"))
    active = {c.unit_id for c in quarter}
    silent = sorted(u.name for u in units.values() if u.retired_at is None and u.id not in active)
    lines.append(t("stats.silent", units=", ".join(silent) if silent else t("remind.none_silent")))
    return Reply("\n".join(lines))


def _counted(title: str, counts: Counter) -> list[str]:
    if not counts:
        return []
    return [title] + [f"  • {name}: {n}" for name, n in counts.most_common()]


async def _province(request: Request, province_code: str, by_year: bool) -> list[Reply]:
    codes = sorted(casework.province_communes(province_code))
    names = {c.code: c.name for c in all_communes() if c.province_code == province_code}
    q_start, q_end, q_label = await _bounds(request, None)
    year_start = datetime.combine(date(request.now.year, 1, 1), time(), request.settings.zone)
    year = await _cases(request, codes, year_start, year_start.replace(year=year_start.year + 1))
    # The quarter's own bounds: a Q1 period begins on 21/12 of the year before.
    quarter = year if by_year else await _cases(request, codes, q_start, q_end)
    forwarded = Counter(c.commune_code for c in year if c.status in (CaseStatus.APPROVED, CaseStatus.COMMENDED))
    sent = Counter(c.commune_code for c in quarter)
    quota = request.settings.yearly_quota
    below = sum(1 for code in codes if forwarded[code] < quota)
    lines = [t("stats.province_title", period=t("stats.year", year=request.now.year) if by_year else q_label,
               communes=len(codes), below=below, quota=quota, total=len(quarter))]
    ordered = sorted(codes, key=lambda code: (forwarded[code] >= quota, forwarded[code], names[code]))
    lines += [t("stats.province_line", mark="⚠️" if forwarded[code] < quota else "✅", commune=names[code],
                forwarded=forwarded[code], quota=quota, sent=sent[code]) for code in ordered]
    return [Reply("\n".join(lines))]
