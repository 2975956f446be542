"""Who gets which reminder, and when: planned into the outbox, each under a key that makes planning
it twice harmless.

At each offset before a deadline (default 14, 7, 3, 1 days and the morning of the day), at the person's
hour (default 08:00; never in quiet hours):
- a secretary: days left, the period's cases by status, the units with nothing yet, the year's quota;
- a cadre whose unit has sent nothing this period: a nudge with one tap to nominate; a cadre with a
  draft: one tap to continue it; nothing for a cadre whose unit is done;
- after a quarterly deadline with nothing sent up: an overdue notice to the secretaries (and to the
  commune's officials who opted in);
- officials who opted in: a weekly digest, on Monday.
A planner that was not running at the planned hour plans, when it is back, only the latest offset
that is due (not every one it missed), and nothing for a deadline already passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.clock import Clock
from common.events import Choice, Reply, reply_from_json
from common.messages import t
from common.settings import Settings
from scheduler.calendar import Calendar, Due, period_of, years_around
from scheduler.outbox import Message
from storage import repo, stats
from storage.models import (
    Account,
    Commune,
    Conversation,
    Deadline,
    Membership,
    Person,
    ReminderSetting,
    Role,
    Unit,
)

# Kinds of reminder, and who may switch them off: a secretary cannot mute DEADLINE, only move its hour.
DEADLINE, NUDGE, DRAFT, OVERDUE, DIGEST = "deadline", "nudge", "draft", "overdue", "digest"
MUTABLE = {NUDGE, DRAFT, OVERDUE, DIGEST}
KINDS = (DEADLINE, NUDGE, DRAFT, OVERDUE, DIGEST)
DRAFT_QUIET = timedelta(minutes=30)  # a draft answered this recently is being worked on: no reminder of it
OPT_IN = {DIGEST}  # officials receive these only when they ask (and OVERDUE, for officials)
OVERDUE_WINDOW = timedelta(days=7)


@dataclass
class Member:
    person_id: int
    name: str
    role: str
    channel: str
    chat_id: str
    unit_id: int | None
    unit_name: str = ""


@dataclass
class CommuneView:
    code: str
    name: str
    province_code: str
    members: list[Member] = field(default_factory=list)


@dataclass
class World:
    """Everything planning needs, read in a handful of queries."""

    communes: dict[str, CommuneView]
    deadlines: list[Deadline]  # of these communes and their provinces, in the years planned
    drafts: dict[int, str]  # person id → the draft's name so far
    settings: dict[tuple[int, str], ReminderSetting]
    province_officials: dict[str, list[Member]]
    _by_place: dict[str | None, list[Deadline]] = field(default_factory=dict)

    def deadlines_of(self, commune: CommuneView) -> list[Deadline]:
        """The rows that may concern this commune: its own and its province's (Calendar.for_commune picks)."""
        if not self._by_place and self.deadlines:
            for row in self.deadlines:
                self._by_place.setdefault(row.commune_code or f"p{row.province_code}", []).append(row)
        return self._by_place.get(commune.code, []) + self._by_place.get(f"p{commune.province_code}", [])


@dataclass
class Scope:
    """What planning some communes gave: the messages (made as they are read, a commune at a time, so that
    what is planned can be written while the rest is planned), and the next moment each commune (and each
    province's officials) should be planned again if nothing changes."""

    messages: Iterator[Message]
    communes: dict[str, datetime]
    provinces: dict[str, datetime]
    province_of: dict[str, str]


