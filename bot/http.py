"""The one HTTP app (aiohttp): channels' webhooks, the web chat and the public page (their routes come from
the composition root), `GET /healthz` and `GET /metrics`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from common import metrics
from common.clock import Clock
from scheduler.outbox import backlog as outbox_backlog
from storage import inbox
from storage.db import Database

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
HEALTH_TIMEOUT = 3.0  # seconds the database has to answer a health check


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler


class HttpApp:
    """Serves the routes given (webhooks) beside health and metrics, on HTTP_HOST:HTTP_PORT."""

    def __init__(self, db: Database, clock: Clock, routes: list[Route], *, max_backlog_age: float,
                 middlewares: Sequence[Middleware] = ()) -> None:
        self.db = db
        self.clock = clock
        self.max_backlog_age = max_backlog_age
        # An update is a few kB; photos from the web chat are streamed (bot/channels/web.py), not read whole.
        self.app = web.Application(client_max_size=2 * 1024 * 1024, middlewares=list(middlewares))
        for route in routes:
            self.app.router.add_route(route.method, route.path, route.handler)
        self.app.router.add_get("/healthz", self.health)
        self.app.router.add_get("/metrics", self.metrics)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.port = self._runner.addresses[0][1]
        log.info("HTTP on http://%s:%s (/chat, /cong-khai/<commune>, /healthz, /metrics)", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def health(self, request: web.Request) -> web.Response:
        """200 when the database answers and no update has waited too long; 503 otherwise (with why)."""
        try:
            report = await asyncio.wait_for(self._measure(), HEALTH_TIMEOUT)
        except Exception as error:
            return web.json_response({"status": "down", "database": "unreachable",
                                      "error": (str(error).splitlines() or [type(error).__name__])[0][:200]},
                                     status=503)
        healthy = report["inbox_oldest_seconds"] <= self.max_backlog_age
        report = {"status": "ok" if healthy else "stalled", "database": "ok", **report}
        return web.json_response(report, status=200 if healthy else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(self._measure(), HEALTH_TIMEOUT)
        except Exception as error:  # the counters are still worth reading
            log.info("metrics: backlog not measured (%s)", error)
        body = generate_latest(metrics.REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _measure(self) -> dict:
        wall = inbox.wall_clock()
        async with self.db.session() as session:
            waiting = await inbox.backlog(session)
            queued = await outbox_backlog(session, self.clock.now())
        oldest = waiting.oldest_age(wall)
        metrics.INBOX_BACKLOG.set(waiting.open)
        metrics.INBOX_OLDEST_SECONDS.set(oldest)
        metrics.OUTBOX_BACKLOG.set(queued)
        return {"inbox_backlog": waiting.open, "inbox_oldest_seconds": round(oldest, 3),
                "outbox_backlog": queued, "last_update_age_seconds": _age(waiting.last_received, wall)}


def _age(when: datetime | None, now: datetime) -> float | None:
    return None if when is None else round((now - when).total_seconds(), 3)
