"""Exports run in the background: the request that asks for one returns at once, and the job posts a
progress message, edits it as pages of cases are written (or, on a channel that cannot edit, posts anew now and
then), records the audit event, and delivers the files through the channel's `Outbound` (common/outbound.py):
as documents, deleted at once (Telegram); or, on a channel without documents, as one message with a signed
download link per file (bot/export_links.py; the terminal chat: the files' paths), the files kept until the
links expire (EXPORT_LINK_HOURS). One job per person at a time: asked twice, it runs once. Whatever is left is
deleted by the sweep: at the links' expiry, and after EXPORT_RETENTION_HOURS in any case."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.export import dossier
from bot.export_links import EXPIRY_FILE, ExportLinks
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
REPOST_EVERY = 30.0  # seconds between progress messages where they cannot be edited (Zalo, the web chat)
DEFAULT_FILE_LIMIT = 50 * 1024 * 1024
LINK_PART_LIMIT = 2 * 1024 * 1024 * 1024  # a download has no channel limit: the ZIP is split only past 2 GB
SWEEP_EVERY = 600.0  # seconds between sweeps of EXPORTS_DIR (expired links, files past the retention)

Linker = Callable[[Path, int], str]  # a job's file and when its link expires (Unix time) → what the person opens


@dataclass(frozen=True)
class Links:
    """How a channel without documents offers an export's files: a link for each (`url`), introduced by the
    catalogue's message `words`."""

    url: Linker
    words: str = "export.links"


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
        self.linkers: dict[str, Links] = {}
        self.links = ExportLinks(db, settings.exports_dir)  # its route is served by the HTTP app (bot/app.py)
        self._running: dict[int | str, asyncio.Task] = {}

    def attach(self, channel: str, outbound: Outbound, links: Links | None = None) -> None:
        """The composition root hands over each channel's way to post, edit and send files, and, for a channel
        that sends no documents, how to link to them (without it, /xuat there says how else to get them)."""
        self.channels[channel] = outbound
        if links is None:
            self.linkers.pop(channel, None)
        else:
            self.linkers[channel] = links

    def signed_links(self, base_url: str = "") -> Links:
        """Signed download links: absolute under `base_url` (PUBLIC_BASE_URL, for Zalo), or relative to the
        bot's own HTTP app (the web chat, whose page it serves)."""
        return Links(lambda path, expires: self.links.url(path, expires, base_url))

    def can_deliver(self, channel: str) -> bool:
        outbound = self.channels.get(channel)
        return outbound is not None and (outbound.file_limit > 0 or channel in self.linkers)

    def busy(self, person_id: int) -> bool:
        return person_id in self._running

    def part_limit(self, channel: str) -> int:
        own = self.channels[channel].file_limit if channel in self.channels else DEFAULT_FILE_LIMIT
        own = own or LINK_PART_LIMIT  # downloaded, not sent: no channel limit
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

    async def sweeping(self, every: float = SWEEP_EVERY) -> None:
        """Sweep EXPORTS_DIR now and then, until cancelled: files behind expired links, and any past the
        retention, do not wait for the next export to be deleted."""
        while True:
            try:
                await self.sweep()
            except Exception:  # a sweep that failed is tried again at the next turn
                log.exception("sweeping %s", self.settings.exports_dir)
            await asyncio.sleep(every)

    async def sweep(self) -> list[Path]:
        return await asyncio.to_thread(sweep, Path(self.settings.exports_dir), self.settings.export_retention_hours,
                                       self.links.now())

    async def _run(self, job: ExportJob) -> None:
        outbound = self.channels[job.channel]
        spec = job.spec
        await self.sweep()
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
        links = self.linkers.get(job.channel) if not outbound.file_limit else None
        try:
            if links is None:
                await self._deliver(outbound, job, result)
            else:
                await self._deliver_links(outbound, job, result, links, words)
        except Exception:  # the files stay until EXPORT_RETENTION_HOURS, then go
            log.exception("export for %s:%s not delivered", job.channel, job.chat_id)
            await _quietly(outbound.post(job.chat_id, t("export.unsent")))
            return
        if links is None:  # sent: personal data does not stay on the server
            shutil.rmtree(spec.folder, ignore_errors=True)

    async def _record(self, job: ExportJob, result: dossier.ExportResult) -> None:
        async with self.db.session() as session:
            await exports.record(session, audit_entry(job.spec, result, job.person_id, job.channel, self.clock.now()))

    async def _deliver(self, outbound: Outbound, job: ExportJob, result: dossier.ExportResult) -> None:
        await outbound.busy(job.chat_id)
        awards = any(p.name.startswith("giay-khen") for p in result.files)
        text = t("export.sent", files=len(result.files), awards=t("export.awards") if awards else "")
        await outbound.send(job.chat_id, Reply(text + _missing(result), documents=tuple(str(p) for p in result.files)))

    async def _deliver_links(self, outbound: Outbound, job: ExportJob, result: dossier.ExportResult, links: Links,
                             words: dict[str, str]) -> None:
        """One message: what was made, until when the links work, then a link for each file (name, size). The
        files stay until then: the job folder carries the expiry, and the sweep deletes it."""
        await self.links.prepare()
        seconds = self.settings.export_link_seconds
        expires = int(self.links.now()) + seconds
        (job.spec.folder / EXPIRY_FILE).write_text(str(expires))
        until = datetime.fromtimestamp(expires, self.settings.zone)
        awards = any(p.name.startswith("giay-khen") for p in result.files)
        text = t(links.words, files=len(result.files), cases=result.cases, awards=t("export.awards") if awards else "",
                 time=f"{until:%H:%M}", date=f"{until:%d/%m/%Y}", hours=_number(seconds / 3600), **words)
        shown = tuple((f"{p.name} ({file_size(p.stat().st_size)})", links.url(p, expires)) for p in result.files)
        await outbound.send(job.chat_id, Reply(text + _missing(result), links=shown))
        # Downloads are logged by job folder (bot/export_links.py): this line ties the folder to the person.
        log.info("export %s for person %s (%s:%s): %d files offered by link until %s", job.spec.folder.name,
                 job.person_id, job.channel, job.chat_id, len(result.files), until.isoformat())


