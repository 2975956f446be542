"""Counts for reminders, /han and digests, computed for many communes at once (planning 10,000
reminders must not run a query per person)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
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
