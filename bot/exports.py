"""Exports run in the background: the request that asks for one returns at once, and the job posts a
progress message, edits it as pages of cases are written, records the audit event, sends the files
through the channel's `Outbound` (common/outbound.py) and deletes them. One job per person at a time:
asked twice, it runs once. Files that could not be delivered are deleted after EXPORT_RETENTION_HOURS."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bot.export import dossier
from common.clock import Clock
from common.events import Reply
from common.messages import t
from common.outbound import Outbound
from common.settings import Settings
from storage import exports
from storage.db import Database
from storage.media import MediaStore
from storage.models import ExportRecord

log = logging.getLogger(__name__)

EDIT_EVERY = 1.0  # seconds between progress edits: Telegram allows about one message a second per chat
DEFAULT_FILE_LIMIT = 50 * 1024 * 1024


@dataclass(frozen=True)
class ExportJob:
    person_id: int | None
    channel: str
    chat_id: str
    spec: dossier.ExportSpec
    total: int  # cases, counted when it was asked for


class ExportRunner:
    def __init__(self, db: Database, media: MediaStore, settings: Settings, clock: Clock) -> None:
        self.db, self.media, self.settings, self.clock = db, media, settings, clock
        self.channels: dict[str, Outbound] = {}
        self._running: dict[int | str, asyncio.Task] = {}

    def attach(self, channel: str, outbound: Outbound) -> None:
        """The composition root hands over each channel's way to post, edit and send files."""
        self.channels[channel] = outbound

    def can_deliver(self, channel: str) -> bool:
        return channel in self.channels

    def busy(self, person_id: int) -> bool:
        return person_id in self._running

    def part_limit(self, channel: str) -> int:
        own = self.channels[channel].file_limit if channel in self.channels else DEFAULT_FILE_LIMIT
        return min(self.settings.export_part_bytes or own, own)

    def job_folder(self) -> Path:
        return Path(self.settings.exports_dir) / uuid.uuid4().hex

    def start(self, job: ExportJob) -> bool:
        """Start the job in the background; False if this person already has one running."""
        key = job.person_id if job.person_id is not None else job.chat_id
        if key in self._running:
            return False
        task = asyncio.create_task(self._run(job), name=f"export-{key}")
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))
        return True

    async def idle(self) -> None:
        """Wait for every running job (tests, shutdown)."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def _run(self, job: ExportJob) -> None:
        outbound = self.channels[job.channel]
        spec = job.spec
        await asyncio.to_thread(sweep, Path(self.settings.exports_dir), self.settings.export_retention_hours)
        words = {"scope": spec.scope.name, "period": spec.selection.period.label}
        progress = Progress(outbound, job.chat_id, words)
        try:
            await progress.start(job.total)
            result = await dossier.build(self.db, self.media.backend.path, spec, self.settings.zone,
                                         self.clock.now().date(), progress.update, job.total)
            await self._record(job, result)
            await progress.finish(t("export.done", cases=result.cases, files=len(result.files), **words))
        except Exception:
            log.exception("export for %s:%s failed", job.channel, job.chat_id)
            shutil.rmtree(spec.folder, ignore_errors=True)  # half-made files hold personal data too
            await _quietly(outbound.post(job.chat_id, t("export.failed")))
            return
        try:
            await self._deliver(outbound, job, result)
        except Exception:  # the files stay until EXPORT_RETENTION_HOURS, then go
            log.exception("export for %s:%s not delivered", job.channel, job.chat_id)
            await _quietly(outbound.post(job.chat_id, t("export.unsent")))
            return
        shutil.rmtree(spec.folder, ignore_errors=True)  # delivered: personal data does not stay on the server

    async def _record(self, job: ExportJob, result: dossier.ExportResult) -> None:
        async with self.db.session() as session:
            await exports.record(session, audit_entry(job.spec, result, job.person_id, job.channel, self.clock.now()))

    async def _deliver(self, outbound: Outbound, job: ExportJob, result: dossier.ExportResult) -> None:
        await outbound.busy(job.chat_id)
        awards = any(p.name.startswith("giay-khen") for p in result.files)
        text = t("export.sent", files=len(result.files), awards=t("export.awards") if awards else "")
        if result.missing:
            shown = ", ".join(f"{m.code} ({m.sha256[:10]}…)" for m in result.missing[:20])
            text += "\n" + t("export.missing", count=len(result.missing), photos=shown)
        await outbound.send(job.chat_id, Reply(text, documents=tuple(str(p) for p in result.files)))


def audit_entry(spec: dossier.ExportSpec, result: dossier.ExportResult, person_id: int | None, channel: str,
                at) -> ExportRecord:
    """Who exported what (scope, period, statuses) and which files: personal data left the system."""
    period = spec.selection.period
    return ExportRecord(person_id=person_id, channel=channel, at=at, scope=f"{spec.scope.kind}:{spec.scope.code}",
                        scope_name=spec.scope.name, period_start=period.start, period_end=period.end,
                        period_label=period.label, statuses=list(spec.selection.statuses), cases=result.cases,
                        files=[p.name for p in result.files], missing_photos=len(result.missing))


class Progress:
    """The progress message: posted at once, edited at most every EDIT_EVERY seconds, and at the end."""

    def __init__(self, outbound: Outbound, chat_id: str, words: dict[str, str]) -> None:
        self.outbound, self.chat_id, self.words = outbound, chat_id, words
        self.handle = ""
        self.edited_at = 0.0

    async def start(self, total: int) -> None:
        self.handle = await self.outbound.post(self.chat_id, t("export.progress", done=0, total=total, **self.words))
        self.edited_at = time.monotonic()

    async def update(self, done: int, total: int) -> None:
        last = done >= total
        if not last and time.monotonic() - self.edited_at < EDIT_EVERY:
            return
        key = "export.drawing" if last else "export.progress"
        await self._edit(t(key, done=done, total=total, **self.words))
        if not last:
            await _quietly(self.outbound.busy(self.chat_id))

    async def finish(self, text: str) -> None:
        await self._edit(text)

    async def _edit(self, text: str) -> None:
        self.edited_at = time.monotonic()
        await _quietly(self.outbound.edit(self.chat_id, self.handle, text))


async def _quietly(call) -> None:
    """A progress note that cannot be shown is not worth failing the export for."""
    try:
        await call
    except Exception:
        log.warning("progress note not shown", exc_info=True)


def sweep(root: Path, retention_hours: float) -> list[Path]:
    """Delete job folders older than the retention (files never delivered: a crash, a channel that failed)."""
    if not root.is_dir():
        return []
    cutoff = time.time() - retention_hours * 3600
    removed = [folder for folder in root.iterdir() if folder.is_dir() and folder.stat().st_mtime < cutoff]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed
