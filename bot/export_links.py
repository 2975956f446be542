"""Signed, expiring download links to an export's files, served by the bot's own HTTP app: how /xuat delivers
on a channel that cannot send documents (Zalo, the web chat). Built like bot/media_links.py.

`GET /tai-ve/<job>/<file>?e=<expiry>&s=<signature>`: `<job>` is the export's folder under EXPORTS_DIR (32 hex
digits, made by the job), `<file>` one file the job wrote there. The signature is an HMAC of the job, the file
and the expiry under a secret made once per deployment and kept in the database (`appsecret`, the same in
every process), so a link names exactly one file of one job until one moment: an expired, forged or altered
link (another file, another job's file with this job's signature) gets 403; a file already swept gets 404.
A valid link is enough (no session: a Zalo user has none); it is sent only to the person who exported.

The file is streamed from disk (`web.FileResponse`) as an attachment with its content type, never cached.
The job folder carries the links' expiry (`EXPIRY_FILE`), so the sweep (bot/exports.py) deletes the files
when the links stop working, or at EXPORT_RETENTION_HOURS whichever comes first.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from bot.http import Route
from bot.signed_links import is_signed, signature
from common import metrics
from storage import web as web_store
from storage.db import Database

log = logging.getLogger(__name__)

PATH = "/tai-ve/{job}/{name}"
SECRET_NAME = "export-links"
EXPIRY_FILE = ".links-expire"  # in a job folder: when its links stop working (Unix time); never served
_JOB = re.compile(r"[0-9a-f]{32}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
CONTENT_TYPES = {
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pdf": "application/pdf",
    ".zip": "application/zip",
    ".csv": "text/csv; charset=utf-8",
}


class ExportLinks:
    """Makes and checks the links to the files under `root` (EXPORTS_DIR)."""

    def __init__(self, db: Database, root: Path, *, secret: bytes = b"", now: Callable[[], float] = time.time) -> None:
        self.db = db
        self.root = Path(root)
        self.now = now
        self._secret = secret
        self._lock = asyncio.Lock()

    async def prepare(self) -> None:
        """The signing key: made once per deployment and kept in the database, the same for every process."""
        if self._secret:
            return
        async with self._lock:
            if not self._secret:
                async with self.db.session() as session:
                    made = await web_store.app_secret(session, SECRET_NAME, secrets.token_urlsafe(48))
                self._secret = hmac.new(made.encode(), b"nguoitot export links", hashlib.sha256).digest()

    def url(self, path: Path, expires: int, base_url: str = "") -> str:
        """The link to one file of a job, valid until `expires`; relative (`/tai-ve/…`) without a base URL."""
        assert self._secret, "ExportLinks.prepare() first"
        job, name = self._parts(path)
        signed = signature(self._secret, f"{job}/{name}", expires)
        return f"{base_url.rstrip('/')}/tai-ve/{job}/{quote(name)}?e={expires}&s={signed}"

    def route(self) -> Route:
        return Route("GET", PATH, self.serve)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        await self.prepare()
        job, name = request.match_info["job"], request.match_info["name"]
        if not self._signed(job, name, request.query.get("e", ""), request.query.get("s", "")):
            log.info("export link refused: %s", request.path_qs[:200])
            metrics.EXPORT_DOWNLOADS.labels("refused").inc()
            return web.Response(status=403, text="forbidden", headers=_private())
        path = self.root / job / name
        if not path.is_file():
            metrics.EXPORT_DOWNLOADS.labels("gone").inc()
            return web.Response(status=404, text="not found", headers=_private())
        log.info("export download: %s/%s (%d bytes) from %s", job, name, path.stat().st_size, request.remote)
        metrics.EXPORT_DOWNLOADS.labels("served").inc()
        return web.FileResponse(path, headers={
            "Content-Type": CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"),
            "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff", **_private()})

    def _signed(self, job: str, name: str, expires: str, given: str) -> bool:
        """The link names a job and a file as they are written, has not expired, and is signed by us."""
        if not (_JOB.fullmatch(job) and _NAME.fullmatch(name) and ".." not in name):
            return False
        return is_signed(self._secret, f"{job}/{name}", expires, given, self.now())

    def _parts(self, path: Path) -> tuple[str, str]:
        job, name = path.parent.name, path.name
        if path.parent.parent.resolve() != self.root.resolve() or not _JOB.fullmatch(job) \
                or not _NAME.fullmatch(name):
            raise ValueError(f"not a file of an export job under {self.root}: {path}")
        return job, name


def _private() -> dict[str, str]:
    return {"Cache-Control": "private, no-store"}
