"""Helpers of bench/fanout.py: the seeded world, the business clock, and the sender process.

Run as a script, this file is the sender process: it drains the outbox through Telegram exactly as
`nguoitot run` does (the OutboxSender that ReminderService builds from the settings), then prints one
JSON line with what it did. Configured by the environment like the bot (DATABASE_URL,
DATABASE_SCHEMA, TELEGRAM_*, OUTBOX_IN_FLIGHT) plus FANOUT_MOMENT (ISO business time to start at)
and FANOUT_SECONDS (real-time budget); FANOUT_PROFILE=<file> profiles it (cProfile, main thread).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: bot/, storage/, scheduler/ are here
    sys.path.insert(0, str(ROOT))

from bot.app import settle_memory  # noqa: E402
from bot.channels.telegram import TelegramChannel, make_bot  # noqa: E402
from common.settings import Settings  # noqa: E402
from common.text import fold  # noqa: E402
from scheduler.outbox import OutboxSender  # noqa: E402
from scheduler.service import ReminderService  # noqa: E402
from storage.communes import OfficialCommune  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Account, Commune, Membership, Outbox, OutboxStatus, Person, Role, Unit  # noqa: E402

FIRST_CHAT = 1_000_001


class BusinessClock:
    """Business time: starts at `moment`, runs with real time, and `skip_to` jumps over idle waits.

    Retries are due seconds to minutes later (5xx backoff 2, 4, 8… s of business time). Waiting for
    them in real time would measure the backoff policy, not the sender, and the tail would weigh far
    more at the benchmark's compressed rate than at Telegram's 30/s; so when nothing is due the clock
    jumps to the next due row, as the tests advance their frozen clock.
    """

    def __init__(self, moment: datetime) -> None:
        self.moment = moment
        self.started = time.monotonic()
        self.skipped = timedelta()

    def now(self) -> datetime:
        return self.moment + timedelta(seconds=time.monotonic() - self.started) + self.skipped

    def skip_to(self, when: datetime) -> None:
        self.skipped += max(timedelta(), when - self.now())


# ---- the seeded world


async def seed_world(db: Database, communes: Sequence[OfficialCommune], cadres: int, now: datetime) -> list[int]:
    """Each commune: a secretary, and `cadres` cadres each in a village of their own that has sent
    nothing. One Telegram chat per person; returns the chat ids."""
    async with db.session() as session:
        await session.execute(insert(Commune), [
            {"code": c.code, "name": c.name, "province_code": c.province_code, "province_name": c.province_name}
            for c in communes])
        units = await _insert_ids(session, Unit, [
            {"commune_code": c.code, "kind": "village", "name": f"Thôn {v}", "name_key": fold(f"Thôn {v}")}
            for c in communes for v in range(1, cadres + 1)])
        # The secretaries (no unit), then each commune's cadres, one per village in the order of `units`.
        roles = [(c.code, Role.SECRETARY, None) for c in communes]
        roles += [(c.code, Role.CADRE, units[i * cadres + v]) for i, c in enumerate(communes) for v in range(cadres)]
        people = await _insert_ids(session, Person, [
            {"name": f"Người {i}, {role} {code}", "created_at": now} for i, (code, role, _) in enumerate(roles)])
        chats = [FIRST_CHAT + i for i in range(len(people))]
        await session.execute(insert(Account), [
            {"person_id": pid, "channel": "telegram", "external_id": str(chat), "chat_id": str(chat)}
            for pid, chat in zip(people, chats, strict=True)])
        await session.execute(insert(Membership), [
            {"person_id": pid, "role": role, "commune_code": code, "unit_id": unit, "created_at": now}
            for pid, (code, role, unit) in zip(people, roles, strict=True)])
    return chats


async def _insert_ids(session: AsyncSession, table: type, rows: list[dict]) -> list[int]:
    """Insert and return the new ids in the rows' order (one round trip per driver batch)."""
    statement = insert(table).returning(table.id, sort_by_parameter_order=True)
    return list((await session.execute(statement, rows)).scalars().all())


# ---- the sender process


async def drain(sender: OutboxSender, db: Database, clock: BusinessClock, seconds: float) -> tuple[int, int]:
    """Send until nothing is pending; returns (rows handled, passes). Bounded by `seconds` of real time."""
    deadline = time.monotonic() + seconds
    handled = passes = 0
    while time.monotonic() < deadline:
        passes += 1
        handled += await sender.run_until_idle()
        next_due = await _next_due(db)
        if next_due is None:
            return handled, passes
        clock.skip_to(next_due)
    raise TimeoutError(f"the outbox was not drained in {seconds:.0f} s ({handled} rows handled)")


async def _next_due(db: Database) -> datetime | None:
    async with db.session() as session:
        # A retried row waits for its retry_at (always after its due_at); a fresh one for its due_at.
        pending = await session.scalar(select(func.min(func.coalesce(Outbox.retry_at, Outbox.due_at)))
                                       .where(Outbox.status == OutboxStatus.PENDING))
        leased = await session.scalar(select(func.min(Outbox.lease_until))
                                      .where(Outbox.status == OutboxStatus.SENDING))
    found = [at for at in (pending, leased) if at is not None]
    return min(found) if found else None


async def worker() -> dict:
    settings = Settings(_env_file=None)
    clock = BusinessClock(datetime.fromisoformat(os.environ["FANOUT_MOMENT"]))
    db = Database(settings.database_url, schema=settings.database_schema)
    bot = make_bot(settings)
    started, cpu_before = time.monotonic(), cpu_seconds()  # imports excluded: they are not sending
    try:
        # The sender as production builds it: rate, per-chat rate and in-flight from the settings.
        sender = ReminderService(db, settings, clock, {"telegram": TelegramChannel(bot)}).sender
        settle_memory()  # as `nguoitot run` does once started
        db.start_checkpoints()
        handled, passes = await drain(sender, db, clock, float(os.environ["FANOUT_SECONDS"]))
    finally:
        await bot.session.close()
        await db.dispose()
    return {"handled": handled, "passes": passes, "skipped": clock.skipped.total_seconds(),
            "wall": time.monotonic() - started, "cpu": cpu_seconds() - cpu_before,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def cpu_seconds() -> float:
    """CPU time of this process, all threads (aiosqlite runs SQLite in one of its own)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    profile = os.environ.get("FANOUT_PROFILE")
    if not profile:
        print(json.dumps(asyncio.run(worker())), flush=True)
        return
    import cProfile

    with cProfile.Profile() as profiler:
        report = asyncio.run(worker())
    profiler.dump_stats(profile)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
