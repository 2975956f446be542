"""/thongke's pictures: drawn in a worker process (a pool of one, started on first use or at start-up),
so drawing never holds the event loop; the PNG is kept in the media store, and a reply names it by its
SHA-256 like any photo."""

from __future__ import annotations

from bot.chart_drawing import ChartSpec, draw, warm
from common.processes import OneWorker
from storage.media import MediaStore


class ChartRenderer:
    def __init__(self, media: MediaStore) -> None:
        self.media = media
        self.worker = OneWorker()

    async def warm(self) -> None:
        await self.worker.run(warm)

    async def draw(self, spec: ChartSpec) -> str:
        """The SHA-256 of the chart, stored in the media store."""
        png = await self.worker.run(draw, spec)
        return (await self.media.save(png)).sha256

    def close(self) -> None:
        self.worker.close()