class ReminderPlanner:
    def __init__(self, settings: Settings) -> None:
        self.zone: tzinfo = settings.zone
        self.calendar = Calendar(settings.zone, settings.deadline_dates, settings.deadline_time)
        self.offsets = sorted({int(x) for x in settings.reminder_offsets.split(",")}, reverse=True)
        self.hour = settings.reminder_hour
        quiet_from, quiet_to = (int(x) for x in settings.quiet_hours.split("-"))
        self.quiet = (quiet_from, quiet_to)
        self.quota = settings.yearly_quota
        self._moments: dict[tuple[date, int], datetime] = {}  # _at's answers: thousands of communes ask the same
        self._quiet_moves: dict[datetime, datetime] = {}
        # Progress already counted, by its bounds and commune (None: counted, nothing there), for a planner that
        # is told what changed (scheduler/incremental.py: `forget`); None: counted afresh at each plan.
        self.known_progress: dict[tuple[datetime, ...], dict[str, stats.Progress | None]] | None = None
        self.known_people: KnownPeople | None = None  # likewise the people's rows, for planning everything

    def keep_what_is_read(self) -> None:
        """Keep the progress counted and the people read, until `forget` names what changed (scheduler/
        incremental.py, from the change log); everything is read afresh once first."""
        self.known_progress = {}
        self.known_people = KnownPeople()

    def forget(self, communes: Collection[str], provinces: Collection[str]) -> None:
        """These communes' cases, units or people, and these provinces' officials, may have changed."""
        for known in (self.known_progress or {}).values():
            for code in communes:
                known.pop(code, None)
        if self.known_people is not None:
            self.known_people.forget(communes, provinces)

    # ---- entry point
    async def plan(self, session: AsyncSession, now: datetime) -> list[Message]:
        """The reminders due at `now` (the caller enqueues them; the outbox drops those already planned)."""
        return list((await self.plan_scope(session, now)).messages)

    async def plan_scope(self, session: AsyncSession, now: datetime, communes: Collection[str] | None = None,
                         provinces: Collection[str] | None = None) -> Scope:
        """Plan every commune (None), or only these communes and the digests of these provinces' officials;
        with, for each, the next moment at which its plan may change if nothing else does (scheduler/
        incremental.py re-plans it then)."""
        world = await load_world(session, years_around(now.date()), communes, provinces, known=self.known_people)
        periods: dict[str, tuple[datetime, Due, list[Due]]] = {}
        dues_of: dict[str, list[Due]] = {}
        for commune in world.communes.values():
            dues = self.calendar.for_commune(commune.code, commune.province_code, years_around(now.date()),
                                             world.deadlines_of(commune))
            dues_of[commune.code] = dues
            current = period_of(now, dues)
            if current:
                periods[commune.code] = (current[0], current[1], dues)
        progress = await self._progress(session, {c: (p[0], p[1].due_at) for c, p in periods.items()}, now)
        overdue = self._overdue_periods(periods, now)
        sent_up = await self._progress(session, {c: bounds for c, (bounds, _) in overdue.items()}, now)

        def messages() -> Iterator[Message]:
            for code, (_, _, dues) in periods.items():
                commune = world.communes[code]
                yield from self._before_deadlines(commune, dues, now, world, progress)
                if code in overdue and not sent_up[code].forwarded:
                    yield from self._overdue(commune, overdue[code][1], now, world)
            yield from self._digests(world, progress, now)

        nexts = {code: self._next_moment(commune.members, dues_of[code], now, world)
                 for code, commune in world.communes.items() if commune.members}
        province_nexts = {province: self._next_moment(members, [], now, world)
                          for province, members in world.province_officials.items()}
        return Scope(messages(), nexts, province_nexts,
                     {code: c.province_code for code, c in world.communes.items() if c.members})

    def _next_moment(self, members: list[Member], dues: list[Due], now: datetime, world: World) -> datetime:
        """The first moment after `now` at which these members' plan may differ with nothing changed in the
        database: an offset's hour (at every hour someone here chose), the day after a deadline (overdue
        notices), a snooze running out, a Monday's digest for those who asked, a new year. Generous: a moment
        too many costs a re-plan, one too few a missed reminder (tests/test_reminders_incremental.py checks
        a quarter hour by hour against planning everything)."""
        hours = {self.hour}
        best = self._at(date(now.year + 1, 1, 1), 0)

        def consider(*moments: datetime) -> None:
            nonlocal best
            best = min([best, *(m for m in moments if m > now)])

        digests = False  # someone here may get the weekly digest
        for member in members:
            digests |= member.role == Role.OFFICIAL and (member.person_id, DIGEST) in world.settings
            for kind in KINDS:
                setting = world.settings.get((member.person_id, kind))
                if setting is not None:
                    if setting.hour is not None:
                        hours.add(setting.hour)
                    if setting.snoozed_until is not None:
                        consider(setting.snoozed_until)
        if digests:
            monday = now.date() - timedelta(days=now.weekday())
            consider(*(self._at(monday + timedelta(days=7 * week), hour) for week in (0, 1) for hour in hours))
        horizon = timedelta(days=max(self.offsets) + 1)
        for due in dues:  # sorted by due_at; nothing of a deadline is planned before due_at - horizon
            if due.due_at + OVERDUE_WINDOW + timedelta(days=1) < now:
                continue
            if due.due_at - horizon > best:
                break
            day = due.due_at.date()  # (its passing itself makes nothing new due: its overdue notices wait a day)
            for hour in hours:
                consider(*(self._at(day - timedelta(days=offset), hour) for offset in self.offsets),
                         self._at(day + timedelta(days=1), hour))
        return best

    # ---- before a deadline
    def _before_deadlines(self, commune: CommuneView, dues: list[Due], now: datetime, world: World,
                          progress: dict[str, stats.Progress]) -> list[Message]:
        messages = []
        horizon = now + timedelta(days=max(self.offsets) + 1)
        for due in (d for d in dues if now <= d.due_at <= horizon):
            by_hour: dict[int, tuple[int | None, datetime]] = {}  # (offset, when it goes); most keep the default hour
            replies: dict[tuple, Reply] = {}  # one reply per text: a commune's cadres of one village share theirs
            when = _day(due.due_at)
            for member in commune.members:
                hour = self._hour(world, member, DEADLINE if member.role == Role.SECRETARY else NUDGE)
                if hour not in by_hour:
                    offset, planned = self._latest_offset(due, now, hour)
                    by_hour[hour] = (offset, self._outside_quiet(max(planned, now)))
                offset, send_at = by_hour[hour]
                if offset is None:
                    continue
                message = self._for_member(member, commune, due, when, offset, send_at, now, world,
                                           progress.get(commune.code), replies)
                if message is not None:
                    messages.append(message)
        return messages

    def _for_member(self, member: Member, commune: CommuneView, due: Due, when: str, offset: int,
                    send_at: datetime, now: datetime, world: World, progress: stats.Progress | None,
                    replies: dict[tuple, Reply]) -> Message | None:
        days = (due.due_at.date() - now.date()).days
        if member.role == Role.SECRETARY:
            reply = replies.get(("secretary",))
            if reply is None:
                text = self._secretary_text(commune, due, days, when, progress)
                choices = (Choice(t("remind.open_pending"), "cmd:choduyet"),) if due.quarterly else ()
                reply = replies[("secretary",)] = Reply(text, choices)
            return self._message(member, DEADLINE, due, offset, reply, send_at)
        if member.role != Role.CADRE or not due.quarterly:
            return None
        if member.person_id in world.drafts and self._wants(world, member, DRAFT, now):
            name = world.drafts[member.person_id] or "—"
            reply = replies.get(("draft", name))
            if reply is None:
                text = t("remind.draft", name=name, days=days, title=due.title, date=when)
                reply = replies[("draft", name)] = Reply(text, (Choice(t("draft.continue"), "draft:continue"),))
            return self._message(member, DRAFT, due, offset, reply, send_at,
                                 extra={"person": member.person_id})  # for current_draft
        unit_done = progress is not None and member.unit_id in progress.active_units
        if unit_done or not self._wants(world, member, NUDGE, now):
            return None
        unit = member.unit_name or commune.name
        reply = replies.get(("nudge", unit))
        if reply is None:
            text = t("remind.nudge", days=days, title=due.title, date=when, unit=unit)
            reply = replies[("nudge", unit)] = Reply(text, (Choice(t("menu.nominate"), "cmd:decu"),))
        return self._message(member, NUDGE, due, offset, reply, send_at)

    def _secretary_text(self, commune: CommuneView, due: Due, days: int, when: str,
                        progress: stats.Progress | None) -> str:
        head = t("remind.today", title=due.title, date=when) if days == 0 else \
            t("remind.days_left", days=days, title=due.title, date=when)
        if not due.quarterly:
            return head
        p = progress or stats.Progress()
        silent = ", ".join(p.silent_units) if p.silent_units else t("remind.none_silent")
        return "\n".join([
            head,
            t("remind.period", submitted=p.submitted, pending=p.pending, returned=p.returned),
            t("remind.silent", units=silent),
            t("remind.quota", year=due.due_at.year, forwarded=p.year_forwarded, quota=self.quota),
        ])

    # ---- after a deadline
    def _overdue_periods(self, periods: dict[str, tuple[datetime, Due, list[Due]]],
                         now: datetime) -> dict[str, tuple[tuple[datetime, datetime], Due]]:
        """For each commune, the quarterly deadline passed within the last week, with its period."""
        found = {}
        for code, (_, _, dues) in periods.items():
            for due in (d for d in dues if d.quarterly and d.due_at < now <= d.due_at + OVERDUE_WINDOW):
                period = period_of(due.due_at, dues)
                if period is not None:
                    found[code] = ((period[0], due.due_at), due)
        return found

    def _overdue(self, commune: CommuneView, due: Due, now: datetime, world: World) -> list[Message]:
        messages = []
        text = t("remind.overdue", title=due.title, date=_day(due.due_at), commune=commune.name)
        for member in commune.members:
            if member.role not in (Role.SECRETARY, Role.OFFICIAL):
                continue
            if member.role == Role.OFFICIAL and not self._opted_in(world, member, OVERDUE, now):
                continue
            planned = self._at(due.due_at.date() + timedelta(days=1), self._hour(world, member, OVERDUE))
            if now >= planned:
                messages.append(self._message(member, OVERDUE, due, -1, Reply(text),
                                              self._outside_quiet(max(planned, now)),
                                              stale_at=due.due_at + OVERDUE_WINDOW))
        return messages

    # ---- weekly digest for officials who asked for it
    def _digests(self, world: World, progress: dict[str, stats.Progress], now: datetime) -> list[Message]:
        monday = now.date() - timedelta(days=now.weekday())
        messages = []
        officials = [(m, [c]) for c in world.communes.values() for m in c.members if m.role == Role.OFFICIAL]
        officials += [(m, [c for c in world.communes.values() if c.province_code == province])
                      for province, members in world.province_officials.items() for m in members]
        for member, communes in officials:
            planned = self._at(monday, self._hour(world, member, DIGEST))
            if now < planned or not self._opted_in(world, member, DIGEST, now):
                continue
            lines = [t("remind.digest_title", week=_day(planned))]
            for commune in sorted(communes, key=lambda c: (progress.get(c.code, stats.Progress()).year_forwarded,
                                                           c.name))[:30]:
                p = progress.get(commune.code, stats.Progress())
                lines.append(t("remind.digest_line", commune=commune.name, submitted=p.submitted,
                               pending=p.pending, forwarded=p.year_forwarded, quota=self.quota))
            key = f"{DIGEST}:{member.person_id}:{monday.isoformat()}"
            messages.append(Message(key, member.person_id, member.channel, member.chat_id, DIGEST,
                                    Reply("\n".join(lines)), self._outside_quiet(max(planned, now)),
                                    planned + timedelta(days=1)))
        return messages

    # ---- helpers
    def _latest_offset(self, due: Due, now: datetime, hour: int) -> tuple[int | None, datetime]:
        """The latest offset whose hour has come; earlier ones missed while down are not sent late."""
        for offset in sorted(self.offsets):
            planned = self._at(due.due_at.date() - timedelta(days=offset), hour)
            if planned <= now:
                return offset, planned
        return None, now

    def _message(self, member: Member, kind: str, due: Due, offset: int, reply: Reply, send_at: datetime,
                 stale_at: datetime | None = None, extra: dict[str, Any] | None = None) -> Message:
        key = f"{kind}:{member.person_id}:{due.key}:{offset}"
        return Message(key, member.person_id, member.channel, member.chat_id, kind, reply, send_at,
                       stale_at or due.due_at, extra)

    def _at(self, day: date, hour: int) -> datetime:
        moment = self._moments.get((day, hour))
        if moment is None:
            if len(self._moments) > 10_000:
                self._moments.clear()
            moment = self._moments[day, hour] = datetime.combine(day, time(hour), self.zone)
        return moment

    def _outside_quiet(self, moment: datetime) -> datetime:
        """Move a moment in quiet hours (default 21:00–07:00) to the end of them."""
        moved = self._quiet_moves.get(moment)
        if moved is None:
            if len(self._quiet_moves) > 10_000:
                self._quiet_moves.clear()
            moved = self._quiet_moves[moment] = self._move_outside_quiet(moment)
        return moved

    def _move_outside_quiet(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.zone)
        start, end = self.quiet
        if local.hour >= start:
            return self._at(local.date() + timedelta(days=1), end)
        if local.hour < end:
            return self._at(local.date(), end)
        return moment

    def _hour(self, world: World, member: Member, kind: str) -> int:
        setting = world.settings.get((member.person_id, kind))
        return setting.hour if setting and setting.hour is not None else self.hour

    def _wants(self, world: World, member: Member, kind: str, now: datetime) -> bool:
        setting = world.settings.get((member.person_id, kind))
        if setting is None:
            return kind not in OPT_IN
        return setting.enabled and (setting.snoozed_until is None or setting.snoozed_until <= now)

    def _opted_in(self, world: World, member: Member, kind: str, now: datetime) -> bool:
        setting = world.settings.get((member.person_id, kind))
        return setting is not None and self._wants(world, member, kind, now)

    async def _progress(self, session: AsyncSession, periods: dict[str, tuple[datetime, datetime]],
                        now: datetime) -> dict[str, stats.Progress]:
        """Progress of each commune in its period: one set of queries per distinct period, not per commune."""
        groups: dict[tuple[datetime, datetime], list[str]] = defaultdict(list)
        for code, bounds in periods.items():
            groups[bounds].append(code)
        result: dict[str, stats.Progress] = defaultdict(stats.Progress)
        year_start = self._at(date(now.year, 1, 1), 0)
        year_end = self._at(date(now.year + 1, 1, 1), 0)
        for (start, end), codes in groups.items():
            if self.known_progress is None:
                result.update(await stats.progress(session, codes, start, end, year_start, year_end))
                continue
            for bounds in [b for b in self.known_progress if b[2] != year_start]:  # a year past: not asked again
                del self.known_progress[bounds]
            known = self.known_progress.setdefault((start, end, year_start, year_end), {})
            if missing := [code for code in codes if code not in known]:
                counted = await stats.progress(session, missing, start, end, year_start, year_end)
                known.update({code: counted.get(code) for code in missing})
            result.update({code: known[code] for code in codes if known[code] is not None})
        return result


