"""Reminder fan-out: plan 10,000 reminders for 10,000 chats, then send them through the outbox to the
fake Bot API server of the tests (tests/fakes/telegram_server.py), which enforces an overall limit and
answers 429 with retry_after beyond it. Prints figures beside their targets; this is not a test.

    python bench/fanout.py [--limit 200] [--messages 10000] [--error-rate 0.1] [--margin 0.97]
        [--postgres-url [URL]] [--seed 1]

For each database (a temporary SQLite file; PostgreSQL too with --postgres-url, in a private schema
created and dropped), two runs, each on a freshly seeded database:
  clean     every sendMessage succeeds unless over the limit;
  5xx       a random --error-rate of the sendMessage calls is answered 500; retries must still deliver
            everything exactly once.

Figures:
  planning  500 communes × (1 secretary + 19 cadres, each in a village of their own that has sent
            nothing) = 10,000 people, registered under the first 500 official commune codes; at
            2026-12-13 08:00 local, 7 days before the Q4 deadline, the planner itself yields one
            reminder each. `ReminderPlanner.plan` and `enqueue` (with its commit) are timed apart, then
            a re-plan a minute later, which the service does every minute (enqueue drops them all).
  rate      successful sends per second between the first and the last successful send, as the
            server saw them, ÷ the server's limit; attempts (5xx and 429 included) likewise.
  pacing    the gaps between consecutive sends against the sender's schedule: where the time went.
  delivery  duplicates: chats that got more than one message; losses: chats that got none.

The fake server runs in this process and the sender in its own (bench/_fanout_support.py, built as
`nguoitot run` builds it): the server checks every call against the Bot API spec, which costs CPU that
would otherwise slow the sender's event loop and make the rate measure the harness. The CPU each side
used is printed, and the machine's CPU pressure: other work on this machine lowers the rate too.
FANOUT_PROFILE=/tmp/sender.prof in the environment profiles the sender process (cProfile).

Business time (due dates, backoff, leases) is an injected clock that starts at the planning moment and
runs with real time, jumping over idle waits for retries (see BusinessClock); rates use real time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, text
from sqlmodel import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ (the fake server) is not an installed package

from _fanout_support import cpu_seconds, seed_world  # noqa: E402
from _harness import collector_paused, cpu_stalled, postgres_problem  # noqa: E402

from bot.app import settle_memory  # noqa: E402
from common.settings import Settings  # noqa: E402
from scheduler.outbox import enqueue  # noqa: E402
from scheduler.reminders import ReminderPlanner  # noqa: E402
from storage.communes import all_communes  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Outbox  # noqa: E402
from tests.fakes.telegram_server import API_JSON, FakeTelegramServer, Fault  # noqa: E402

TOKEN = "123456:FANOUT"
ZONE_NAME = "Asia/Ho_Chi_Minh"
MOMENT = datetime(2026, 12, 13, 8, 0, tzinfo=ZoneInfo(ZONE_NAME))  # 7 days before 20/12 23:59
PEOPLE_PER_COMMUNE = 20  # 1 secretary + 19 cadres
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_SHARE, TARGET_PLAN_S = 0.95, 2.0
STALL = 3  # a gap of more than 3 sending intervals is a stall, not lateness


@dataclass
class Planning:
    planned: int
    added: int
    plan_s: float
    enqueue_s: float
    replan_s: float
    readded: int

    @property
    def total_s(self) -> float:
        return self.plan_s + self.enqueue_s


@dataclass
class Pacing:
    """How the sends kept to the sender's schedule (one start every `interval` s)."""

    interval: float
    median_gap: float
    stalls: int  # gaps between consecutive sends longer than STALL intervals
    stall_s: float  # their time beyond one interval
    late_s: float  # the other gaps' time beyond one interval: starts a little late, one after another


@dataclass
class Sending:
    successes: int
    span_s: float  # first to last successful send
    attempts: int
    attempts_span_s: float
    rejected_429: int
    injected_5xx: int
    duplicates: int
    losses: int
    statuses: Counter
    violations: int
    pacing: Pacing

    @property
    def rate(self) -> float:
        return (self.successes - 1) / self.span_s if self.span_s else 0.0  # n sends span n-1 gaps

    @property
    def attempt_rate(self) -> float:
        return (self.attempts - 1) / self.attempts_span_s if self.attempts_span_s else 0.0


@dataclass
class Load:
    """What the sending phase cost, and what else the machine was doing meanwhile."""

    sender_cpu_s: float
    sender_wall_s: float
    server_cpu_s: float
    pressure: float | None  # share of the phase in which some task waited for a core (Linux PSI)
    sender_rss_mb: float
    passes: int  # drain passes: 1 + one per jump of the business clock to the next retry
    skipped_s: float  # business time jumped over
    sender_log: str


