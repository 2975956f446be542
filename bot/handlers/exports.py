"""/xuat [xã] [kỳ] [trạng thái] — the secretary's dossier (and an official's, for their scope), made in the
background and sent as documents (or, on a channel without documents, as signed download links; see
bot/exports.py): XLSX, photo ZIP, tờ trình, danh sách, tóm tắt, giấy khen (DOCX, PDF).

Without a period it asks (this quarter by default); a person with two scopes is asked which first.
Buttons: "xu:<scope>" asks the period for that scope, "xu:<scope>:<period>:<d|a>" starts (d: approved
and commended, a: every status but withdrawn)."""

from __future__ import annotations

import re

from bot.export.dossier import ExportSpec
from bot.export.period import (
    ALL_STATUSES,
    DEFAULT_STATUSES,
    BadPeriod,
    Selection,
    current_quarter,
    from_key,
    parse_selection,
)
from bot.export.period import year as year_period
from bot.export.rows import Visibility
from bot.exports import ExportJob
from bot.handlers.deadlines import calendar
from bot.request import Request
from bot.scopes import Scope, roles_in, scope_for, scopes_of
from common.events import Choice, Reply
from common.messages import t
from common.text import fold
from scheduler.calendar import Due
from storage import exports, repo

_CODE_FIRST = re.compile(r"^(\d{3,5})(?:\s+(.*))?$")
_STATUS_KEYS = {"d": DEFAULT_STATUSES, "a": ALL_STATUSES}


async def export_command(request: Request) -> list[Reply]:
    words = fold(request.event.args)
    own = scopes_of(request.memberships)
    scope: Scope | None = None
    if match := _CODE_FIRST.match(words):  # "/xuat 26743 quý 4": a commune by its code
        code, words = match.group(1).zfill(5), match.group(2) or ""
        scope = scope_for(request.memberships, "c" + code)
        if scope is None:
            return [Reply(t("export.not_found", code=code))]
    elif len(own) == 1:
        scope = own[0]
    if scope is None:
        if not own:
            return [Reply(t("role.not_allowed"))]
        return [await _ask_scope(request, own, words)]
    if not words:
        return [await _ask_period(request, scope)]
    dues = await _dues(request, scope)
    try:
        selection = parse_selection(words, request.now, dues)
    except BadPeriod as bad:
        return [Reply(t(bad.code))]
    return await _start(request, scope, selection)


async def export_choice(request: Request, value: str) -> list[Reply]:
    _, scope_key, period_key, statuses = (value.split(":") + ["", "", ""])[:4]
    scope = scope_for(request.memberships, scope_key)
    if scope is None:
        return [Reply(t("export.not_found", code=scope_key[1:]))]
    if not period_key:
        return [await _ask_period(request, scope)]
    if statuses not in _STATUS_KEYS:
        return [Reply(t("input.stale_button") + " " + t("export.bad_period"))]
    dues = await _dues(request, scope)
    try:
        period = from_key(period_key, request.now, dues)
    except BadPeriod as bad:
        return [Reply(t(bad.code))]
    if period.start >= request.now:
        return [Reply(t("export.future"))]
    return await _start(request, scope, Selection(period, _STATUS_KEYS[statuses]))


async def _ask_scope(request: Request, own: list[Scope], words: str) -> Reply:
    """Which of their scopes; a period typed with the command travels in the buttons."""
    then = ""
    if words:
        try:
            selection = parse_selection(words, request.now, await _dues(request, own[0]))
        except BadPeriod as bad:
            return Reply(t(bad.code))
        then = f":{selection.period.key}:{'a' if selection.statuses == ALL_STATUSES else 'd'}"
    return Reply(t("export.choose_scope"), tuple(Choice(s.label(), f"xu:{s.key}{then}") for s in own))


async def _ask_period(request: Request, scope: Scope) -> Reply:
    dues = await _dues(request, scope)
    this = current_quarter(request.now, dues)
    previous = current_quarter(this.start, dues)
    whole = year_period(request.now.year, request.now.tzinfo)
    choices = (Choice(t("export.this_quarter", period=this.label), f"xu:{scope.key}:{this.key}:d"),
               Choice(t("export.last_quarter", period=previous.label), f"xu:{scope.key}:{previous.key}:d"),
               Choice(t("export.this_year", year=request.now.year), f"xu:{scope.key}:{whole.key}:d"),
               Choice(t("export.all_statuses"), f"xu:{scope.key}:{this.key}:a"))
    return Reply(t("export.ask", scope=scope.name), choices)


async def _dues(request: Request, scope: Scope):
    """The scope's deadlines in some years: a commune's own (moved by it or its province), else the default."""
    rows = await repo.all_deadlines(request.session)
    commune = "" if scope.is_province else scope.code
    province = scope.code if scope.is_province else ""

    def dues_for(years) -> list[Due]:
        return calendar(request).for_commune(commune, province, years, rows)

    return dues_for


async def _start(request: Request, scope: Scope, selection: Selection) -> list[Reply]:
    runner, event = request.exports, request.event
    if runner is None:
        return [Reply(t("export.no_channel"))]
    if runner.busy(request.person.id):
        return [Reply(t("export.running"))]
    visible = Visibility.for_roles(roles_in(request.memberships, scope))
    spec = ExportSpec(scope, selection, visible, runner.part_limit(event.channel), runner.job_folder(),
                      request.settings.templates_dir)
    total = await exports.count(request.session, spec.query())
    if not total:
        statuses = ", ".join(t(f"status.{s}") for s in selection.statuses)
        return [Reply(t("export.empty", statuses=statuses, scope=scope.name, period=selection.period.label))]
    if not runner.can_deliver(event.channel):
        return [Reply(t("export.no_channel"))]
    runner.start(ExportJob(request.person.id, event.channel, event.chat_id, spec, total))
    return []