async def load_world(session: AsyncSession, years: Collection[int] | None = None,
                     only: Collection[str] | None = None, provinces: Collection[str] | None = None, *,
                     known: KnownPeople | None = None) -> World:
    """Only the columns planning needs: loading 10,000 full rows as objects took most of a second.

    Everything (`only` None), or the communes `only` with their members, and the communes of `provinces` with
    those provinces' officials (for their digests). Deadlines only of `years` (None: every year). `known`:
    the people's rows kept from the last time everything was read, of which only what changed is read again."""
    people = (select(Membership.person_id, Membership.role, Membership.commune_code, Membership.province_code,
                     Membership.unit_id, Account.channel, Account.chat_id, Person.name, Unit.name)
              .join(Account, Account.person_id == Membership.person_id)
              .join(Person, Person.id == Membership.person_id)
              .outerjoin(Unit, Unit.id == Membership.unit_id)
              .where(Membership.revoked_at.is_(None), Account.unreachable_at.is_(None),
                     Unit.retired_at.is_(None))  # no retired units (and none for those without a unit)
              .order_by(Membership.id, *repo.PREFERRED_FIRST))  # the first account of each: where they are
    everything = only is None
    only, provinces = set(only or ()), set(provinces or ())
    if everything:
        rows = await known.rows(session, people) if known is not None else (await session.exec(people)).all()
        communes = {code: CommuneView(code, name, province) for code, name, province in (await session.exec(
            select(Commune.code, Commune.name, Commune.province_code))).all()}
    else:
        rows = []
        for chunk in _chunks(sorted(only)):
            rows += (await session.exec(people.where(Membership.commune_code.in_(chunk)))).all()
        for chunk in _chunks(sorted(provinces)):
            rows += (await session.exec(people.where(Membership.commune_code.is_(None), Membership.role == Role.OFFICIAL,
                                                     Membership.province_code.in_(chunk)))).all()
        communes = {}
        for chunk in _chunks(sorted(only)):
            communes.update({code: CommuneView(code, name, province) for code, name, province in (await session.exec(
                select(Commune.code, Commune.name, Commune.province_code).where(Commune.code.in_(chunk)))).all()})
        for chunk in _chunks(sorted(provinces)):
            communes.update({code: CommuneView(code, name, province) for code, name, province in (await session.exec(
                select(Commune.code, Commune.name, Commune.province_code)
                .where(Commune.province_code.in_(chunk)))).all() if code not in communes})
    seen: set[tuple[int, str, str | None, int | None]] = set()
    province_officials: dict[str, list[Member]] = defaultdict(list)
    for person_id, role, commune_code, province_code, unit_id, channel, chat_id, name, unit_name in rows:
        identity = (person_id, role, commune_code or province_code, unit_id)
        if identity in seen:  # one account per person and role
            continue
        seen.add(identity)
        member = Member(person_id, name, role, channel, chat_id, unit_id, unit_name or "")
        if commune_code in communes and (everything or commune_code in only):
            communes[commune_code].members.append(member)
        elif role == Role.OFFICIAL and province_code and commune_code is None:
            province_officials[province_code].append(member)
    drafts_query = select(Conversation.person_id, Conversation.state)
    settings_query = select(ReminderSetting)
    deadlines_query = select(Deadline) if years is None else select(Deadline).where(Deadline.year.in_(list(years)))
    if everything:
        drafts = _drafts((await session.exec(drafts_query)).all())
        settings = {(s.person_id, s.kind): s for s in (await session.exec(settings_query)).all()}
        deadlines = list((await session.exec(deadlines_query)).all())
    else:
        drafts, settings, deadlines = {}, {}, []
        for chunk in _chunks(sorted({person_id for person_id, *_ in rows})):
            drafts.update(_drafts((await session.exec(drafts_query.where(Conversation.person_id.in_(chunk)))).all()))
            settings.update({(s.person_id, s.kind): s for s in (await session.exec(
                settings_query.where(ReminderSetting.person_id.in_(chunk)))).all()})
        places = sorted(communes)
        for chunk in _chunks(places):
            deadlines += (await session.exec(deadlines_query.where(Deadline.commune_code.in_(chunk)))).all()
        for chunk in _chunks(sorted({c.province_code for c in communes.values()})):
            deadlines += (await session.exec(deadlines_query.where(Deadline.commune_code.is_(None),
                                                                   Deadline.province_code.in_(chunk)))).all()
    active = {code: c for code, c in communes.items() if c.members or c.province_code in province_officials}
    return World(active, deadlines, drafts, settings, province_officials)


