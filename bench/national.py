"""National scale (issue 17): the figures of the issue's table on a seeded national data set, before and after.

    python bench/national.py [--db sqlite|postgres|both] [--scale 0.1,0.33,1] [--postgres-url URL]
        [--load-seconds 15] [--submits 100] [--no-cache]

The data set (bench/_national_seed.py) is seeded through the project's models: 34 provinces and 3,321 communes
at scale 1 (an even slice of them at 0.1 or 0.33), ~63,600 units, ~80,000 people, 100,000 cases since 2024,
drafts, reminder settings, moved and one-off deadlines, and an outbox of one year of sent messages (~1.3
million rows). A seeded SQLite file is kept under .bench-cache/ (by scale, seed version and migration head)
and copied for each run; PostgreSQL is seeded into a schema of its own, dropped at the end.

Everything is measured in this process, through the public entry points the bot itself uses, so that the
code measured may change underneath:
  planning    `ReminderService.plan_now()` at an ordinary minute (2026-12-05 14:17, after one warm-up pass),
              at 08:00 on a reminder day (2026-12-06, 14 days before the Q4 deadline: rows planned, growth of
              the peak RSS), and the three minutes after it; meanwhile a ticker task on the event loop records
              the longest gap between its ticks beyond its period (the longest stall a user would see).
  claims      during the 08:00 burst: the sender's claim of a batch (`OutboxSender._claim`), 20 times, after
              its idle look at 07:59:59 (a running sender looks every idle second).
  submit      cadres complete a nomination through `Core.handle` (as tests/chat.py drives it), one after the
              other; the time of the final "Gửi" step (writes the case, tells the secretaries).
  /thongke    of an official of the largest province, and /danhsach page 1 for them and for the secretary of
              the busiest commune, through `Core.handle` (the chart, drawn in a worker process after the
              unit of work, is left out: `core.charts` is None), median of 5 after one warm-up.
  load        cadres send nomination messages at 100 updates/s as the bot takes them (each stored in the inbox
              by the intake, durably, then handled as stored: `Core.handle_stored`; open loop: latency from
              the moment an update was due, so a stalled loop counts in full) while the next reminder morning
              (2026-12-13, 7 days before the deadline; the first one's messages marked delivered) is planned
              (08:00, then the next minute) and the sender delivers it to fake channels (30/s). The simulated
              cadres share the event loop with the bot: when it stalls, fewer updates are sent (counted).
  size        the database and the outbox (one year of messages), and per year.

Figures are printed beside the issue's measurements (the "before") and its targets; this is not a test. Each
run also prints the machine's CPU pressure and the time of a reference loop: on the shared 2-core machine, other
work slows every figure (at 98% CPU pressure the passes took 3-5 times the issue's).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import itertools
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from PIL import Image
from sqlalchemy import func, select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _harness import cpu_stalled, postgres_problem  # noqa: E402
from _national_seed import SEED_VERSION, ZONE, Seeded, seed  # noqa: E402

from bot.app import App, build_app, settle_memory  # noqa: E402
from bot.intake import Intake  # noqa: E402
from common.events import Inbound, InboundKind, MediaRef, Reply  # noqa: E402
from common.messages import t  # noqa: E402
from common.settings import Settings  # noqa: E402
from scheduler.service import ReminderService  # noqa: E402
from storage.db import MIGRATIONS, Database  # noqa: E402
from storage.inbox import Received  # noqa: E402
from storage.models import Outbox, OutboxStatus  # noqa: E402

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
CACHE = ROOT / ".bench-cache"
ORDINARY = datetime(2026, 12, 5, 14, 17, tzinfo=ZONE)
MORNING = datetime(2026, 12, 6, 8, 0, tzinfo=ZONE)  # 14 days before 20/12/2026 23:59
AFTER_MORNING = datetime(2026, 12, 6, 9, 30, tzinfo=ZONE)  # submits, /thongke, /danhsach
LOAD_MORNING = MORNING + timedelta(days=7)  # 7 days before the deadline: the cadre load's morning
TICK = 0.005  # the ticker's period, seconds
RATE = 100.0  # cadre updates per second in the load
WARM_UPDATES = 20  # handled before the load is measured
SUBMITTED = "Đã gửi hồ sơ"
FAILURE_TEXTS = frozenset({t("error.unexpected"), t("error.busy")})
DESCRIPTION = "Anh Hùng lặn xuống sông cứu một em nhỏ bị đuối nước, rồi lặng lẽ về nhà không để lại tên."


# ---- the figures (the "before") and its targets: (SQLite, PostgreSQL)

BEFORE: dict[str, dict[float, tuple[str, str]]] = {
    "ordinary": {0.1: ("0.25 s", "0.48 s"), 1: ("9.8 s", "8.4 s")},
    "morning": {0.1: ("0.49 s", "1.7 s"), 1: ("14.3 s (+225 MB)", "14.1 s (+225 MB)")},
    "following": {0.1: ("0.34 s", "0.75 s"), 1: ("12.8 s", "11.0 s")},
    "stall": {0.1: ("0.5 s", "0.2 s"), 1: ("the whole pass", "5.6 s")},
    "submit": {0.1: ("p50 6.5 ms", "–"), 1: ("p50 44 ms, p99 104 ms", "–")},
    "thongke": {0.1: ("113 ms", "112 ms"), 1: ("255 ms", "144 ms")},
    "claim": {1: ("1.7 ms", "32 ms")},
    "outbox": {1: ("~0.85 GB a year, 70% of the database", "~0.85 GB a year, 70% of the database")},
}
TARGET = {
    "ordinary": "≤ 0.5 s", "morning": "≤ 5 s", "following": "≤ 0.5 s", "stall": "≤ 20 ms",
    "submit": "p50 ≤ 10 ms", "thongke": "≤ 50 ms", "danhsach": "≤ 20 ms", "claim": "≤ 5 ms (PostgreSQL)",
    "load": "p99 ≤ 50 ms", "outbox": "pruned after 90 days; size per year stated",
}


# ---- small measuring tools


class MovingClock:
    """Business time: set to a moment, then runs with real time (the sender's leases and due times need
    time to pass; the planner's moment is what it was set to when it asks)."""

    def __init__(self, at: datetime) -> None:
        self.set(at)

    def set(self, at: datetime) -> None:
        self.at, self.started = at, time.monotonic()

    def now(self) -> datetime:
        return self.at + timedelta(seconds=time.monotonic() - self.started)


class Ticker:
    """A task that wakes every TICK seconds and keeps the longest gap beyond TICK: how long the event loop
    could not run anything else (a user's update included)."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last - TICK)
            last = now

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def rss_mb(field_name: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    """Linux: make VmHWM start again from the current RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False



def reference_loop() -> float:
    """Seconds a fixed piece of pure Python takes here now: the machine's speed at the moment (other work on
    it slows everything measured; ~0.05 s on an idle core of the machine these were written on)."""
    started = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i % 7
    return time.perf_counter() - started


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered), max(1, math.ceil(p * len(ordered)))) - 1] if ordered else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


