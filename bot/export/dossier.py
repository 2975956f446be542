"""Making an export's files: cases read from the database a page at a time; each page goes to the
spreadsheet and the photo archive (both streamed) and keeps the few values the documents need; then the
documents are drawn as DOCX and PDF. The drawing runs in a worker thread, so the event loop (every other
user's messages) is never held by it."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, tzinfo
from pathlib import Path
from typing import Any

from bot.export import documents, docx, pdf
from bot.export.archive import Missing, PhotoArchive
from bot.export.period import Selection
from bot.export.rows import Visibility, values
from bot.export.templates import load
from bot.export.xlsx import CaseSheet
from bot.scopes import Scope
from storage import exports
from storage.db import Database
from storage.exports import ExportQuery, ExportRow
from storage.models import CaseStatus

BATCH = 200
Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class ExportSpec:
    scope: Scope
    selection: Selection
    visible: Visibility
    part_limit: int  # bytes per file sent
    folder: Path  # where the files are made
    templates_dir: str = ""

    def query(self) -> ExportQuery:
        period = self.selection.period
        return ExportQuery(self.scope.communes, period.start, period.end, self.selection.statuses)


@dataclass
class ExportResult:
    files: list[Path] = field(default_factory=list)
    cases: int = 0
    missing: list[Missing] = field(default_factory=list)


async def count(db: Database, spec: ExportSpec) -> int:
    async with db.session() as session:
        return await exports.count(session, spec.query())


async def build(db: Database, photo_path: Callable[[str], Path], spec: ExportSpec, zone: tzinfo, today: date,
                progress: Progress, total: int, batch: int = BATCH) -> ExportResult:
    """Every file of the export in spec.folder, telling `progress` (done, total) after each page."""
    spec.folder.mkdir(parents=True, exist_ok=True)
    work = spec.folder / ".work"
    suffix = spec.selection.period.key
    sheet = await asyncio.to_thread(CaseSheet, spec.folder / f"ho-so-{suffix}.xlsx", work, zone, spec.visible)
    archive = PhotoArchive(spec.folder, f"anh-ho-so-{suffix}", spec.part_limit, photo_path)
    entries: list[dict[str, Any]] = []
    done, after = 0, 0
    while True:
        async with db.session() as session:
            rows = await exports.rows_after(session, spec.query(), after, batch)
        if not rows:
            break
        await asyncio.to_thread(_add, rows, sheet, archive, entries, photo_path, zone, spec.visible)
        done, after = done + len(rows), rows[-1].case.id
        await progress(done, max(total, done))
    files = await asyncio.to_thread(_finish, spec, sheet, archive, entries, zone, today)
    return ExportResult(files, done, archive.missing)


def _add(rows: list[ExportRow], sheet: CaseSheet, archive: PhotoArchive, entries: list[dict[str, Any]],
         photo_path: Callable[[str], Path], zone: tzinfo, visible: Visibility) -> None:
    for row in rows:
        first = photo_path(row.photos[0].sha256) if row.photos else None
        sheet.add(row, first if first is not None and first.is_file() else None)
        archive.add(row)
        entries.append({**values(row, zone, visible), "kind_key": row.case.kind, "status_key": row.case.status})


def _finish(spec: ExportSpec, sheet: CaseSheet, archive: PhotoArchive, entries: list[dict[str, Any]],
            zone: tzinfo, today: date) -> list[Path]:
    files = [sheet.close(), *archive.close()]
    issuer = documents.Issuer(spec.scope.name, spec.scope.province, spec.selection.period.label, today)
    templates = load(spec.templates_dir)
    # The report and the list propose for commendation: only what the commune approved (or has commended), whatever
    # statuses the spreadsheet and the photos cover; with none, there is nothing to propose.
    proposed = [e for e in entries if e["status_key"] in (CaseStatus.APPROVED, CaseStatus.COMMENDED)]
    commended = [e for e in entries if e["status_key"] == CaseStatus.COMMENDED]
    drawn = [documents.to_trinh(templates, issuer, proposed), documents.danh_sach(templates, issuer, proposed),
             documents.tom_tat(templates, issuer, proposed)] if proposed else []
    if commended:
        drawn.append(documents.giay_khen(templates, issuer, commended))
    suffix = spec.selection.period.key
    for doc in drawn:
        files.append(docx.render(doc, spec.folder / f"{doc.name}-{suffix}.docx"))
        files.append(pdf.render(doc, spec.folder / f"{doc.name}-{suffix}.pdf"))
    shutil.rmtree(spec.folder / ".work", ignore_errors=True)
    return files