class KnownPeople:
    """The people query's rows of the last time everything was read (at national size 80,000 rows, as long to
    read as every commune's progress), by commune, and the province officials' by province; a commune or
    province the change log named is read again at the next read of everything. Within a commune (a province)
    the rows keep the query's order, which picks each person's account."""

    def __init__(self) -> None:
        self.by_commune: dict[str, list[Any]] | None = None  # None: never read
        self.by_province: dict[str, list[Any]] = {}
        self.stale_communes: set[str] = set()
        self.stale_provinces: set[str] = set()

    def forget(self, communes: Collection[str], provinces: Collection[str]) -> None:
        self.stale_communes.update(communes)
        self.stale_provinces.update(provinces)

    async def rows(self, session: AsyncSession, people: Any) -> list[Any]:
        if self.by_commune is None:
            self.by_commune, self.by_province = {}, {}
            self._file((await session.exec(people)).all())
        else:
            fresh: list[Any] = []
            for chunk in _chunks(sorted(self.stale_communes)):
                fresh += (await session.exec(people.where(Membership.commune_code.in_(chunk)))).all()
            for chunk in _chunks(sorted(self.stale_provinces)):
                fresh += (await session.exec(people.where(Membership.commune_code.is_(None),
                                                          Membership.role == Role.OFFICIAL,
                                                          Membership.province_code.in_(chunk)))).all()
            for code in self.stale_communes:
                self.by_commune.pop(code, None)
            for province in self.stale_provinces:
                self.by_province.pop(province, None)
            self._file(fresh)
        self.stale_communes.clear()
        self.stale_provinces.clear()
        return [row for rows in (*self.by_commune.values(), *self.by_province.values()) for row in rows]

    def _file(self, rows: Iterable[Any]) -> None:
        for row in rows:  # (person_id, role, commune_code, province_code, …): see load_world
            if row[2]:
                self.by_commune.setdefault(row[2], []).append(row)
            elif row[1] == Role.OFFICIAL and row[3]:
                self.by_province.setdefault(row[3], []).append(row)


async def current_draft(session: AsyncSession, payload: dict[str, Any], *, clock: Clock) -> Reply | None:
    """A draft reminder says what is true when it goes: none once the draft is sent or cancelled, and none while
    the cadre is at it (an answer in the last DRAFT_QUIET): it would land between their answers."""
    reply = reply_from_json(payload)
    if "person" not in payload:
        return reply
    touched = (await session.exec(select(Conversation.updated_at)
                                  .where(Conversation.person_id == payload["person"]))).first()
    if touched is None or clock.now() - touched < DRAFT_QUIET:
        return None
    return reply


def _drafts(rows: Iterable[tuple[int, dict | None]]) -> dict[int, str]:
    return {person_id: str((state or {}).get("answers", {}).get("name") or "") for person_id, state in rows}


def _chunks(values: list, size: int = 500) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _day(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y")


def summarize(messages: Iterable[Message]) -> list[str]:
    """One line per message, for `nguoitot remind preview`."""
    return [t("preview.line", due=f"{m.due_at:%d/%m %H:%M}", kind=m.kind, person=m.person_id, channel=m.channel,
              chat=m.chat_id, text=m.reply.text.replace("\n", " | "))
            for m in sorted(messages, key=lambda m: (m.due_at, m.key))]
