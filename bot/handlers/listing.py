"""/danhsach [thôn | quý | trạng thái] — cases in the asker's scope, paged; /thongke [quý | năm] — numbers.

Scope: a cadre sees their unit's cases, a secretary or commune official their commune, a province
official every commune of the province. Text is written for a phone: short lines, no tables.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from functools import partial

from bot import casework
from bot.chart_drawing import Bar, ChartSpec
from bot.charts import ChartRenderer
from bot.handlers.deadlines import calendar
from bot.parsing import row_id
from bot.request import Request
from bot.scopes import Scope, scope_for, scopes_of
from common.events import Choice, Reply
from common.messages import t
from common.text import fold
from scheduler.calendar import period_of, quarter_label, years_around
from storage import repo, stats
from storage.communes import all_communes
from storage.models import CaseStatus, Commune, Role

log = logging.getLogger(__name__)

PAGE = 10
SILENT_NAMED = 20  # a province's communes with nothing yet: named up to this many, then counted
CHART_COMMUNES = 30  # a province's chart shows the communes furthest from the quota, at most this many
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
    return await _page(request, token, row_id(page) or 1)


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
    units = await repo.units_matching(request.session, communes, own_units, words)
    exact = [u for u in units if u.name_key == words or str(u.id) == words]  # "Thôn 1" beside "Thôn 10"
    units = exact or units
    return f"u={units[0].id}" if len(units) == 1 else None


async def _page(request: Request, token: str, page: int) -> list[Reply]:
    communes, units = await _scope(request)
    query = stats.CaseQuery(communes, units, request.person.id)
    kind, _, value = token.partition("=")
    if kind == "s":
        query = replace(query, status=value)
    elif kind == "u" and (unit_id := row_id(value)) is not None:
        query = replace(query, unit_id=unit_id)
    elif kind == "q":
        start, end = _quarter_bounds(request, value)
        query = replace(query, after=start, until=end)
    found = await stats.case_page(request.session, query, page, PAGE)
    if not found.total:
        return [Reply(t("list.empty"))]
    page, pages = found.number, found.pages
    tz = request.settings.zone
    lines = [t("list.title", total=found.total, page=page, pages=pages)]
    lines += [t("cases.line", code=c.code, name=c.name, status=casework.status_label(c.status),
                date=c.submitted_at.astimezone(tz).strftime("%d/%m/%Y")) for c in found.rows]
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
    """[tỉnh | xã] [quý | năm]: a person with a commune and a province to see is asked which, not given one."""
    words = fold(request.event.args).split()
    wanted = words.pop(0) if words and words[0] in SCOPE_WORDS else ""
    period = " ".join(words)
    if period not in ("", "quy", "nam", "quy nay", "nam nay"):
        return [Reply(t("stats.usage"))]
    scopes = scopes_of(request.memberships)
    own = [s for s in scopes if not wanted or s.is_province == (SCOPE_WORDS[wanted] == "p")]
    if not own and scopes:  # "/thongke tỉnh" from a commune's official: theirs is the commune's
        return [Reply(t("stats.scope_not_yours", scopes=", ".join(s.label() for s in scopes)))]
    if not own:
        return [Reply(t("role.not_allowed"))]
    by_year = "y" if period.startswith("nam") else "q"
    if len(own) > 1:
        return [Reply(t("export.choose_scope"), tuple(Choice(s.label(), f"tk:{s.key}:{by_year}") for s in own))]
    return await _show(request, own[0], by_year == "y")


async def stats_choice(request: Request, value: str) -> list[Reply]:
    _, key, by_year = (value.split(":") + ["", ""])[:3]
    scope = scope_for(request.memberships, key)
    if scope is None:
        return [Reply(t("export.not_found", code=key[1:]))]
    return await _show(request, scope, by_year == "y")


SCOPE_WORDS = {"tinh": "p", "xa": "c", "phuong": "c"}


async def _show(request: Request, scope: Scope, by_year: bool) -> list[Reply]:
    if scope.is_province:
        reply, chart = await _province(request, scope, by_year)
    else:
        reply, chart = await _commune(request, scope.code, by_year)
    if request.charts is not None:
        request.after_work.append(partial(_with_chart, request.charts, chart, reply, scope.key))
    return [reply]


async def _with_chart(charts: ChartRenderer, chart: ChartSpec, reply: Reply, key: str,
                      replies: list[Reply]) -> list[Reply]:
    """The reply with its chart, drawn once the unit of work has ended (in a worker process, ~0.3 s)."""
    try:
        sha = await charts.draw(chart)
    except Exception:  # the numbers still go out in words
        log.exception("could not draw the chart of %s", key)
        return replies
    return [replace(r, photos=(sha,)) if r is reply else r for r in replies]


async def _bounds(request: Request, commune: Commune | None) -> tuple[datetime, datetime, str]:
    """The current reporting period of the commune (its own deadlines), or the default calendar's."""
    rows = await repo.all_deadlines(request.session)
    dues = calendar(request).for_commune(commune.code if commune else "", commune.province_code if commune else "",
                                         years_around(request.now.date()), rows)
    start, due = period_of(request.now, dues)
    return start, due.due_at, quarter_label(due.quarter, due.due_at.year) if due.quarterly else due.title