@dataclass
class Run:
    database: str
    scenario: str
    planning: Planning
    sending: Sending
    load: Load


# ---- options


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=float, default=200.0,
                        help="the server's overall limit per second (Telegram: 30; default 200 keeps the run short)")
    parser.add_argument("--messages", type=int, default=10_000, help="reminders (rounded up to a multiple of 20)")
    parser.add_argument("--error-rate", type=float, default=0.1, help="share of sendMessage answered 500")
    # The limiter starts at most rate × (1 + CATCH_UP) in any second of its own clock; the rest of the
    # margin absorbs the jitter between its clock and the server's (0.98 met a 429 on a busy machine).
    parser.add_argument("--margin", type=float, default=0.97, help="the sender's rate as a share of the limit")
    parser.add_argument("--postgres-url", nargs="?", const=POSTGRES_URL, default=None,
                        help=f"also run on PostgreSQL (default URL {POSTGRES_URL})")
    parser.add_argument("--seed", type=int, default=1, help="seed of the injected errors")
    args = parser.parse_args()
    communes = math.ceil(args.messages / PEOPLE_PER_COMMUNE)
    if not 1 <= communes <= len(all_communes()):
        parser.error(f"--messages must be within 1..{len(all_communes()) * PEOPLE_PER_COMMUNE}")
    if args.limit <= 0 or not 0 < args.margin <= 1 or not 0 <= args.error_rate < 1:
        parser.error("--limit > 0, 0 < --margin ≤ 1 and 0 ≤ --error-rate < 1")
    args.communes = communes
    args.messages = communes * PEOPLE_PER_COMMUNE
    args.rate = args.limit * args.margin
    return args


def settings() -> Settings:
    # The zone is pinned: the planning moment and the deadlines are local times in Vietnam.
    return Settings(_env_file=None, TZ=ZONE_NAME)


# ---- databases


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="nguoitot-fanout-") as folder:
        yield f"sqlite:///{folder}/fanout.db", ""


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[tuple[str, str]]:
    schema = f"nt_fanout_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = Database(url)
    try:
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield url, schema
    finally:
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()



# ---- planning


async def plan_and_enqueue(db: Database) -> Planning:
    """Time the planner and the enqueue apart, in one unit of work as ReminderService.plan_now runs them."""
    planner = ReminderPlanner(settings())
    settle_memory()  # the planner runs in `nguoitot run`, which does this once started
    async with db.session() as session:
        started = time.perf_counter()
        messages = await planner.plan(session, MOMENT)
        planned_at = time.perf_counter()
        added = await enqueue(session, messages, MOMENT)
    enqueued_at = time.perf_counter()  # after the commit
    # The service plans every minute: a minute later the same reminders come out, and enqueue drops them.
    later = MOMENT + timedelta(minutes=1)
    async with db.session() as session:
        readded = await enqueue(session, await planner.plan(session, later), later)
    return Planning(len(messages), added, planned_at - started, enqueued_at - planned_at,
                    time.perf_counter() - enqueued_at, readded)


# ---- sending


def error_injector(rate: float, seed: int, injected: Counter) -> Callable[[str, dict], Fault | None]:
    chance = random.Random(seed)

    def fault(method: str, params: dict) -> Fault | None:
        # Asked before the server's rate check: a call answered 500 does not count against its limit.
        if method == "sendMessage" and rate and chance.random() < rate:
            injected["server_error"] += 1
            return Fault.server_error()
        return None

    return fault


def worker_env(url: str, schema: str, server: FakeTelegramServer, rate: float, seconds: float) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "DATABASE_SCHEMA": schema, "TZ": ZONE_NAME,
            "TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_URL": server.url,
            "TELEGRAM_RATE_PER_SECOND": str(rate), "TELEGRAM_RATE_PER_CHAT": "1", "LOG_LEVEL": "WARNING",
            "FANOUT_MOMENT": MOMENT.isoformat(), "FANOUT_SECONDS": str(seconds)}


