"""Counts for reminders, /han, /thongke and digests, computed in SQL for many communes at once (planning
10,000 reminders must not run a query per person); and the one way cases are paged."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, union_all
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Case, CaseStatus, Unit
from storage.sql import among

PENDING_REVIEW = (CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED)
FORWARDED = (CaseStatus.APPROVED, CaseStatus.COMMENDED)  # approved by the commune = sent up
NOT_COUNTED = (CaseStatus.WITHDRAWN,)


@dataclass
class Progress:
    """One commune in one reporting period, and its year so far."""

    by_status: dict[str, int] = field(default_factory=dict)
    silent_units: list[str] = field(default_factory=list)  # villages/organisations with nothing this period
    active_units: set[int] = field(default_factory=set)  # units that sent something this period
    year_forwarded: int = 0
    year_submitted: int = 0

    @property
    def submitted(self) -> int:
        return sum(n for status, n in self.by_status.items() if status not in NOT_COUNTED)

    @property
    def pending(self) -> int:
        return sum(self.by_status.get(s, 0) for s in PENDING_REVIEW)

    @property
    def returned(self) -> int:
        return self.by_status.get(CaseStatus.RETURNED, 0)

    @property
    def forwarded(self) -> int:
        return sum(self.by_status.get(s, 0) for s in FORWARDED)


LARGE = 300  # more communes than this: the period's cases of every commune are read, those unwanted dropped


def _of_communes(session: AsyncSession, column: Any, communes: Collection[str]) -> list[Any]:
    """`column IN (communes)` as one bound value (an array on PostgreSQL, a JSON list on SQLite), so that a
    province's 168 codes are not rendered into the statement at each execution; nothing for many communes: an
    IN over thousands of codes costs more than it saves when the period's rows are read from the index on
    (submitted_at, commune_code, status, unit_id)."""
    return [] if len(communes) > LARGE else [among(session, column, communes)]


async def progress(session: AsyncSession, communes: Collection[str], start: datetime, end: datetime,
                   year_start: datetime, year_end: datetime, *, units: bool = True) -> dict[str, Progress]:
    """Progress of these communes for cases submitted in (start, end] and in [year_start, year_end).

    Counted in SQL, one row per commune and status (and per active unit); `units=False` leaves the units out
    (active_units and silent_units stay empty): a province's numbers do not show them."""
    result: dict[str, Progress] = defaultdict(Progress)
    if not communes:
        return result
    wanted = set(communes)
    in_period = and_(Case.submitted_at > start, Case.submitted_at <= end)
    in_year = and_(Case.submitted_at >= year_start, Case.submitted_at < year_end)
    counted = (select(Case.commune_code, Case.status,
                      func.sum(case((in_period, 1), else_=0)), func.sum(case((in_year, 1), else_=0)))
               .where(*_of_communes(session, Case.commune_code, wanted),  # one range: an index range scan
                      Case.submitted_at >= min(start, year_start), Case.submitted_at <= max(end, year_end))
               .group_by(Case.commune_code, Case.status))
    for commune, status, period_n, year_n in (await session.exec(counted)).all():
        if commune not in wanted:
            continue
        if period_n:
            result[commune].by_status[status] = int(period_n)
        if year_n and status in FORWARDED:
            result[commune].year_forwarded += int(year_n)
        if year_n and status not in NOT_COUNTED:
            result[commune].year_submitted += int(year_n)
    if not units:
        return result
    active = (select(Case.commune_code, Case.unit_id)
              .where(*_of_communes(session, Case.commune_code, wanted), in_period, Case.status.not_in(NOT_COUNTED),
                     Case.unit_id.is_not(None)).distinct())
    for commune, unit_id in (await session.exec(active)).all():
        if commune in wanted:
            result[commune].active_units.add(unit_id)
    named = (select(Unit.commune_code, Unit.id, Unit.name)
             .where(*_of_communes(session, Unit.commune_code, wanted), Unit.retired_at.is_(None)).order_by(Unit.name))
    for commune, unit_id, name in (await session.exec(named)).all():
        if commune in wanted and unit_id not in result[commune].active_units:
            result[commune].silent_units.append(name)
    return result


@dataclass
class Breakdown:
    """The cases of some communes submitted in (start, end], withdrawn ones left out, counted three ways."""

    by_status: Counter = field(default_factory=Counter)
    by_unit: Counter = field(default_factory=Counter)  # unit name ("" for none)
    by_field: Counter = field(default_factory=Counter)  # field ("" for none)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


async def breakdown(session: AsyncSession, communes: Collection[str], start: datetime, end: datetime) -> Breakdown:
    counted = Breakdown()
    if not communes:
        return counted
    where = (Case.commune_code.in_(communes), Case.submitted_at > start, Case.submitted_at <= end,
             Case.status.not_in(NOT_COUNTED))
    for status, n in (await session.exec(select(Case.status, func.count()).where(*where)
                                         .group_by(Case.status))).all():
        counted.by_status[status] = n
    units = (select(Unit.name, func.count()).select_from(Case).outerjoin(Unit, Unit.id == Case.unit_id)
             .where(*where).group_by(Unit.name))
    for name, n in (await session.exec(units)).all():
        counted.by_unit[name or ""] += n
    for name, n in (await session.exec(select(Case.field, func.count()).where(*where).group_by(Case.field))).all():
        counted.by_field[name or ""] += n
    return counted