class FakeDelivery:
    """A channel that takes every message after `latency` seconds (a Bot API call on a good network)."""

    def __init__(self, latency: float = 0.03) -> None:
        self.latency = latency
        self.sent = 0

    async def deliver(self, chat_id: str, reply: Reply) -> None:
        await asyncio.sleep(self.latency)
        self.sent += 1


# ---- the planning passes


@dataclass
class Pass:
    seconds: float
    added: int
    stall: float
    rss_growth: float = float("nan")


async def planning_pass(service: ReminderService, clock: MovingClock, at: datetime, *, rss: bool = False) -> Pass:
    """One `plan_now()` at `at`, with the longest stall of the event loop meanwhile."""
    clock.set(at)
    gc.collect()
    before = rss_mb()
    peak_reset = rss and reset_peak_rss()
    with Ticker() as ticker:
        await asyncio.sleep(2 * TICK)  # the ticker runs before the pass starts
        started = time.perf_counter()
        added = await service.plan_now()
        seconds = time.perf_counter() - started
        await asyncio.sleep(2 * TICK)  # the ticker's first tick after the pass
    growth = rss_mb("VmHWM") - before if peak_reset else float("nan")
    return Pass(seconds, added, ticker.longest, growth)


async def claim_times(service: ReminderService, clock: MovingClock, count: int = 20) -> tuple[list[float], int]:
    """How long the sender takes to claim a batch while the morning's rows are all due; then the claimed rows
    are given back (status pending, no lease), so the burst stays whole for what follows."""
    sender = service.sender
    clock.set(MORNING - timedelta(seconds=1))  # a running sender looks every idle second: its last look before
    await sender._claim()                      # 08:00 (its connection open, its statements prepared)
    clock.set(MORNING + timedelta(seconds=30))
    times, claimed = [], 0
    for _ in range(count):
        started = time.perf_counter()
        rows = await sender._claim()  # the sender's claim of one batch (its only way to take due rows)
        times.append(time.perf_counter() - started)
        claimed += len(rows)
    async with service.db.session() as session:
        await session.execute(update(Outbox).where(Outbox.status == OutboxStatus.SENDING)
                              .values(status=OutboxStatus.PENDING, lease_until=None))
    return times, claimed