def _missing(result: dossier.ExportResult) -> str:
    if not result.missing:
        return ""
    shown = ", ".join(f"{m.code} ({m.sha256[:10]}…)" for m in result.missing[:20])
    return "\n" + t("export.missing", count=len(result.missing), photos=shown)


def file_size(size: int) -> str:
    """A file's size as people read it: "840 B", "12 KB", "3,4 MB" (decimal comma, as written in Vietnam)."""
    for unit, scale in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if size >= scale:
            return f"{_number(size / scale, 1)} {unit}"
    return f"{size} B"


def _number(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}".rstrip("0").rstrip(".").replace(".", ",")


def audit_entry(spec: dossier.ExportSpec, result: dossier.ExportResult, person_id: int | None, channel: str,
                at) -> ExportRecord:
    """Who exported what (scope, period, statuses) and which files: personal data left the system."""
    period = spec.selection.period
    return ExportRecord(person_id=person_id, channel=channel, at=at, scope=f"{spec.scope.kind}:{spec.scope.code}",
                        scope_name=spec.scope.name, period_start=period.start, period_end=period.end,
                        period_label=period.label, statuses=list(spec.selection.statuses), cases=result.cases,
                        files=[p.name for p in result.files], missing_photos=len(result.missing))


class Progress:
    """The progress message: posted at once, edited at most every EDIT_EVERY seconds, and at the end. Where
    messages cannot be edited, a new one at most every REPOST_EVERY seconds (a long export shows it is alive,
    a short one says nothing more before its files)."""

    def __init__(self, outbound: Outbound, chat_id: str, words: dict[str, str]) -> None:
        self.outbound, self.chat_id, self.words = outbound, chat_id, words
        self.can_edit = outbound.can_edit
        self.handle = ""
        self.edited_at = 0.0

    async def start(self, total: int) -> None:
        self.handle = await self.outbound.post(self.chat_id, t("export.progress", done=0, total=total, **self.words))
        self.edited_at = time.monotonic()

    async def update(self, done: int, total: int) -> None:
        last = done >= total
        wait = EDIT_EVERY if self.can_edit else REPOST_EVERY
        if time.monotonic() - self.edited_at < wait and not (last and self.can_edit):  # the last edit always
            return
        key = "export.drawing" if last else "export.progress"
        await self._edit(t(key, done=done, total=total, **self.words))
        if not last:
            await _quietly(self.outbound.busy(self.chat_id))

    async def finish(self, text: str) -> None:
        if self.can_edit:  # elsewhere the message with the files follows at once
            await self._edit(text)

    async def _edit(self, text: str) -> None:
        self.edited_at = time.monotonic()
        if self.can_edit:
            await _quietly(self.outbound.edit(self.chat_id, self.handle, text))
        else:
            await _quietly(self.outbound.post(self.chat_id, text))


async def _quietly(call) -> None:
    """A progress note that cannot be shown is not worth failing the export for."""
    try:
        await call
    except Exception:
        log.warning("progress note not shown", exc_info=True)


def sweep(root: Path, retention_hours: float, now: float | None = None) -> list[Path]:
    """Delete the job folders whose download links have expired, and any older than the retention (files
    never delivered: a crash, a channel that failed)."""
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    cutoff = now - retention_hours * 3600
    removed = [folder for folder in root.iterdir()
               if folder.is_dir() and (folder.stat().st_mtime < cutoff or _links_expired(folder, now))]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def _links_expired(folder: Path, now: float) -> bool:
    try:
        return int((folder / EXPIRY_FILE).read_text().strip()) < now
    except (OSError, ValueError):
        return False
