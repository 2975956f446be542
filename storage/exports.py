"""What an export reads: the cases of some communes in a period, in pages by id (so an export of 10,000
cases never holds them all), each with its unit, nominator, reviewer and photos; and the export audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Case, CaseEvent, CasePhoto, CaseStatus, ExportRecord, Media, Person, Unit

REVIEW_OUTCOMES = (CaseStatus.APPROVED, CaseStatus.RETURNED, CaseStatus.REJECTED)


@dataclass(frozen=True)
class ExportQuery:
    """Cases of these communes submitted in (start, end], with one of these statuses (as periods are)."""

    communes: Sequence[str]
    start: datetime
    end: datetime
    statuses: Sequence[str]

    def where(self) -> tuple:
        return (Case.commune_code.in_(self.communes), Case.submitted_at > self.start, Case.submitted_at <= self.end,
                Case.status.in_(self.statuses))


@dataclass(frozen=True)
class PhotoRef:
    sha256: str
    size: int
    width: int
    height: int
    mime_type: str


@dataclass
class ExportRow:
    case: Case
    unit_name: str = ""
    unit_kind: str = ""
    nominator: str = ""
    reviewer: str = ""
    reviewed_at: datetime | None = None
    approved_at: datetime | None = None
    photos: list[PhotoRef] = field(default_factory=list)


async def count(session: AsyncSession, query: ExportQuery) -> int:
    return int(await session.scalar(select(func.count()).select_from(Case).where(*query.where())) or 0)


async def rows_after(session: AsyncSession, query: ExportQuery, after_id: int, limit: int) -> list[ExportRow]:
    """The next `limit` cases with an id above `after_id`, in id order, each with what the export shows."""
    found = await session.exec(
        select(Case, Unit.name, Unit.kind, Person.name).outerjoin(Unit, Unit.id == Case.unit_id)
        .outerjoin(Person, Person.id == Case.nominator_id)
        .where(*query.where(), Case.id > after_id).order_by(Case.id).limit(limit))
    rows = {case.id: ExportRow(case, unit or "", kind or "", nominator or "")
            for case, unit, kind, nominator in found.all()}
    if not rows:
        return []
    events = await session.exec(
        select(CaseEvent, Person.name).outerjoin(Person, Person.id == CaseEvent.actor_id)
        .where(CaseEvent.case_id.in_(rows), CaseEvent.to_status.in_(REVIEW_OUTCOMES)).order_by(CaseEvent.id))
    for event, actor in events.all():  # the latest review wins
        row = rows[event.case_id]
        row.reviewer, row.reviewed_at = actor or "", event.at
        if event.to_status == CaseStatus.APPROVED:
            row.approved_at = event.at
    photos = await session.exec(
        select(CasePhoto.case_id, Media).join(Media, Media.sha256 == CasePhoto.sha256)
        .where(CasePhoto.case_id.in_(rows)).order_by(CasePhoto.case_id, CasePhoto.position))
    for case_id, media in photos.all():
        rows[case_id].photos.append(PhotoRef(media.sha256, media.size, media.width, media.height, media.mime_type))
    return list(rows.values())


async def record(session: AsyncSession, entry: ExportRecord) -> None:
    session.add(entry)


async def records(session: AsyncSession, limit: int = 100) -> list[tuple[ExportRecord, str]]:
    """The latest exports, newest first, with the name of who made them ("" for the console)."""
    found = await session.exec(select(ExportRecord, Person.name).outerjoin(Person, Person.id == ExportRecord.person_id)
                               .order_by(ExportRecord.at.desc(), ExportRecord.id.desc()).limit(limit))
    return [(entry, name or "") for entry, name in found.all()]