async def deliver_the_week(db: Database) -> None:
    """What is still queued counts as delivered during the week between two reminder mornings (as the sender
    would have done), so that the next morning's burst is the only one due."""
    async with db.session() as session:
        await session.execute(update(Outbox).where(Outbox.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
                              .values(status=OutboxStatus.SENT, sent_at=Outbox.due_at, lease_until=None))


async def due_now(db: Database, at: datetime) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Outbox).where(
            Outbox.status == OutboxStatus.PENDING, Outbox.due_at <= at)) or 0)


# ---- people talking to the core


def photo_bytes(n: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), ((n * 67) % 256, (n * 131) % 256, 90)).save(buffer, "JPEG", comment=str(n))
    return buffer.getvalue()


class StoredIds:
    """Stands for the intake's worker: takes the ids of the rows the intake stored."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def hand_over(self, rows: list[Any]) -> None:
        self.ids.update((row.payload["bench"], row.id) for row in rows)


class Person:
    """Someone writing to the bot through the core, as tests/chat.py does; with an intake, as the bot itself
    takes an update: stored in the inbox first (durably, one by one as webhooks come), then handled as stored."""

    def __init__(self, core: Any, chat_id: str, intake: Intake | None = None) -> None:
        self.core, self.chat_id, self.intake = core, chat_id, intake
        self.files: dict[str, bytes] = {}
        self.stored: list[float] = []  # how long each update took to store

    async def fetch(self, ref: MediaRef) -> bytes:
        return self.files[ref.file_id]

    async def send(self, step: str | bytes) -> list[Reply]:
        common = {"channel": "telegram", "user_id": self.chat_id, "chat_id": self.chat_id, "display_name": "Cán bộ"}
        if isinstance(step, bytes):
            file_id = f"f{len(self.files)}"
            self.files[file_id] = step
            event = Inbound(kind=InboundKind.MEDIA, media=(MediaRef(file_id, "photo", len(step), "image/jpeg"),),
                            **common)
        elif step.startswith("/"):
            head, _, args = step.partition(" ")
            event = Inbound(kind=InboundKind.COMMAND, command=head[1:], args=args, text=step, **common)
        else:
            event = Inbound(kind=InboundKind.TEXT, text=step, **common)
        if self.intake is None:
            return await self.core.handle(event, self.fetch)
        key = uuid.uuid4().hex
        started = time.perf_counter()
        await self.intake.receive([Received("telegram", key, self.chat_id, "message", {"bench": key})])
        self.stored.append(time.perf_counter() - started)
        return (await self.core.handle_stored(event, self.fetch, [self.intake.worker.ids.pop(key)])).replies


def nomination(name: str, photo: bytes) -> list[str | bytes]:
    """The typed individual nomination of bench/flow_throughput.py (16 updates, the last one submits)."""
    return ["/decu", "1", name, "1990", "kinh", "bo qua", "1", "1", "1", DESCRIPTION, "hom nay", photo,
            "xong", "bo qua", "co", "gui"]


@dataclass
class Submits:
    submit: list[float] = field(default_factory=list)
    others: list[float] = field(default_factory=list)
    failed: int = 0


async def submit_steps(app: App, clock: MovingClock, chats: list[str]) -> Submits:
    """Each cadre completes one nomination, one after the other; the final step is the submit."""
    clock.set(AFTER_MORNING)
    found = Submits()
    for i, chat in enumerate(chats):
        person = Person(app.core, chat)
        steps = nomination(f"Người tốt số {i} {uuid.uuid4().hex[:6]}", photo_bytes(i))
        for n, step in enumerate(steps):
            started = time.perf_counter()
            replies = await person.send(step)
            elapsed = time.perf_counter() - started
            if n == len(steps) - 1:
                found.submit.append(elapsed)
                found.failed += not (replies and replies[-1].text.startswith(SUBMITTED))
            else:
                found.others.append(elapsed)
    return found


async def command_times(app: App, clock: MovingClock, chat: str, command: str, runs: int = 5) -> tuple[list[float], str]:
    """A command through the core, after one warm-up: the times and the first line of the answer."""
    clock.set(AFTER_MORNING)
    person = Person(app.core, chat)
    charts, app.core.charts = app.core.charts, None  # the numbers, not the picture drawn after the unit of work
    try:
        first = await person.send(command)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            await person.send(command)
            times.append(time.perf_counter() - started)
    finally:
        app.core.charts = charts
    return times, (first[0].text.splitlines()[0] if first else "(no answer)")


# ---- the cadre load during a reminder morning


@dataclass
class Load:
    samples: list[float]
    offered: int
    missed: int  # ticks without a cadre ready
    seconds: float
    passes: list[Pass]
    sent: int
    stall: float
    failures: int
    stored: list[float]  # of each update's time, storing it in the inbox


class Cadre:
    def __init__(self, core: Any, chat: str, index: int, intake: Intake) -> None:
        self.person = Person(core, chat, intake)
        self.script = itertools.chain.from_iterable(
            nomination(f"Gương sáng {index}.{n} {uuid.uuid4().hex[:4]}", photo_bytes(index * 100 + n))
            for n in itertools.count())


async def morning_load(app: App, service: ReminderService, clock: MovingClock, deliveries: list[FakeDelivery],
                       chats: list[str], seconds: float) -> Load:
    """Cadres at RATE updates/s while a reminder morning is planned (08:00, then the next minute) and sent: the
    morning a week after the one measured alone (a planner that remembers what it planned, or plans only what
    changed, still has a morning to plan)."""
    await deliver_the_week(service.db)
    clock.set(LOAD_MORNING - timedelta(seconds=2))
    intake = Intake(app.db, StoredIds())  # type: ignore[arg-type]
    ready = [Cadre(app.core, chat, i, intake) for i, chat in enumerate(chats)]
    # A bot that has been answering for a while: its connections for handling stored updates are open.
    await asyncio.gather(*(cadre.person.send(next(cadre.script)) for cadre in ready[:WARM_UPDATES]))
    samples: list[float] = []
    stored: list[float] = []
    failures = 0
    in_flight: set[asyncio.Task] = set()

    async def one(cadre: Cadre, due: float) -> None:
        nonlocal failures
        replies = await cadre.person.send(next(cadre.script))
        samples.append(time.perf_counter() - due)
        stored.append(cadre.person.stored[-1])
        failures += any(r.text in FAILURE_TEXTS for r in replies)
        ready.append(cadre)

    async def planner() -> list[Pass]:
        await asyncio.sleep(2.0)
        passes = []
        for at in (LOAD_MORNING, LOAD_MORNING + timedelta(minutes=1)):  # a pass over a minute: the next at once
            clock.set(at)
            started = time.perf_counter()
            added = await service.plan_now()
            passes.append(Pass(time.perf_counter() - started, added, float("nan")))
        return passes

    sent_before = sum(d.sent for d in deliveries)
    sending = asyncio.create_task(service.sender.run_forever(0.5))
    offered = missed = 0
    with Ticker() as ticker:
        await asyncio.sleep(2 * TICK)
        planning = asyncio.create_task(planner())
        start = time.perf_counter()
        end = start + seconds
        while True:
            due = start + offered / RATE
            if due >= end and planning.done():
                break
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            offered += 1
            if not ready:
                missed += 1
                continue
            task = asyncio.create_task(one(ready.pop(0), due))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        passes = await planning
        if in_flight:
            await asyncio.gather(*in_flight)
        elapsed = time.perf_counter() - start
        stall = ticker.longest
    sending.cancel()
    with suppress(asyncio.CancelledError):
        await sending
    return Load(samples, offered, missed, elapsed, passes, sum(d.sent for d in deliveries) - sent_before, stall,
                failures, stored)


# ---- sizes


@dataclass
class Sizes:
    database: int
    outbox: int
    outbox_rows: int

    def per_year(self) -> tuple[float, float]:
        """(outbox, the rest) per year: the outbox holds one year of messages, the rest ~2.9 years of cases."""
        rest_years = (datetime(2026, 12, 6) - datetime(2024, 1, 2)).days / 365
        return self.outbox, (self.database - self.outbox) / rest_years


async def sizes(db: Database) -> Sizes:
    async with db.session() as session:
        rows = int(await session.scalar(select(func.count()).select_from(Outbox)) or 0)
        if db.is_sqlite:
            total = (await session.execute(text("SELECT page_count * page_size FROM pragma_page_count, "
                                                "pragma_page_size"))).scalar_one()
            try:
                outbox = (await session.execute(text(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name = 'outbox' OR name IN "
                    "(SELECT name FROM sqlite_master WHERE tbl_name = 'outbox' AND type = 'index')"))).scalar_one()
            except Exception:  # dbstat not compiled in
                outbox = 0
        else:
            found = (await session.execute(text(
                "SELECT SUM(pg_total_relation_size(c.oid)), SUM(pg_total_relation_size(c.oid)) "
                "FILTER (WHERE c.relname = 'outbox') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind = 'r'"))).one()
            total, outbox = found
    return Sizes(int(total or 0), int(outbox or 0), rows)


# ---- databases


def migration_head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head() or "none"


@asynccontextmanager
async def sqlite_database(scale: float, folder: Path, use_cache: bool) -> AsyncIterator[tuple[Settings, Seeded, float]]:
    """A copy of the cached seeded file (seeded first if need be); yields settings, what was seeded and the
    seconds seeding took (0 when cached)."""
    CACHE.mkdir(exist_ok=True)
    cached = CACHE / f"national-{scale:g}-v{SEED_VERSION}-{migration_head()}.db"
    meta = cached.with_suffix(".json")
    seconds = 0.0
    if not use_cache or not cached.exists() or not meta.exists():
        building = cached.with_suffix(".building")
        for stale in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
            stale.unlink(missing_ok=True)
        db = Database(f"sqlite:///{building}")
        started = time.perf_counter()
        try:
            await db.upgrade()
            seeded = await seed(db, scale)
            async with db.engine.connect() as conn:
                await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        finally:
            await db.dispose()
        seconds = time.perf_counter() - started
        meta.write_text(json.dumps(seeded.to_json()))
        building.replace(cached)
    path = folder / "national.db"
    shutil.copyfile(cached, path)
    seeded = Seeded(**json.loads(meta.read_text()))
    yield settings_for(f"sqlite:///{path}", "", folder), seeded, seconds


@asynccontextmanager
async def postgres_database(url: str, scale: float, folder: Path) -> AsyncIterator[tuple[Settings, Seeded, float]]:
    schema = f"nt_national_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = Database(url)
    async with admin.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        db = Database(url, schema=schema)
        started = time.perf_counter()
        try:
            await db.upgrade()
            seeded = await seed(db, scale)
            async with db.alone() as conn:  # autovacuum would have done both by now (the visibility map lets
                await conn.execute(text("VACUUM ANALYZE"))  # a count read an index alone)
                # The seeding wrote gigabytes of log: the server would checkpoint every 20 s through the measures
                # (each checkpoint's fsync held up commits by 0.2-0.5 s) where a running one has long caught up.
                await conn.execute(text("CHECKPOINT"))
        finally:
            await db.dispose()
        yield settings_for(url, schema, folder), seeded, time.perf_counter() - started
    finally:
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


def settings_for(url: str, schema: str, folder: Path) -> Settings:
    return Settings(_env_file=None, database_url=url, database_schema=schema, media_dir=folder / "media",
                    exports_dir=folder / "exports", telegram_bot_token="", TZ=str(ZONE))



# ---- one run


@dataclass
class Run:
    database: str
    scale: float
    seeded: Seeded
    seed_seconds: float
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    pressure: float | None = None  # share of the run in which some task waited for a core
    reference: float = 0.0  # reference_loop() at the start of the run


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


async def measure(name: str, scale: float, settings: Settings, seeded: Seeded, seed_seconds: float,
                  args: argparse.Namespace) -> Run:
    run = Run(name, scale, seeded, seed_seconds, reference=reference_loop())
    started, stalled = time.perf_counter(), cpu_stalled()
    clock = MovingClock(ORDINARY)
    app = await build_app(settings, clock=clock, migrate=False)
    deliveries = [FakeDelivery() for _ in range(3)]
    service = ReminderService(app.db, settings, clock, dict(zip(("telegram", "zalo", "web"), deliveries, strict=True)))
    f = run.figures
    try:
        # As `nguoitot run` does at its first scheduled pass: plan in a worker process of its own when the
        # communes with members reach PLANNER_PROCESS_FROM (every scale here), else on the loop.
        if settings.planner_process:
            await service._plan_in_a_process_if_large()
        f["sizes"] = await sizes(app.db)  # as seeded: one year of outbox, nothing the bench planned yet
        settle_memory()  # as `nguoitot run` does once started, with SQLite's background checkpoints
        app.db.start_checkpoints()
        label = f"{name} ×{scale:g}"
        progress(f"{label}: planning at an ordinary minute (a warm-up pass first)")
        base, tracked = rss_mb(), reset_peak_rss()
        await planning_pass(service, clock, ORDINARY - timedelta(minutes=1))
        f["ordinary"] = await planning_pass(service, clock, ORDINARY)
        peak = rss_mb("VmHWM") if tracked else float("nan")
        progress(f"{label}: the 08:00 pass of a reminder day")
        f["morning"] = await planning_pass(service, clock, MORNING, rss=True)
        f["rss_first"] = max(peak, rss_mb("VmHWM")) - base  # the planner's peak since before its first pass
        f["due"] = await due_now(app.db, MORNING + timedelta(seconds=30))
        progress(f"{label}: claims during the burst ({f['due']:,} rows due)")
        f["claims"] = await claim_times(service, clock)
        progress(f"{label}: the following minutes")
        f["following"] = [await planning_pass(service, clock, MORNING + timedelta(minutes=m)) for m in (1, 2, 3)]
        cadres = seeded.load_cadres
        progress(f"{label}: {args.submits} nominations through the core")
        f["submits"] = await submit_steps(app, clock, cadres[:args.submits])
        progress(f"{label}: /thongke and /danhsach")
        f["thongke"] = await command_times(app, clock, seeded.province_official, "/thongke")
        f["danhsach_province"] = await command_times(app, clock, seeded.province_official, "/danhsach")
        f["danhsach_commune"] = await command_times(app, clock, seeded.busiest_secretary, "/danhsach")
        progress(f"{label}: cadres at {RATE:g} updates/s through a reminder morning")
        f["load"] = await morning_load(app, service, clock, deliveries, cadres[args.submits:args.submits + 300],
                                       args.load_seconds)
    finally:
        await service.planning.close()
        await app.close()
    run.seconds = time.perf_counter() - started
    if stalled is not None and (now := cpu_stalled()) is not None:
        run.pressure = (now - stalled) / run.seconds
    return run


# ---- report


def before(run: Run, key: str) -> str:
    pair = BEFORE.get(key, {}).get(run.scale)
    if pair is None:
        return "–"
    return pair[0] if run.database == "SQLite" else pair[1]


def report(run: Run) -> None:
    f, s = run.figures, run.seeded
    print(f"\n{run.database}, scale {run.scale:g}: {s.communes:,} communes, {s.units:,} units, {s.people:,} people, "
          f"{s.cases:,} cases, {s.drafts:,} drafts, {s.deadlines:,} deadline rows, {s.outbox:,} outbox rows; "
          f"seeded in {run.seed_seconds:.0f} s{' (cached)' if not run.seed_seconds else ''}, "
          f"measured in {run.seconds:.0f} s")
    pressure = f"{run.pressure:.0%}" if run.pressure is not None else "unknown"
    print(f"  machine: CPU pressure {pressure} of the run (time some task waited for a core), reference loop "
          f"{run.reference * 1000:.0f} ms (≈50 ms on an idle core): other work on the machine inflates every time")
    rows: list[tuple[str, str, str, str]] = []
    o, m = f["ordinary"], f["morning"]
    rows.append(("planning pass, ordinary minute", before(run, "ordinary"), f"{ms(o.seconds)} ({o.added} rows)",
                 TARGET["ordinary"]))
    rows.append(("planning pass, 08:00 of a reminder day", before(run, "morning"),
                 f"{ms(m.seconds)} ({m.added:,} rows planned; peak RSS +{m.rss_growth:.0f} MB over the RSS before it, "
                 f"+{f['rss_first']:.0f} MB over the RSS before the first pass)", TARGET["morning"]))
    following = f["following"]
    rows.append(("each following minute (3 passes)", before(run, "following"),
                 " / ".join(ms(p.seconds) for p in following) + f" ({sum(p.added for p in following)} rows)",
                 TARGET["following"]))
    stall = max([o.stall, m.stall, *(p.stall for p in following)])
    rows.append(("longest event-loop stall during a pass", before(run, "stall"),
                 f"{ms(stall)} (ordinary {ms(o.stall)}, 08:00 {ms(m.stall)}, next {ms(following[0].stall)})",
                 TARGET["stall"]))
    sub = f["submits"]
    rows.append(("submit step", before(run, "submit"),
                 f"p50 {ms(statistics.median(sub.submit))}, p99 {ms(percentile(sub.submit, 0.99))} "
                 f"({len(sub.submit)} submits{f', {sub.failed} FAILED' if sub.failed else ''}; other steps p50 "
                 f"{ms(statistics.median(sub.others))})", TARGET["submit"]))
    times, first = f["thongke"]
    rows.append((f"/thongke, an official of the largest province ({s.largest_province})", before(run, "thongke"),
                 f"{ms(statistics.median(times))} (max {ms(max(times))}): “{first[:50]}”", TARGET["thongke"]))
    for key, who in (("danhsach_province", "that official"), ("danhsach_commune", "the busiest commune's secretary")):
        times, first = f[key]
        rows.append((f"/danhsach page 1, {who}", "–", f"{ms(statistics.median(times))} (max {ms(max(times))}): "
                     f"“{first[:40]}”", TARGET["danhsach"]))
    claims, claimed = f["claims"]
    rows.append((f"outbox claim during the 08:00 burst ({f['due']:,} rows due)", before(run, "claim"),
                 f"median {ms(statistics.median(claims))}, max {ms(max(claims))} ({len(claims)} claims, "
                 f"{claimed:,} rows)", TARGET["claim"]))
    sz: Sizes = f["sizes"]
    outbox_year, rest_year = sz.per_year()
    share = f"{sz.outbox / sz.database:.0%}" if sz.database and sz.outbox else "?"
    rows.append(("database / outbox size", before(run, "outbox"),
                 f"{sz.database / 1e6:,.0f} MB, outbox {sz.outbox / 1e6:,.0f} MB ({share}; {sz.outbox_rows:,} rows, "
                 f"one year); per year: outbox {outbox_year / 1e6:,.0f} MB + the rest {rest_year / 1e6:,.0f} MB",
                 TARGET["outbox"]))
    load: Load = f["load"]
    due = max(load.offered, round(load.seconds * RATE))
    passes = " + ".join(f"{ms(p.seconds)} ({p.added:,} rows)" for p in load.passes)
    rows.append((f"cadres at {RATE:g} updates/s during a reminder morning ({LOAD_MORNING:%d/%m})", "–",
                 f"p50 {ms(percentile(load.samples, 0.5))}, p99 {ms(percentile(load.samples, 0.99))}, max "
                 f"{ms(max(load.samples, default=0))} ({len(load.samples):,} updates answered in {load.seconds:.0f} s "
                 f"of the {due:,} due: {load.offered - load.missed:,} sent, {load.missed} due with no cadre ready"
                 f"{f', {due - load.offered:,} never sent, the loop being busy' if due > load.offered else ''}"
                 f"{f', {load.failures} error replies' if load.failures else ''}"
                 f"; storing in the inbox p50 {ms(percentile(load.stored, 0.5))}, p99 {ms(percentile(load.stored, 0.99))}"
                 f"; passes {passes}; {load.sent:,} reminders sent (live replies go first); stall {ms(load.stall)})",
                 TARGET["load"]))
    width = max(len(r[0]) for r in rows)
    bwidth = max(len(r[1]) for r in rows)
    print(f"  {'what':<{width}}  {'before (issue 17)':<{bwidth}}  now  [target]")
    for what, was, now, target in rows:
        print(f"  {what:<{width}}  {was:<{bwidth}}  {now}  [{target}]")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--scale", default="0.1,1", help="comma-separated shares of the country (0.1,0.33,1)")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--load-seconds", type=float, default=15.0,
                        help="the cadre load lasts this long at least, and until both planning passes are done")
    parser.add_argument("--submits", type=int, default=100, help="nominations whose submit step is timed")
    parser.add_argument("--no-cache", dest="cache", action="store_false", help="seed SQLite afresh (and cache it)")
    args = parser.parse_args(argv)
    try:
        args.scales = [float(x) for x in args.scale.split(",") if x.strip()]
    except ValueError:
        parser.error("--scale takes numbers, e.g. 0.1,0.33,1")
    if not args.scales or any(not 0 < x <= 1 for x in args.scales):
        parser.error("each scale must be within (0, 1]")
    return args


async def bench(args: argparse.Namespace) -> list[Run]:
    runs = []
    databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    for database in databases:
        if database == "postgres" and (problem := await postgres_problem(args.postgres_url)):
            print(f"\nPostgreSQL at {args.postgres_url} unreachable ({problem}): skipped", flush=True)
            continue
        for scale in args.scales:
            with tempfile.TemporaryDirectory(prefix="nguoitot-national-") as tmp:
                folder = Path(tmp)
                name = "SQLite" if database == "sqlite" else "PostgreSQL"
                progress(f"{name} ×{scale:g}: preparing the data set")
                opened = sqlite_database(scale, folder, args.cache) if database == "sqlite" else \
                    postgres_database(args.postgres_url, scale, folder)
                async with opened as (settings, seeded, seconds):
                    run = await measure(name, scale, settings, seeded, seconds, args)
                report(run)
                runs.append(run)
    return runs


async def _timed(work: Callable[[], Awaitable[list[Run]]]) -> tuple[list[Run], float]:
    started = time.perf_counter()
    return await work(), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # As in the tests (pyproject.toml): session.execute() is used on purpose for statements other than SELECT.
    warnings.filterwarnings("ignore", message=r"\s*.*You probably want to use `session.exec\(\)`")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"nguoitot national benchmark (issue 17): databases {args.db}, scales {args.scale}; {os.cpu_count()} "
          f"cores, load average {load}", flush=True)
    try:
        _, seconds = asyncio.run(_timed(lambda: bench(args)))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(f"\nwhole run {seconds / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
