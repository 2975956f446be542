"""Builds the application from settings: database, media store, clock and core."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass

from bot.core import Core
from common.clock import Clock, SystemClock
from common.settings import Settings
from storage import repo
from storage.db import Database
from storage.media import FolderBackend, MediaStore


@dataclass
class App:
    settings: Settings
    db: Database
    media: MediaStore
    core: Core

    async def close(self) -> None:
        await self.core.close()
        await self.db.dispose()


async def build_app(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> App:
    db = Database(settings.database_url, schema=settings.database_schema)
    if migrate:
        await db.upgrade()
        async with db.session() as session:
            await repo.ensure_default_movements(session)
    media = MediaStore(FolderBackend(settings.media_dir))
    core = Core(db, media, settings, clock or SystemClock(settings.zone))
    return App(settings, db, media, core)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)  # one line per update is too much


def settle_memory() -> None:
    """Call once the process has started. What was built while starting (modules, aiogram's and
    pydantic's types, the spec of every statement) lives as long as the process; frozen, it is left
    out of the collector's full passes, which otherwise walked all of it and paused the bot for
    100-300 ms at a time under load."""
    gc.collect()
    gc.freeze()
