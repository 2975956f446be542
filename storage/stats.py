"""Counts for reminders, /han, /thongke and digests, computed in SQL for many communes at once (planning
10,000 reminders must not run a query per person); and the one way cases are paged."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Case, CaseStatus, Unit

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


async def progress(session: AsyncSession, communes: Collection[str], start: datetime, end: datetime,
                   year_start: datetime, year_end: datetime) -> dict[str, Progress]:
    """Progress of these communes for cases submitted in (start, end] and in [year_start, year_end)."""
    result: dict[str, Progress] = defaultdict(Progress)
    if not communes:
        return result
    in_period = (Case.commune_code.in_(communes), Case.submitted_at > start, Case.submitted_at <= end)
    rows = await session.exec(
        select(Case.commune_code, Case.status, func.count()).where(*in_period).group_by(Case.commune_code,
                                                                                        Case.status))
    for commune, status, count in rows.all():
        result[commune].by_status[status] = count
    active = await session.exec(
        select(Case.unit_id).where(*in_period, Case.status.not_in(NOT_COUNTED)).distinct())
    active_units = {unit_id for unit_id in active.all() if unit_id is not None}
    units = await session.exec(
        select(Unit).where(Unit.commune_code.in_(communes), Unit.retired_at.is_(None)).order_by(Unit.name))
    for unit in units.all():
        if unit.id in active_units:
            result[unit.commune_code].active_units.add(unit.id)
        else:
            result[unit.commune_code].silent_units.append(unit.name)
    year = await session.exec(
        select(Case.commune_code, Case.status, func.count())
        .where(Case.commune_code.in_(communes), Case.submitted_at >= year_start, Case.submitted_at < year_end)
        .group_by(Case.commune_code, Case.status))
    for commune, status, count in year.all():
        if status in FORWARDED:
            result[commune].year_forwarded += count
        if status not in NOT_COUNTED:
            result[commune].year_submitted += count
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
class Page:
    rows: list[Case]
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
    where = (Case.commune_code.in_(communes), Case.status.in_(PENDING_REVIEW))
    return await _page(session, where, (Case.updated_at, Case.id), page, size)


async def case_page(session: AsyncSession, query: CaseQuery, page: int, size: int) -> Page:
    """The cases of the query, the newest first."""
    where: list[Any] = [or_(Case.commune_code.in_(query.communes), Case.unit_id.in_(query.units),
                            Case.nominator_id == query.nominator_id)]
    if query.status:
        where.append(Case.status.in_(PENDING_REVIEW) if query.status == "pending" else Case.status == query.status)
    if query.unit_id is not None:
        where.append(Case.unit_id == query.unit_id)
    if query.after is not None and query.until is not None:
        where += [Case.submitted_at > query.after, Case.submitted_at <= query.until]
    return await _page(session, where, (Case.submitted_at.desc(), Case.id.desc()), page, size)


async def _page(session: AsyncSession, where: Sequence[Any], order_by: Sequence[Any], page: int, size: int) -> Page:
    total = int(await session.scalar(select(func.count()).select_from(Case).where(*where)) or 0)
    pages = max(1, (total + size - 1) // size)
    number = min(max(page, 1), pages)
    rows = [] if not total else list((await session.exec(
        select(Case).where(*where).order_by(*order_by).offset((number - 1) * size).limit(size))).all())
    return Page(rows, number, pages, total)


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
