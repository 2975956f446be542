"""/han (upcoming deadlines and what is missing), /themhan (a one-off deadline), /nhacnho (reminders)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from bot.handlers.linking import channel_name
from bot.request import Request
from common.events import Choice, Reply
from common.messages import t
from common.text import fold
from scheduler.calendar import Calendar, Due, period_of, years_around
from scheduler.reminders import DEADLINE, DIGEST, DRAFT, NUDGE, OVERDUE
from storage import repo, stats
from storage.models import Commune, Deadline, Membership, ReminderSetting, Role, Unit

HORIZON = timedelta(days=120)
SNOOZE = timedelta(days=7)
HOURS = (7, 8, 9, 13, 14, 17)  # offered hours, inside working hours


def calendar(request: Request) -> Calendar:
    return Calendar(request.settings.zone, request.settings.deadline_dates, request.settings.deadline_time)


async def deadlines(request: Request) -> list[Reply]:
    communes = await _communes_in_scope(request)
    if not communes:
        return [Reply(t("han.no_scope"))]
    rows = await repo.all_deadlines(request.session)
    lines: list[str] = []
    for commune in communes[:5]:
        dues = calendar(request).for_commune(commune.code, commune.province_code, years_around(request.now.date()),
                                             rows)
        lines.append(t("han.commune", commune=commune.name))
        upcoming = [d for d in dues if request.now <= d.due_at <= request.now + HORIZON]
        lines += [t("han.line", title=d.title, date=d.due_at.strftime("%d/%m/%Y"),
                    days=(d.due_at.date() - request.now.date()).days) for d in upcoming]
        lines += await _missing(request, commune, dues)
    return [Reply("\n".join(lines))]


async def _missing(request: Request, commune: Commune, dues: list[Due]) -> list[str]:
    period = period_of(request.now, dues)
    if period is None:
        return []
    year_start = datetime.combine(date(request.now.year, 1, 1), time(), request.settings.zone)
    progress = (await stats.progress(request.session, [commune.code], period[0], period[1].due_at, year_start,
                                     year_start.replace(year=year_start.year + 1)))[commune.code]
    lines = []
    for m in (m for m in request.memberships if m.commune_code == commune.code):
        if m.role == Role.CADRE:
            unit = await request.session.get(Unit, m.unit_id) if m.unit_id else None
            key = "han.unit_done" if m.unit_id in progress.active_units else "han.unit_missing"
            lines.append(t(key, unit=unit.name if unit else commune.name))
        elif m.role in (Role.SECRETARY, Role.OFFICIAL):
            silent = ", ".join(progress.silent_units) or t("remind.none_silent")
            lines += [t("remind.period", submitted=progress.submitted, pending=progress.pending,
                        returned=progress.returned),
                      t("remind.silent", units=silent),
                      t("remind.quota", year=request.now.year, forwarded=progress.year_forwarded,
                        quota=request.settings.yearly_quota)]
    if request.conversation is not None:
        lines.append(t("draft.pending_hint"))
    return list(dict.fromkeys(lines))


async def _communes_in_scope(request: Request) -> list[Commune]:
    codes = [m.commune_code for m in request.memberships if m.commune_code]
    communes = [await request.session.get(Commune, code) for code in dict.fromkeys(codes)]
    return [c for c in communes if c is not None]


# ---- /themhan 15/04/2027 Kế hoạch năm
async def add_deadline(request: Request) -> list[Reply]:
    scope = next((m for m in request.memberships if m.role in (Role.SECRETARY, Role.OFFICIAL)), None)
    if scope is None:
        return [Reply(t("han.add_not_allowed"))]
    when_text, _, title = request.event.args.strip().partition(" ")
    title = " ".join(title.split())
    if not when_text or not title:
        return [Reply(t("han.add_usage"))]
    day = _future_day(when_text, request.now.date())
    if day is None:
        return [Reply(t("han.add_bad_date"))]
    if len(title) > 200:
        return [Reply(t("invalid.text.too_long", max=200, length=len(title)))]
    due_at = calendar(request).end_of(day)
    request.session.add(Deadline(commune_code=scope.commune_code, province_code=scope.province_code,
                                 year=day.year, quarter=0, title=title, due_at=due_at,
                                 created_by=request.person.id, created_at=request.now))
    return [Reply(t("han.added", title=title, date=day.strftime("%d/%m/%Y")))]


def _future_day(text: str, today: date) -> date | None:
    """A day typed as 15/04/2027 or 15/4 (the next such day); deadlines are in the future."""
    parts = text.replace("-", "/").replace(".", "/").split("/")
    try:
        if len(parts) == 2:
            day = date(today.year, int(parts[1]), int(parts[0]))
            return day if day >= today else day.replace(year=today.year + 1)
        if len(parts) == 3:
            year = int(parts[2]) + (2000 if len(parts[2]) == 2 else 0)
            day = date(year, int(parts[1]), int(parts[0]))
            return day if day >= today else None
    except ValueError:
        return None
    return None


# ---- /nhacnho: what each role may change
def _kinds(memberships: list[Membership]) -> list[str]:
    roles = {m.role for m in memberships}
    kinds = []
    if Role.SECRETARY in roles:
        kinds.append(DEADLINE)  # hour only
    if Role.CADRE in roles:
        kinds += [NUDGE, DRAFT]
    if Role.OFFICIAL in roles:
        kinds += [OVERDUE, DIGEST]
    return kinds


def _default_on(kind: str) -> bool:
    return kind in (DEADLINE, NUDGE, DRAFT)  # officials' overdue and digest are opt-in


async def reminders(request: Request) -> list[Reply]:
    kinds = _kinds(request.memberships)
    if not kinds:
        return [Reply(t("nhacnho.nothing"))]
    words = fold(request.event.args)
    if words:
        return await _apply_typed(request, kinds, words)
    return [await _menu(request, kinds)]


async def _settings(request: Request) -> dict[str, ReminderSetting]:
    return await repo.reminder_settings(request.session, request.person.id)


async def _menu(request: Request, kinds: list[str]) -> Reply:
    settings = await _settings(request)
    lines, choices = [t("nhacnho.title")], []
    for kind in kinds:
        setting = settings.get(kind)
        on = setting.enabled if setting else _default_on(kind)
        snoozed = setting and setting.snoozed_until and setting.snoozed_until > request.now
        hour = setting.hour if setting and setting.hour is not None else request.settings.reminder_hour
        state = t("nhacnho.snoozed", until=setting.snoozed_until.astimezone(request.settings.zone)
                  .strftime("%d/%m")) if snoozed else t("nhacnho.on" if on else "nhacnho.off")
        lines.append(t("nhacnho.line", kind=t(f"nhacnho.kind.{kind}"), state=state, hour=hour))
        if kind == DEADLINE:
            continue  # a secretary cannot mute deadline reminders, only move their hour
        choices.append(Choice(t("nhacnho.turn_off" if on else "nhacnho.turn_on", kind=t(f"nhacnho.kind.{kind}")),
                              f"pref:{kind}:{'off' if on else 'on'}"))
        if on and snoozed:  # "on" clears the pause
            choices.append(Choice(t("nhacnho.resume", kind=t(f"nhacnho.kind.{kind}")), f"pref:{kind}:on"))
        elif on and kind in (NUDGE, DRAFT):
            choices.append(Choice(t("nhacnho.snooze", kind=t(f"nhacnho.kind.{kind}")), f"pref:{kind}:snooze"))
    choices += [Choice(t("nhacnho.hour", hour=h), f"pref:hour:{h}") for h in HOURS]
    channels = await _channels(request)
    if len(channels) > 1:  # linked accounts (/lienket): where what the bot sends on its own goes
        chosen = request.person.chosen_channel
        lines.append(t("nhacnho.channel", channel=channel_name(chosen) if chosen else t("nhacnho.channel_last")))
        choices += [Choice(t("nhacnho.via", channel=channel_name(c)), f"pref:channel:{c}") for c in channels]
        choices.append(Choice(t("nhacnho.via_last"), "pref:channel:last"))
    lines.append(t("nhacnho.hint"))
    return Reply("\n".join(lines), tuple(choices), columns=1)


async def _channels(request: Request) -> list[str]:
    return list(dict.fromkeys(a.channel for a in await repo.accounts_of_person(request.session, request.person.id)))


async def choose(request: Request, value: str) -> list[Reply]:
    """A pressed reminder button: pref:<kind>:on|off|snooze, or pref:hour:<h>."""
    kinds = _kinds(request.memberships)
    _, kind, action = (value.split(":") + ["", ""])[:3]
    if kind == "channel" and (action == "last" or action in await _channels(request)):
        chosen = None if action == "last" else action
        await repo.choose_channel(request.session, request.person.id, chosen)
        request.person.chosen_channel = chosen
        return [Reply(t("nhacnho.saved")), await _menu(request, kinds)]
    if kind == "hour" and action.isdigit() and int(action) in HOURS:
        for k in kinds:
            (await _setting(request, k)).hour = int(action)
        return [Reply(t("nhacnho.hour_set", hour=int(action))), await _menu(request, kinds)]
    if kind == "hour":  # typed: "/nhacnho gio 25", "gio 9h30", "gio"
        return [Reply(t("nhacnho.bad_hour", hours=", ".join(map(str, HOURS)))), await _menu(request, kinds)]
    if kind not in kinds or kind == DEADLINE or action not in ("on", "off", "snooze"):
        return [Reply(t("nhacnho.not_allowed")), await _menu(request, kinds)]
    setting = await _setting(request, kind)
    setting.enabled = action != "off"
    setting.snoozed_until = request.now + SNOOZE if action == "snooze" else None
    return [Reply(t("nhacnho.saved")), await _menu(request, kinds)]


async def _apply_typed(request: Request, kinds: list[str], words: str) -> list[Reply]:
    """/nhacnho tat | bat | tam dung | gio 9 — the same as the buttons, for channels without them."""
    mutable = [k for k in kinds if k != DEADLINE]
    # "gio 9", "gio 7h", "gio 8 gio", "gio 17:00", "9 gio", "9h": the hour as people write it
    typed_hour = re.fullmatch(r"(?:gio\s*)?(\d{1,2})\s*(?:h|gio|00)?", words)  # folded: "17:00" is "17 00"
    if typed_hour or words.startswith("gio"):
        return await choose(request, f"pref:hour:{int(typed_hour.group(1)) if typed_hour else 'x'}")
    action = {"tat": "off", "bat": "on", "tam dung": "snooze"}.get(words)
    if action is None or not mutable:
        return [Reply(t("nhacnho.usage")), await _menu(request, kinds)]
    replies: list[Reply] = []
    for kind in mutable:
        if action == "snooze" and kind not in (NUDGE, DRAFT):
            continue
        replies = await choose(request, f"pref:{kind}:{action}")
    return replies


async def _setting(request: Request, kind: str) -> ReminderSetting:
    found = (await repo.reminder_settings(request.session, request.person.id)).get(kind)
    if found is None:
        found = ReminderSetting(person_id=request.person.id, kind=kind,
                                enabled=_default_on(kind))
        request.session.add(found)
        await request.session.flush()
    return found