async def run_worker(env: dict[str, str], seconds: float) -> dict[str, Any]:
    """The sender process, awaited without blocking this loop (the fake server answers it meanwhile)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "_fanout_support.py"), env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), seconds)
    finally:
        if process.returncode is None:  # timed out or interrupted: never leave it behind
            process.kill()
            await process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"the sender exited with {process.returncode}:\n{err.decode()[-3000:]}")
    report = json.loads(out.decode().strip().splitlines()[-1])
    report["log"] = err.decode().strip()
    return report



async def send_all(db: Database, url: str, schema: str, chats: list[int], args: argparse.Namespace,
                   error_rate: float) -> tuple[Sending, Load]:
    server = FakeTelegramServer(TOKEN)
    await server.start()
    try:
        server.rate_limit(per_second=args.limit, per_chat_per_second=1, retry_after=1)
        injected: Counter = Counter()
        server.fault = error_injector(error_rate, args.seed, injected)
        budget = 60 + 3 * args.messages / args.rate  # generous, but bounded
        with collector_paused():
            cpu_before, stalled_before, started = cpu_seconds(), cpu_stalled(), time.monotonic()
            report = await run_worker(worker_env(url, schema, server, args.rate, budget), budget + 30)
            server_cpu, stalled_after, elapsed = (cpu_seconds() - cpu_before, cpu_stalled(),
                                                  time.monotonic() - started)
    finally:
        await server.stop()
    pressure = None if stalled_before is None or stalled_after is None else (stalled_after - stalled_before) / elapsed
    load = Load(report["cpu"], report["wall"], server_cpu, pressure, report["rss_mb"], report["passes"],
                report["skipped"], report["log"])
    return measure(server, chats, injected, await outbox_statuses(db), 1 / args.rate), load


def measure(server: FakeTelegramServer, chats: list[int], injected: Counter, statuses: Counter,
            interval: float) -> Sending:
    calls = server.calls_named("sendMessage")
    ok = sorted(c.at for c in calls if c.status == 200)
    started = sorted(c.at for c in calls)
    counts = Counter(int(c.params["chat_id"]) for c in calls if c.status == 200)
    wanted = set(chats)
    return Sending(
        successes=len(ok), span_s=span(ok), attempts=len(calls), attempts_span_s=span(started),
        rejected_429=server.rejected_429, injected_5xx=injected["server_error"],
        duplicates=sum(1 for chat, n in counts.items() if n > 1),
        losses=len(wanted - set(counts)) + len(set(counts) - wanted),  # a stranger's message counts too
        statuses=statuses, violations=len(server.violations), pacing=pacing(started, interval))


def span(stamps: list[float]) -> float:
    return stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0


def pacing(stamps: list[float], interval: float) -> Pacing:
    """Split the time lost against the schedule into stalls and the small lateness of every other gap."""
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)] or [0.0]
    stalls = [g for g in gaps if g > STALL * interval]
    return Pacing(interval, statistics.median(gaps), len(stalls), sum(g - interval for g in stalls),
                  sum(g - interval for g in gaps if interval < g <= STALL * interval))


async def outbox_statuses(db: Database) -> Counter:
    async with db.session() as session:
        rows = await session.exec(select(Outbox.status, func.count()).group_by(Outbox.status))
        return Counter(dict(rows.all()))


# ---- runs


async def run_once(database: str, scenario: str, url: str, schema: str, args: argparse.Namespace,
                   error_rate: float) -> Run:
    db = Database(url, schema=schema)
    try:
        await db.upgrade()
        chats = await seed_world(db, all_communes()[:args.communes], PEOPLE_PER_COMMUNE - 1,
                                 MOMENT - timedelta(days=30))
        planning = await plan_and_enqueue(db)
        sending, load = await send_all(db, url, schema, chats, args, error_rate)
    finally:
        await db.dispose()
    return Run(database, scenario, planning, sending, load)


async def run_database(name: str, database: Callable[[], AbstractAsyncContextManager[tuple[str, str]]],
                       args: argparse.Namespace) -> list[Run]:
    scenarios = [("clean", 0.0)] + ([(f"{args.error_rate:.0%} 5xx", args.error_rate)] if args.error_rate else [])
    runs = []
    for scenario, error_rate in scenarios:
        async with database() as (url, schema):  # a fresh database for each run
            run = await run_once(name, scenario, url, schema, args, error_rate)
        print_run(run, args)
        runs.append(run)
    return runs


# ---- printing


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def print_header(args: argparse.Namespace) -> None:
    print(f"Outbox fan-out: {args.messages:,} reminders to {args.messages:,} chats, fake Bot API on 127.0.0.1")
    print(f"  server     limit {args.limit:g}/s overall and 1/s per chat, 429 with retry_after 1 s beyond. "
          f"Telegram's limit is 30/s, at which {args.messages:,} take {args.messages / 30:.0f} s per run; "
          f"{args.limit:g}/s keeps this benchmark short")
    print(f"  sender     {args.rate:g}/s ({args.margin:.0%} of the limit: a margin for the server's sliding window), "
          f"1/s per chat, {settings().outbox_in_flight} in flight; built as `nguoitot run` builds it, "
          "in its own process")
    print(f"  planning   {args.communes} communes (the first official codes) × (1 secretary + "
          f"{PEOPLE_PER_COMMUNE - 1} cadres of {PEOPLE_PER_COMMUNE - 1} villages with nothing sent), "
          f"at {MOMENT:%Y-%m-%d %H:%M} local, 7 days before the Q4 deadline")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"  machine    {os.cpu_count()} cores, load average {load}; "
          f"Bot API spec checks {'on' if API_JSON.is_file() else 'off (api.json absent)'}")


def print_run(run: Run, args: argparse.Namespace) -> None:
    p = run.planning
    print(f"\n{run.database} · {run.scenario}")
    print(f"  planning   plan {p.plan_s:.2f} s + enqueue {p.enqueue_s:.2f} s = {p.total_s:.2f} s for {p.planned:,} "
          f"({p.added:,} new)   target < {TARGET_PLAN_S:g} s: {verdict(p.total_s < TARGET_PLAN_S)}")
    print(f"             re-plan a minute later (all queued already): {p.replan_s:.2f} s, {p.readded} new")
    print_sending(run.sending, args)
    print_load(run.load)


def print_sending(s: Sending, args: argparse.Namespace) -> None:
    share = s.rate / args.limit
    print(f"  rate       {s.successes:,} sent in {s.span_s:.1f} s = {s.rate:.1f}/s = {share:.1%} of the limit   "
          f"target ≥ {TARGET_SHARE:.0%}: {verdict(share >= TARGET_SHARE)}")
    print(f"             attempts {s.attempts:,} ({s.attempt_rate:.1f}/s = {s.attempt_rate / args.limit:.1%} of the "
          f"limit): {s.injected_5xx:,} answered 5xx, {s.rejected_429:,} answered 429")
    g = s.pacing
    print(f"  pacing     median gap {g.median_gap * 1000:.2f} ms (schedule {g.interval * 1000:.2f} ms); time lost: "
          f"{g.late_s:.1f} s as lateness of ordinary gaps, {g.stall_s:.1f} s in {g.stalls} stalls > {STALL} gaps")
    print(f"  delivery   duplicates {s.duplicates}, losses {s.losses}   target 0, 0: "
          f"{verdict(s.duplicates == 0 and s.losses == 0)}")
    print(f"             outbox {dict(sorted(s.statuses.items()))}; Bot API spec violations {s.violations}")


def print_load(load: Load) -> None:
    wall = load.sender_wall_s
    print(f"  cpu        sender {load.sender_cpu_s:.1f} s ({load.sender_cpu_s / wall:.0%} of a core over its "
          f"{wall:.1f} s), fake server {load.server_cpu_s:.1f} s ({load.server_cpu_s / wall:.0%}); "
          f"sender peak RSS {load.sender_rss_mb:.0f} MB")
    if load.pressure is not None:
        print(f"             machine CPU pressure {load.pressure:.0%} (time some task waited for a core: "
              "other work on the machine lowers the rate)")
    print(f"             {load.passes} drain pass(es), {load.skipped_s:.0f} s of business time jumped over "
          "waiting for retries")
    if load.sender_log:
        print("  sender log (last lines)\n    " + "\n    ".join(load.sender_log.splitlines()[-5:]))


def print_summary(runs: list[Run], args: argparse.Namespace, elapsed: float) -> None:
    print(f"\nSummary (limit {args.limit:g}/s; targets: ≥ {TARGET_SHARE:.0%} of the limit, 0 duplicates, "
          f"0 losses, plan + enqueue < {TARGET_PLAN_S:g} s)")
    print(f"  {'database':<12}{'run':<9}{'plan+enqueue':>13}{'sent/limit':>12}{'dup':>6}{'lost':>6}")
    for run in runs:
        s, p = run.sending, run.planning
        print(f"  {run.database:<12}{run.scenario:<9}{p.total_s:>12.2f}s{s.rate / args.limit:>12.1%}"
              f"{s.duplicates:>6}{s.losses:>6}")
    print(f"  whole benchmark {elapsed:.0f} s")


async def main() -> None:
    started = time.monotonic()
    args = parse_args()
    print_header(args)
    runs = await run_database("SQLite", sqlite_database, args)
    if args.postgres_url:
        problem = await postgres_problem(args.postgres_url)
        if problem:
            print(f"\nPostgreSQL at {args.postgres_url} unreachable ({problem}): skipped")
        else:
            runs += await run_database("PostgreSQL", lambda: postgres_database(args.postgres_url), args)
    print_summary(runs, args, time.monotonic() - started)


if __name__ == "__main__":
    asyncio.run(main())