def _year(request: Request) -> tuple[datetime, datetime]:
    start = datetime.combine(date(request.now.year, 1, 1), time(), request.settings.zone)
    return start, start.replace(year=start.year + 1)


async def _commune(request: Request, code: str, by_year: bool) -> tuple[Reply, ChartSpec]:
    commune = await request.session.get(Commune, code)
    q_start, q_end, q_label = await _bounds(request, commune)
    year_start, year_end = _year(request)
    shown = await stats.breakdown(request.session, [code], *((year_start, year_end) if by_year else (q_start, q_end)))
    progress = (await stats.progress(request.session, [code], q_start, q_end, year_start, year_end))[code]
    lines = [t("stats.title", commune=commune.name if commune else code,
               period=t("stats.year", year=request.now.year) if by_year else q_label, total=shown.total)]
    lines += _counted(t("stats.by_status"), Counter({casework.status_label(s): n for s, n in shown.by_status.items()}))
    lines += _counted(t("stats.by_unit"), Counter({name or "—": n for name, n in shown.by_unit.items()}))
    lines += _counted(t("stats.by_field"), Counter({name or "—": n for name, n in shown.by_field.items()}))
    quota = request.settings.yearly_quota
    lines.append(t("stats.quota", year=request.now.year, forwarded=progress.year_forwarded, quota=quota,
                   mark="✅" if progress.year_forwarded >= quota else "⚠️"))
    silent = sorted(progress.silent_units)
    lines.append(t("stats.silent", units=", ".join(silent) if silent else t("remind.none_silent")))
    units = await stats.unit_counts(request.session, code, year_start - timedelta(microseconds=1),
                                    year_end - timedelta(microseconds=1))
    days = (q_end.date() - request.now.date()).days
    chart = _chart(t("chart.commune.title", commune=commune.name if commune else code, year=request.now.year),
                   t("chart.commune.subtitle", period=q_label, date=f"{q_end:%d/%m/%Y}", days=days, quota=quota,
                     forwarded=progress.year_forwarded),
                   (Bar(t("chart.commune.total"), sum(u.forwarded for u in units), sum(u.other for u in units)),
                    *(Bar(u.name or "—", u.forwarded, u.other) for u in units)), quota)
    return Reply("\n".join(lines)), chart


def _counted(title: str, counts: Counter) -> list[str]:
    if not counts:
        return []
    return [title] + [f"  • {name}: {n}" for name, n in counts.most_common()]


async def _province(request: Request, scope: Scope, by_year: bool) -> tuple[Reply, ChartSpec]:
    codes = list(scope.communes)
    names = {c.code: c.name for c in all_communes() if c.province_code == scope.code}
    q_start, q_end, q_label = await _bounds(request, None)
    year_start, year_end = _year(request)
    # The quarter's own bounds: a Q1 period begins on 21/12 of the year before.
    progress = await stats.progress(request.session, codes, q_start, q_end, year_start, year_end, units=False)
    forwarded = {code: progress[code].year_forwarded for code in codes}
    sent = {code: progress[code].year_submitted if by_year else progress[code].submitted for code in codes}
    quota = request.settings.yearly_quota
    below = sum(1 for code in codes if forwarded[code] < quota)
    lines = [t("stats.province_title", period=t("stats.year", year=request.now.year) if by_year else q_label,
               communes=len(codes), below=below, quota=quota, total=sum(sent.values()))]
    ordered = sorted(codes, key=lambda code: (forwarded[code] >= quota, forwarded[code], names[code]))
    # A line for each commune with something to count; those with nothing at all, by name in one line (a province
    # has a hundred communes: a line each filled two messages with "0/2").
    silent = [code for code in ordered if not forwarded[code] and not sent[code]]
    if silent:
        listed = ", ".join(sorted((names[code] for code in silent), key=fold)[:SILENT_NAMED])
        more = len(silent) - SILENT_NAMED
        lines.append(t("stats.province_silent_more" if more > 0 else "stats.province_silent", count=len(silent),
                       communes=listed, more=more))
    lines += [t("stats.province_line", mark="⚠️" if forwarded[code] < quota else "✅", commune=names[code],
                forwarded=forwarded[code], quota=quota, sent=sent[code]) for code in ordered if code not in silent]
    shown = ([code for code in ordered if code not in silent] or ordered)[:CHART_COMMUNES]  # not rows of zeros
    chart = _chart(t("chart.province.title", province=scope.name, year=request.now.year),
                   t("chart.province.subtitle", below=below, communes=len(codes), shown=len(shown), quota=quota),
                   tuple(Bar(names[code], forwarded[code]) for code in shown), quota, below_in_red=True)
    return Reply("\n".join(lines)), chart


def _chart(title: str, subtitle: str, bars: tuple[Bar, ...], quota: int, *, below_in_red: bool = False) -> ChartSpec:
    return ChartSpec(title, subtitle, bars, quota, t("chart.quota", quota=quota), t("chart.forwarded"),
                     t("chart.other"), t("chart.x_label"), t("chart.below") if below_in_red else "")
