"""/thongke's pictures: drawn in a worker process (a pool of one, started on first use or at start-up),
so drawing never holds the event loop; the PNG is kept in the media store, and a reply names it by its
SHA-256 like any photo."""

from __future__ import annotations

import asyncio
from concurrent.futures import ProcessPoolExecutor

from bot.chart_drawing import ChartSpec, draw, warm
from common.processes import one_worker
from storage.media import MediaStore


class ChartRenderer:
    def __init__(self, media: MediaStore) -> None:
        self.media = media
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = one_worker()
        return self._pool

    async def warm(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor(), warm)

    async def draw(self, spec: ChartSpec) -> str:
        """The SHA-256 of the chart, stored in the media store."""
        png = await asyncio.get_running_loop().run_in_executor(self._executor(), draw, spec)
        return (await self.media.save(png)).sha256

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
