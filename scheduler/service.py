"""Runs the reminders: APScheduler plans what is due every minute into the outbox, and the outbox
sender drains it. Planning is idempotent and catches up on its own, so a missed run is simply
coalesced into the next one (misfires are handled by the planner's rules, not by APScheduler's).

Among several processes, one plans and one sends at a time (storage/locks.py: the "planner" and
"sender" roles); another takes a role over within a minute of its holder's death. The planner's holder
also forgets old inbox rows (INBOX_RETENTION_DAYS) and finished outbox rows (OUTBOX_RETENTION_DAYS).

A pass is incremental and, once the schedule is started (PLANNER_PROCESS), runs in a worker process of its
own (scheduler/incremental.py); what it planned is written here, a chunk per unit of work, so the event loop
that answers people is never held for long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from common.clock import Clock
from common.delivery import Delivery
from common.settings import Settings
from scheduler import outbox, reminders
from scheduler.incremental import LocalPlanning, Pass, ProcessPlanning, communes_with_members
from scheduler.outbox import ANALYZE_AFTER, OutboxSender, Refresh, refresh_statistics
from storage import inbox
from storage.db import Database, is_unavailable, one_line
from storage.locks import LocalLocks, Locks

log = logging.getLogger(__name__)


ROLE_RETRY = 15.0  # seconds between tries to take a role another process holds
PRUNE_BATCHES = 50  # at most this many batches of old inbox (and outbox) rows forgotten a minute


class ReminderService:
    def __init__(self, db: Database, settings: Settings, clock: Clock, deliveries: Mapping[str, Delivery],
                 locks: Locks | None = None, *, plan: bool = True, send: bool = True,
                 sender_idle: float = 1.0, refreshers: Mapping[str, Refresh] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.locks = locks or LocalLocks()
        self.plans, self.sends = plan, send
        self.sender_idle = sender_idle  # seconds an idle sender waits before looking for due messages again
        self.planning: LocalPlanning | ProcessPlanning = LocalPlanning(db, settings)
        self.sender = OutboxSender(db, clock, deliveries, rate=settings.telegram_rate_per_second,
                                   per_chat=settings.telegram_rate_per_chat, in_flight=settings.outbox_in_flight,
                                   refreshers={reminders.DRAFT: partial(reminders.current_draft, clock=clock),
                                               **(refreshers or {})},
                                   channel_rates=settings.channel_rates())
        self.scheduler = AsyncIOScheduler(timezone=settings.zone)
        self._sending: asyncio.Task | None = None
        self._planning = asyncio.Lock()  # held while a planning pass runs: stopping waits for it
        self._stopping = False
        self._planned_as: int | None = None  # the lock generation the planner's state was built under
        self._choose_process = False  # started: choose at the first pass where to plan (PLANNER_PROCESS_FROM)
        self.last_pass: Pass | None = None  # what the latest pass re-planned (for the log and the tests)

    async def plan_now(self) -> int:
        """One pass: the communes due or changed are planned and what they give is written, a chunk per unit
        of work (scheduler/incremental.py); then the change-log rows read are deleted."""
        try:
            done = await self.planning.plan(self.clock.now())
        except BaseException:  # what was planned may not all be written: the next pass plans everything
            await asyncio.shield(self.planning.reset())
            raise
        added = done.added
        if added:
            self.sender.wake.set()
        self.last_pass = done
        if added >= ANALYZE_AFTER and not self.db.is_sqlite:
            async with self.db.session() as session:
                await refresh_statistics(session, added)
        if added:
            log.info("planned %d reminder(s)", added)
        if done.communes or done.provinces:
            log.debug("planning pass: %d commune(s), %d province(s)%s", len(done.communes), len(done.provinces),
                      " (all)" if done.full else "")
        return added

    async def run_once(self) -> tuple[int, int]:
        """Plan what is due now and send everything due (`nguoitot remind run`)."""
        return await self.plan_now(), await self.sender.run_until_idle()

    def start(self) -> None:
        if self.plans:
            self._choose_process = self.settings.planner_process
            self.scheduler.add_job(self._plan_safely, IntervalTrigger(minutes=1), id="plan-reminders",
                                   coalesce=True, max_instances=1, misfire_grace_time=None,
                                   next_run_time=self.clock.now())
            self.scheduler.start()
        if self.sends:
            self._sending = asyncio.create_task(self._send_when_holding(), name="outbox-sender")

    async def _send_when_holding(self) -> None:
        """Send while this process holds the sender role; it is checked again every ROLE_RETRY seconds (a
        lost lock connection gives it up, and another process may have taken it meanwhile)."""
        sending: asyncio.Task | None = None
        try:
            while True:
                holding = await self.locks.hold("sender")
                if holding and sending is None:
                    sending = asyncio.create_task(self.sender.run_forever(self.sender_idle), name="outbox: sending")
                elif not holding and sending is not None:
                    log.warning("outbox: the sender role went to another process; not sending here")
                    sending.cancel()
                    await asyncio.gather(sending, return_exceptions=True)
                    sending = None
                await asyncio.sleep(ROLE_RETRY)
        finally:
            if sending is not None:
                sending.cancel()
                await asyncio.gather(sending, return_exceptions=True)

    async def stop(self) -> None:
        self._stopping = True
        async with self._planning:  # a pass under way finishes (APScheduler's shutdown would cancel it)
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
        if self._sending is not None:
            self._sending.cancel()
            await asyncio.gather(self._sending, return_exceptions=True)
        await self.planning.close()

    async def _plan_safely(self) -> None:
        async with self._planning:
            if self._stopping:
                return
            if not await self.locks.hold("planner"):
                self._planned_as = None  # another process plans meanwhile, and reads the change log
                return
            try:
                if self._choose_process:  # once; a failed look is tried again at the next pass
                    await self._plan_in_a_process_if_large()
                    self._choose_process = False
                if self._planned_as != self.locks.generation:  # (again) the holder: plan everything once
                    await self.planning.reset()
                    self._planned_as = self.locks.generation
                await self.plan_now()
                await self.forget_old_updates()
                await self.forget_old_messages()
            except Exception as error:  # a bad minute must not stop the schedule; the next run catches up
                if is_unavailable(error):
                    log.warning("planning reminders: database unavailable (%s); the next minute catches up",
                                one_line(error))
                else:
                    log.exception("planning reminders failed")

    async def _plan_in_a_process_if_large(self) -> None:
        """A worker process of its own once the communes with members reach PLANNER_PROCESS_FROM: below that a
        pass takes milliseconds on the loop, and an extra interpreter would cost more than it saves."""
        async with self.db.session() as session:
            communes = await communes_with_members(session)
        if communes >= self.settings.planner_process_from:
            await self.planning.close()
            self.planning = ProcessPlanning(self.db, self.settings)
            self._planned_as = None

    async def forget_old_updates(self) -> int:
        return await self._prune(inbox.prune, inbox.retention_cutoff(self.settings.inbox_retention_days),
                                 inbox.PRUNE_BATCH)

    async def forget_old_messages(self) -> int:
        """Finished outbox rows older than OUTBOX_RETENTION_DAYS, a batch per unit of work (at most PRUNE_BATCHES
        a minute: 50,000 rows on PostgreSQL, 5,000 on SQLite, where a first run on a year of history catches up
        over hours; a day's reminders are at most ~60,000 rows)."""
        cutoff = self.clock.now() - timedelta(days=self.settings.outbox_retention_days)
        forgotten = await self._prune(outbox.prune, cutoff,
                                      outbox.PRUNE_BATCH_SQLITE if self.db.is_sqlite else outbox.PRUNE_BATCH)
        if forgotten:
            log.info("outbox: forgot %d finished message(s) due before %s", forgotten, f"{cutoff:%Y-%m-%d}")
        return forgotten

    async def _prune(self, prune: Callable[..., Awaitable[int]], cutoff: datetime, size: int) -> int:
        """Rows older than `cutoff`, `size` at a time, each batch in its own unit of work, at most PRUNE_BATCHES."""
        forgotten = 0
        for _ in range(PRUNE_BATCHES):
            async with self.db.session() as session:
                batch = await prune(session, cutoff, size)
            forgotten += batch
            if batch < size:
                break
            await asyncio.sleep(0)  # messages waiting for the database go between two batches
        return forgotten
