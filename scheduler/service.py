"""Runs the reminders: APScheduler plans what is due every minute into the outbox, and the outbox
sender drains it. Planning is idempotent and catches up on its own, so a missed run is simply
coalesced into the next one (misfires are handled by the planner's rules, not by APScheduler's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from common.clock import Clock
from common.delivery import Delivery
from common.settings import Settings
from scheduler.outbox import OutboxSender, enqueue
from scheduler.reminders import ReminderPlanner
from storage.db import Database

log = logging.getLogger(__name__)


class ReminderService:
    def __init__(self, db: Database, settings: Settings, clock: Clock, deliveries: Mapping[str, Delivery]) -> None:
        self.db = db
        self.clock = clock
        self.planner = ReminderPlanner(settings)
        self.sender = OutboxSender(db, clock, deliveries, rate=settings.telegram_rate_per_second,
                                   per_chat=settings.telegram_rate_per_chat, in_flight=settings.outbox_in_flight)
        self.scheduler = AsyncIOScheduler(timezone=settings.zone)
        self._sending: asyncio.Task | None = None

    async def plan_now(self) -> int:
        now = self.clock.now()
        async with self.db.session() as session:
            added = await enqueue(session, await self.planner.plan(session, now), now)
        if added:
            log.info("planned %d reminder(s)", added)
            self.sender.wake.set()
        return added

    async def run_once(self) -> tuple[int, int]:
        """Plan what is due now and send everything due (`nguoitot remind run`)."""
        return await self.plan_now(), await self.sender.run_until_idle()

    def start(self) -> None:
        self.scheduler.add_job(self._plan_safely, IntervalTrigger(minutes=1), id="plan-reminders",
                               coalesce=True, max_instances=1, misfire_grace_time=None,
                               next_run_time=self.clock.now())
        self.scheduler.start()
        self._sending = asyncio.create_task(self.sender.run_forever(), name="outbox-sender")

    async def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        if self._sending is not None:
            self._sending.cancel()
            await asyncio.gather(self._sending, return_exceptions=True)

    async def _plan_safely(self) -> None:
        try:
            await self.plan_now()
        except Exception:  # a bad minute must not stop the schedule; the next run catches up
            log.exception("planning reminders failed")