@dataclass(frozen=True)
class Listed:
    """What a list shows of a case: its columns, never its answers (JSON)."""

    id: int
    code: str
    name: str
    status: str
    submitted_at: datetime
    updated_at: datetime


LISTED = (Case.id, Case.code, Case.name, Case.status, Case.submitted_at, Case.updated_at)


@dataclass(frozen=True)
class Page:
    rows: list[Listed]
    number: int  # 1-based, within 1..pages
    pages: int
    total: int


@dataclass(frozen=True)
class CaseQuery:
    """The cases someone may list (whole communes, some units, their own), narrowed by one filter."""

    communes: Sequence[str]
    units: Sequence[int]
    nominator_id: int
    status: str = ""  # one status, or "pending" (waiting for review)
    unit_id: int | None = None
    after: datetime | None = None  # submitted in (after, until]
    until: datetime | None = None


async def pending_page(session: AsyncSession, communes: Sequence[str], page: int, size: int) -> Page:
    """The cases waiting for review in these communes, the longest waiting first."""
    where = (among(session, Case.commune_code, communes), Case.status.in_(PENDING_REVIEW))
    return await _page(session, where, (Case.updated_at, Case.id), page, size)


async def case_page(session: AsyncSession, query: CaseQuery, page: int, size: int) -> Page:
    """The cases of the query, the newest first."""
    # Whose cases: only the parts that can match, largest first. They are counted apart, each without those
    # before it, so that a province's thousands are counted from the index on (commune, date, status, unit).
    whose: list[tuple[Any, Any]] = []  # (part, its negation, NULL-safe)
    if query.communes:
        part = among(session, Case.commune_code, query.communes)
        whose.append((part, not_(part)))
    if query.units:
        part = among(session, Case.unit_id, query.units)
        whose.append((part, or_(Case.unit_id.is_(None), not_(part))))
    whose.append((Case.nominator_id == query.nominator_id, Case.nominator_id != query.nominator_id))
    narrowed: list[Any] = []
    if query.status:
        narrowed.append(Case.status.in_(PENDING_REVIEW) if query.status == "pending" else Case.status == query.status)
    if query.unit_id is not None:
        narrowed.append(Case.unit_id == query.unit_id)
    if query.after is not None and query.until is not None:
        narrowed += [Case.submitted_at > query.after, Case.submitted_at <= query.until]
    parts = [[part, *(negation for _, negation in whose[:i]), *narrowed] for i, (part, _) in enumerate(whose)]
    where = [or_(*(part for part, _ in whose)), *narrowed]
    return await _page(session, where, (Case.submitted_at.desc(), Case.id.desc()), page, size, parts)


async def _page(session: AsyncSession, where: Sequence[Any], order_by: Sequence[Any], page: int, size: int,
                parts: Sequence[Sequence[Any]] = ()) -> Page:
    """Counted (by disjoint `parts` when given, in one statement), then one page of the columns shown."""
    counts = [select(func.count()).select_from(Case).where(*part).scalar_subquery() for part in parts or [where]]
    total = sum(int(n or 0) for n in (await session.exec(select(*counts))).one()) if len(counts) > 1 else \
        int(await session.scalar(select(counts[0])) or 0)
    pages = max(1, (total + size - 1) // size)
    number = min(max(page, 1), pages)
    if not total:
        return Page([], number, pages, total)
    if len(parts) > 1:  # the page's ids from each part's index (a province's codes: the index alone), then its rows
        # Each part gives at most the rows up to this page's end, newest first (PostgreSQL walks the index on
        # submitted_at backwards for a province: 10 rows read, not its 5,000 sorted).
        newest = [select(Case.id, Case.submitted_at).where(*part).order_by(Case.submitted_at.desc(), Case.id.desc())
                  .limit(number * size).subquery() for part in parts]
        keys = union_all(*(select(part.c.id, part.c.submitted_at) for part in newest)).subquery()
        chosen = (select(keys.c.id).order_by(keys.c.submitted_at.desc(), keys.c.id.desc())
                  .offset((number - 1) * size).limit(size))
        statement = select(*LISTED).where(Case.id.in_(chosen)).order_by(*order_by)
    else:
        statement = select(*LISTED).where(*where).order_by(*order_by).offset((number - 1) * size).limit(size)
    return Page([Listed(*row) for row in (await session.exec(statement)).all()], number, pages, total)


@dataclass(frozen=True)
class UnitCount:
    name: str
    forwarded: int  # approved or commended
    other: int  # sent, not (yet) forwarded; withdrawn ones left out


async def unit_counts(session: AsyncSession, commune: str, start: datetime, end: datetime) -> list[UnitCount]:
    """Each active unit of the commune (and cases with none, as "") with its cases submitted in (start, end]."""
    where = (Case.commune_code == commune, Case.submitted_at > start, Case.submitted_at <= end,
             Case.status.not_in(NOT_COUNTED))
    rows = await session.exec(select(Unit.name, Case.status, func.count()).select_from(Case)
                              .outerjoin(Unit, Unit.id == Case.unit_id).where(*where).group_by(Unit.name, Case.status))
    counted: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, status, n in rows.all():
        counted[name or ""][0 if status in FORWARDED else 1] += n
    units = await session.exec(select(Unit.name).where(Unit.commune_code == commune, Unit.retired_at.is_(None)))
    for name in units.all():
        counted.setdefault(name, [0, 0])
    return [UnitCount(name, f, o) for name, (f, o) in sorted(counted.items())]
