"""Throughput, latency and memory of the whole nomination conversation over Telegram.

Simulated cadres talk to the real bot process (`python -m bot.cli run`) through the fake Bot API
server of the tests (tests/fakes/telegram_server.py), on SQLite and on PostgreSQL. A bare aiogram
echo bot (bench/echo_bot.py), measured the same way on the same fake server just before each run, and
receiving as that run does (long polling, or a webhook: aiogram's own handler), is the baseline.

    python bench/flow_throughput.py [--cadres 200] [--rate 100] [--seconds 30 | --updates N]
        [--nominations 1] [--databases sqlite,postgresql] [--modes polling,webhook,2 workers]
        [--repeat 1] [--postgres-url URL] [--no-validate] [--logs DIR] [--py-spy DIR]

Modes: polling (getUpdates), webhook (the fake server POSTs each update to the bot's HTTP app, up to 40 at
once as Telegram does by default, a chat's one at a time), and on PostgreSQL "2 workers": a webhook receiver (`nguoitot run`) and a
`nguoitot worker`, each serving at most half the cadres' chats at once; their CPU is added up.

Figures (printed, this is not a test):
  throughput  closed loop: each cadre sends its next answer as soon as all the replies to its previous
              one have reached the server; updates handled per second over the whole phase.
  p50 / p99   open loop: a scheduler emits one update every 1/rate s from a cadre that is ready (all
              replies to its previous update arrived); time from the update being handed out by
              getUpdates to its last reply reaching the server.
  peak RSS    VmHWM of the bot process at the end of its run.

Measuring starts once the bot and the processes it started are idle (start-up work such as warming the
chart worker is a one-off cost, not a per-update one). The bot, and the echo bot, run as separate processes, so their CPU time is their own and their
memory measurable; the fake server and the cadres share this process. The CPU each side used is
printed too: when this process is near 100 % of a core, the figure measures the harness, not the bot;
when "the rest of the machine" is high, other work took cores from the bot, and the rates are low (the
bot's CPU per update, and the ratio computed from it, are much less affected). PostgreSQL, when used,
runs on the same machine and competes for the same cores.

The fake server checks every call against the Bot API spec, as in the tests, and the violations are
counted; --no-validate switches that off (for both bots) to spare this process about a third of its CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import func, text
from sqlmodel import select

from bot.app import build_app
from common.messages import t
from common.settings import Settings
from storage import repo
from storage.communes import find_commune
from storage.db import Database
from storage.models import Case, Membership, Role, UnitKind

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/ (the fake server) is not an installed package

from _harness import collector_paused, postgres_problem, vacuum_catalogs  # noqa: E402  (bench/, this script's folder)

from tests.fakes.telegram_server import FakeTelegramServer, SpecValidator  # noqa: E402

TOKEN = "123456:BENCH"
COMMUNE = "00070"  # Phường Hoàn Kiếm, Hà Nội, as in the tests
VILLAGES = 10
FIRST_USER_ID = 100_001
DESCRIPTION = "Chị Lan nhặt được ví có 5 triệu đồng và đã trả lại cho người đánh rơi."
SUBMITTED = "Đã gửi hồ sơ"
FAILURE_TEXTS = frozenset({t("error.unexpected"), t("error.busy")})
WARM_UP_USERS = 20
WINDOW = 5.0  # s: the latency phase's figures are also given per window, where a stall shows
REPLY_TIMEOUT = 30.0  # one update's replies; a bot this slow is broken, not slow
PHASE_LIMIT = 240.0  # the closed-loop phase, whatever happens
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


# --------------------------------------------------------------------------------------------------
# The fake server, with two measuring hooks
# --------------------------------------------------------------------------------------------------


class TrustingValidator(SpecValidator):
    """Knows the spec's names and field types (the server needs them to parse calls), checks nothing."""

    def check_call(self, method: str, params: dict[str, Any]) -> list[str]:
        return []

    def check_update(self, update: dict[str, Any]) -> list[str]:
        return []

    def check_value(self, types: Any, value: Any, path: str = "result") -> list[str]:
        return []


@lru_cache(maxsize=1)
def trusting_validator() -> TrustingValidator:
    return TrustingValidator()


class BenchServer(FakeTelegramServer):
    """Records when each update is handed out, and passes each sent message to its chat's listener."""

    def __init__(self, validate: bool) -> None:
        super().__init__(TOKEN, validator=None if validate else trusting_validator())
        # As many webhook connections as Telegram opens: up to max_connections, 40 unless the bot asks otherwise
        # (the tests' 8 made the webhook's store latency the ceiling of a run: 8 updates in flight at most).
        self.webhook_connections = 40
        self.served: dict[int, float] = {}
        self.listeners: dict[int, Callable[[float, str], None]] = {}

    def _deliverable(self, allowed: Any, limit: int) -> list[dict[str, Any]]:
        # The bench pushes only messages, which both pollers allow, so the original's filtering (whose
        # bookkeeping is quadratic in the queue length) and its defensive deep copy are not needed.
        batch = self._updates[:limit]
        now = time.monotonic()
        for update in batch:
            self.served.setdefault(update["update_id"], now)
        return batch

    async def _send_message(self, call: Any) -> dict[str, Any]:
        message = await super()._send_message(call)
        listener = self.listeners.get(message["chat"]["id"])
        if listener is not None:
            listener(call.at, message["text"])  # call.at: when the call reached the server
        return message

    def _next_for_webhook(self, allowed: Any, in_flight: set[int]) -> dict[str, Any] | None:
        update = super()._next_for_webhook(allowed, in_flight)
        if update is not None:
            self.served.setdefault(update["update_id"], time.monotonic())
        return update

    def polls(self) -> int:
        return sum(1 for call in self.calls if call.method == "getUpdates")


# --------------------------------------------------------------------------------------------------
# What the users say
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    text: str | None  # None: a photo
    replies: int
    expect: str = ""  # what the last reply must start with, if anything
    photo: bytes = b""


def nomination(name: str, photo: bytes) -> list[Step]:
    """The typed individual nomination of tests/test_telegram_e2e.py; the name must be new in the
    commune, or the summary would gain a duplicate warning (a second reply)."""
    answers = ("1", name, "1990", "kinh", "bo qua", "1", "1", "1", DESCRIPTION, "hom nay")
    return [
        Step("/decu", 2),
        *(Step(answer, 1) for answer in answers),
        Step(None, 1, photo=photo),
        *(Step(answer, 1) for answer in ("xong", "bo qua", "co")),
        Step("gui", 1, expect=SUBMITTED),
    ]


STEPS_PER_NOMINATION = len(nomination("x", b""))


def nominations(index: int) -> Iterator[Step]:
    for round_ in itertools.count(1):
        yield from nomination(f"Nguyễn Thị Lan {index}.{round_}", jpeg(index, round_))


def echo_texts(index: int) -> Iterator[Step]:
    for n in itertools.count(1):
        message = f"Tin nhắn {n} của người {index}"
        yield Step(message, 1, expect=message)


def jpeg(index: int, round_: int) -> bytes:
    """A small photo, a colour per cadre, unique bytes per nomination (as real photos are)."""
    colour = ((index * 67) % 256, (index * 131) % 256, (round_ * 53) % 256)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG", comment=f"{index}.{round_}")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# Simulated users
# --------------------------------------------------------------------------------------------------


class User:
    """One person: sends the next step of a script and knows when all its replies have arrived."""

    def __init__(self, server: BenchServer, user_id: int, script: Iterator[Step], tally: Counter) -> None:
        self.server, self.id, self.script, self.tally = server, user_id, script, tally
        self.broken = False  # a reply timed out: where the conversation stands is unknown
        self._pending: asyncio.Future[float] | None = None
        self._step = Step(None, 0)
        self._left = 0
        self._update_id = 0
        server.listeners[user_id] = self._on_reply

    def send_next(self) -> asyncio.Future[float]:
        """Push the next update; the future's result is served → last reply, in seconds."""
        self._step = step = next(self.script)
        self._left = step.replies
        self._pending = asyncio.get_running_loop().create_future()
        if step.text is None:
            update = self.server.send_photo(self.id, step.photo)
        else:
            update = self.server.send_text(self.id, step.text, first_name=f"Cán bộ {self.id}")
        self._update_id = update["update_id"]
        return self._pending

    async def exchange(self) -> bool:
        """Send the next step and wait for all its replies; False (and broken) on a timeout."""
        try:
            await asyncio.wait_for(self.send_next(), REPLY_TIMEOUT)
        except TimeoutError:
            self.give_up()
            return False
        return True

    def give_up(self) -> None:
        self.tally["timeouts"] += 1
        self.broken = True
        if self._pending is not None:
            self._pending.cancel()

    def _on_reply(self, at: float, text: str) -> None:
        pending = self._pending
        served = self.server.served.get(self._update_id)
        if pending is None or pending.done() or served is None:  # a surplus reply to an earlier update
            self.tally["unexpected replies"] += 1
            return
        self.tally["error replies"] += text in FAILURE_TEXTS
        self._left -= 1
        if self._left > 0:
            return
        if self._step.expect and not text.startswith(self._step.expect):
            self.tally["wrong final replies"] += 1
        elif self._step.expect == SUBMITTED:
            self.tally["submitted"] += 1
        del self.server.served[self._update_id]
        pending.set_result(at - served)


def make_users(server: BenchServer, count: int,
               script: Callable[[int], Iterator[Step]]) -> tuple[list[User], Counter]:
    """The users and the tally of problems they share."""
    tally: Counter = Counter()
    return [User(server, FIRST_USER_ID + i, script(i), tally) for i in range(count)], tally


# --------------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------------


@dataclass
class Cpu:
    """CPU seconds used during a phase by the bot, by this process (fake server and users) and by
    everything else on the machine (PostgreSQL, and whatever else runs: then the figures are unfair)."""

    bot: float
    bench: float
    others: float
    seconds: float
    each: tuple[float, ...] = ()  # the bot's CPU by process, when it runs as several (receiver first)

    def per_update(self, updates: int) -> float:
        """Milliseconds of the bot's CPU per update."""
        return self.bot / updates * 1000 if updates else 0.0

    def note(self, updates: int) -> str:
        per_update = self.per_update(updates)
        share = {name: value / self.seconds if self.seconds else 0.0
                 for name, value in (("bot", self.bot), ("bench", self.bench), ("others", self.others))}
        split = (" = " + " + ".join(f"{seconds / updates * 1000:.1f}" for seconds in self.each)
                 if len(self.each) > 1 and updates else "")
        return (f"CPU of a core: bot {share['bot']:.0%} ({per_update:.1f}{split} ms/update), "
                f"bench {share['bench']:.0%}, rest of the machine {share['others']:.0%}")


class CpuMeter:
    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self._start = self._read()

    def _read(self) -> tuple[float, float, float, tuple[float, ...]]:
        return (time.process_time(), machine_cpu_seconds(), time.monotonic(),
                tuple(cpu_seconds(pid) for pid in self.pids))

    def read(self) -> Cpu:
        (bench, machine, now, each), (bench0, machine0, start, each0) = self._read(), self._start
        each = tuple(end - begin for end, begin in zip(each, each0, strict=True))
        bench, machine, bot = bench - bench0, machine - machine0, sum(each)
        return Cpu(bot, bench, max(0.0, machine - bot - bench), now - start, each)


@dataclass
class Throughput:
    updates: int
    seconds: float
    cpu: Cpu

    @property
    def rate(self) -> float:
        return self.updates / self.seconds if self.seconds else 0.0


@dataclass
class Latency:
    samples: list[float]
    finished_at: list[float]  # seconds into the phase at which each sample was taken
    offered: int
    seconds: float
    missed_slots: int  # ticks with no ready user: the offered load fell short
    cpu: Cpu
    waits: list[tuple[float, float]] = field(default_factory=list)  # per WINDOW s: (steal, disk wait) in s

    def waits_per_window(self) -> str:
        """Time the hypervisor kept the machine's CPUs (steal) and some task waited on the disk, per window in
        ms: a slow window with high steal was the host's doing, not the bot's."""
        return " ".join(f"{steal * 1000:.0f}/{disk * 1000:.0f}" for steal, disk in self.waits)

    def percentile(self, p: float) -> float:
        return percentile(self.samples, p)

    def windows(self, span: float = WINDOW) -> str:
        """p50/p99 per span of seconds, in ms: a queue that only grows means overload, spikes mean stalls."""
        buckets: dict[int, list[float]] = {}
        for at, sample in zip(self.finished_at, self.samples, strict=True):
            buckets.setdefault(int(at // span), []).append(sample)
        return " ".join(f"{percentile(b, 0.5) * 1000:.0f}/{percentile(b, 0.99) * 1000:.0f}"
                        for _, b in sorted(buckets.items()))


def machine_waits() -> tuple[float, float]:
    """Since boot: CPU time the hypervisor gave to others (steal, all cores) and time some task here waited
    on the disk (pressure stall information), in s; 0 where the kernel does not say."""
    steal = int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[8]) / os.sysconf("SC_CLK_TCK")
    try:
        disk = int(Path("/proc/pressure/io").read_text().split("total=", 1)[1].split()[0]) / 1e6
    except (OSError, IndexError, ValueError):
        disk = 0.0
    return steal, disk


def percentile(samples: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered), max(1, math.ceil(p * len(ordered)))) - 1] if ordered else 0.0


async def closed_loop(users: list[User], steps_each: int, pids: list[int]) -> Throughput:
    """Every user answers as soon as its previous answer is fully replied to."""
    done, last = 0, time.monotonic()

    async def converse(user: User) -> None:
        nonlocal done, last
        for _ in range(steps_each):
            if user.broken or not await user.exchange():
                return
            done, last = done + 1, time.monotonic()

    meter, start = CpuMeter(pids), time.monotonic()
    tasks = [asyncio.create_task(converse(user)) for user in users]
    _, late = await asyncio.wait(tasks, timeout=PHASE_LIMIT)
    for task in late:
        task.cancel()
    # Until the last update handled: users waiting out a timeout at the end would dilute the rate.
    return Throughput(done, last - start, meter.read())


async def open_loop(users: list[User], rate: float, count: int, pids: list[int]) -> Latency:
    """One update every 1/rate s from the user who has waited longest since its replies came."""
    ready = deque(user for user in users if not user.broken)
    samples: list[float] = []
    finished_at: list[float] = []
    outstanding: dict[asyncio.Future[float], User] = {}
    loop = asyncio.get_running_loop()
    meter, start, missed = CpuMeter(pids), loop.time(), 0
    marks = [machine_waits()]

    def finished(user: User, future: asyncio.Future[float]) -> None:
        outstanding.pop(future, None)
        if not future.cancelled():
            samples.append(future.result())
            finished_at.append(loop.time() - start)
            ready.append(user)

    for tick in range(count):
        # Ticks are on an absolute schedule, so a late tick does not lower the average rate.
        delay = start + tick / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if tick and tick % round(rate * WINDOW) == 0:
            marks.append(machine_waits())
        if not ready:
            missed += 1
            continue
        user = ready.popleft()
        future = user.send_next()
        outstanding[future] = user
        future.add_done_callback(partial(finished, user))
    seconds, cpu = loop.time() - start, meter.read()
    await drain(outstanding)
    marks.append(machine_waits())
    waits = [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(marks)]
    return Latency(samples, finished_at, count - missed, seconds, missed, cpu, waits)


async def drain(outstanding: dict[asyncio.Future[float], User]) -> None:
    if not outstanding:
        return
    _, late = await asyncio.wait(list(outstanding), timeout=REPLY_TIMEOUT)
    for future in late:
        outstanding[future].give_up()


async def warm_up(users: list[User], steps: int) -> None:
    """Imports, caches and connection pools get filled before anything is timed."""
    await asyncio.gather(*(run_steps(user, steps) for user in users))


async def run_steps(user: User, steps: int) -> None:
    for _ in range(steps):
        if not await user.exchange():
            return


# --------------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat (fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time spent by the whole machine, all cores: /proc/stat less idle and iowait."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@asynccontextmanager
async def running(argv: list[str], env: dict[str, str], cwd: Path, server: BenchServer, log: Path,
                  ready: Callable[[], bool] | None = None) -> AsyncIterator[asyncio.subprocess.Process]:
    """A bot process, once it is ready (by default: it polls the server); always stopped (SIGTERM, then
    SIGKILL) on the way out."""
    ready = ready or (lambda: server.polls() > 0)
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = await asyncio.create_subprocess_exec(*argv, env=env, cwd=cwd, stdout=out,
                                                       stderr=subprocess.STDOUT)
    try:
        await server.wait_for(lambda: ready() or process.returncode is not None,
                              timeout=START_TIMEOUT, what=f"{argv[-1]} to be ready")
        if process.returncode is not None:
            raise RuntimeError(f"{' '.join(argv)} exited with {process.returncode}:\n{tail(log)}")
        await settled(process.pid)
        yield process
    finally:
        await stop(process)


def descendants(pid: int) -> list[int]:
    """The processes a bot started (its chart worker, say), and theirs."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        kids = children.get(queue.pop(), [])
        found += kids
        queue += kids
    return found


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for each in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            total += cpu_seconds(each)
    return total


async def settled(pid: int, quiet: float = 0.05, window: float = 0.5, limit: float = 60.0) -> None:
    """Wait until the bot and the processes it started are idle (under `quiet` of a core over `window`):
    start-up work in the background, such as warming the chart worker (several seconds of CPU, importing
    matplotlib), is a one-off cost that would otherwise be measured as the rest of the machine's load."""
    deadline = time.monotonic() + limit
    before = tree_cpu_seconds(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(window)
        after = tree_cpu_seconds(pid)
        if after - before < quiet * window:
            return
        before = after


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)  # aiogram stops polling and the bot closes its database
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            return
        except TimeoutError:
            process.kill()
    await process.wait()


def tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def log_summary(log: Path) -> str:
    """What the bot wrote at LOG_LEVEL=WARNING, less aiogram's notice of our SIGTERM: nothing, ideally."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    lines = [line for line in lines if "Received SIGTERM signal" not in line]
    if not lines:
        return "bot log empty"
    levels = Counter(level for line in lines for level in ("ERROR", "WARNING", "Traceback") if level in line)
    start = next((i for i, line in enumerate(lines) if "ERROR" in line or "WARNING" in line), 0)
    # The exception a traceback ends with is the first unindented line after it.
    cause = next((line for line in lines[start + 2:] if line and not line.startswith((" ", "Traceback"))), "")
    return f"bot log {len(lines)} lines {dict(levels)}, first: {lines[start][:160]} … {cause[:200]}"


# --------------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------------


@asynccontextmanager
async def sqlite_database(folder: Path) -> AsyncIterator[tuple[str, str]]:
    yield f"sqlite:///{folder / 'nguoitot.db'}", ""


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[tuple[str, str]]:
    """A private schema, created here and dropped on the way out whatever happens, on catalogs vacuumed first."""
    schema = f"bench_{os.getpid()}"
    if problem := await vacuum_catalogs(url):
        progress(f"PostgreSQL's catalogs not vacuumed ({problem})")
    await _execute(url, f'CREATE SCHEMA "{schema}"')
    try:
        yield url, schema
    finally:
        await _execute(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _execute(url: str, statement: str) -> None:
    admin = Database(url)
    try:
        async with admin.engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()



async def register_cadres(settings: Settings, user_ids: list[int]) -> None:
    """Migrate (as `nguoitot db upgrade`), then register the cadres as tests/conftest.py::add_member."""
    app = await build_app(settings)
    try:
        now = app.core.clock.now()
        async with app.db.session() as session:
            commune = await repo.ensure_commune(session, find_commune(COMMUNE))
            units = [await repo.ensure_unit(session, commune.code, UnitKind.VILLAGE.value, f"Thôn {n}")
                     for n in range(1, VILLAGES + 1)]
            for i, user_id in enumerate(user_ids):
                person = await repo.create_person(session, f"Cán bộ {user_id}", now, "telegram", str(user_id),
                                                  str(user_id))
                session.add(Membership(person_id=person.id, role=Role.CADRE, commune_code=commune.code,
                                       unit_id=units[i % VILLAGES].id, created_at=now))
    finally:
        await app.close()


async def stored_cases(settings: Settings) -> int:
    db = Database(settings.database_url, schema=settings.database_schema)
    try:
        async with db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(Case)) or 0)
    finally:
        await db.dispose()


# --------------------------------------------------------------------------------------------------
# The runs
# --------------------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    throughput: Throughput
    peak_rss: float
    latency: Latency | None = None
    tally: Counter = field(default_factory=Counter)
    cases: int = 0
    log: str = ""


def bot_env(server: BenchServer, **extra: str) -> dict[str, str]:
    return {**os.environ, "TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_URL": server.url,
            "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT), "HTTP_PORT": "0", "DEADLINE_DATES": far_deadlines(),
            **extra}


def far_deadlines() -> str:
    """Quarterly deadlines with none in the next two weeks: the bot runs on the real clock, and on a reminder day
    it would remind the cadres just registered, whose scripts do not expect it (the figures would depend on the
    date). The 20th of a quarter's last month, or its 1st when the 20th is near (a day's margin either side)."""
    today = date.today()
    for day in (20, 1):
        dates = [date(year, month, day) for year in (today.year, today.year + 1) for month in (3, 6, 9, 12)]
        if not any(-1 <= (due - today).days <= 15 for due in dates):
            break
    return ",".join(f"{day:02d}/{month:02d}" for month in (3, 6, 9, 12))


async def measure_echo(args: argparse.Namespace, folder: Path, webhook: bool) -> Run:
    """The echo bot, receiving as the run it is compared with does (by webhook, or by long polling)."""
    name = "echo webhook" if webhook else "echo"
    progress(f"{name}: starting the echo bot")
    steps = STEPS_PER_NOMINATION * args.nominations
    async with AsyncExitStack() as stack:
        server = await started_server(stack, args.validate)
        argv = [sys.executable, str(ROOT / "bench" / "echo_bot.py")]
        env = bot_env(server)
        ready = receiving_by_webhook(server, env) if webhook else None
        log = args.logs / f"{name.replace(' ', '-')}.log"
        process = await stack.enter_async_context(running(argv, env, folder, server, log, ready))
        users, tally = make_users(server, args.cadres, echo_texts)
        await warm_up(users[:WARM_UP_USERS], steps)
        progress(f"{name}: {args.cadres} users × {steps} messages, closed loop")
        with collector_paused():
            throughput = await closed_loop(users, steps, [process.pid])
        rss = peak_rss_mb(process.pid)
    tally["spec violations"] = len(server.violations)
    return Run(name, throughput, rss, tally=tally, log=log_summary(log))


async def measure_ours(kind: str, mode: str, args: argparse.Namespace, folder: Path) -> Run:
    """One run of our bot: `mode` is polling, webhook, or "2 workers" (a webhook receiver and a worker)."""
    async with AsyncExitStack() as stack:
        database = sqlite_database(folder) if kind == "sqlite" else postgres_database(args.postgres_url)
        url, schema = await stack.enter_async_context(database)
        settings = Settings(_env_file=None, database_url=url, database_schema=schema,
                            media_dir=folder / "media", telegram_bot_token="")
        progress(f"{kind} {mode}: migrating and registering {args.cadres} cadres")
        await register_cadres(settings, [FIRST_USER_ID + i for i in range(args.cadres)])
        run = await _measure_bot(kind, mode, args, folder, settings, stack)
        run.cases = await stored_cases(settings)
        return run


async def _measure_bot(kind: str, mode: str, args: argparse.Namespace, folder: Path, settings: Settings,
                       stack: AsyncExitStack) -> Run:
    server = await started_server(stack, args.validate)
    env = bot_env(server, DATABASE_URL=settings.database_url, DATABASE_SCHEMA=settings.database_schema,
                  MEDIA_DIR=str(settings.media_dir), ALBUM_WAIT_SECONDS="0.05")
    name = f"{kind} {mode}" if mode != "polling" else kind
    log = args.logs / f"{name.replace(' ', '-')}.log"
    pids = []
    if mode == "2 workers":  # the worker first, so both share the load from the start
        worker_log = args.logs / f"{name.replace(' ', '-')}-worker.log"
        worker_env = {**env, "LOG_LEVEL": "INFO", "WORKER_CHATS": str(args.cadres // 2)}
        worker = await stack.enter_async_context(running(
            [sys.executable, "-m", "bot.cli", "worker"], worker_env, folder, server, worker_log,
            ready=lambda: "running (" in worker_log.read_text(errors="replace")))
        pids.append(worker.pid)
        await sampled(args, worker.pid, f"{name}-worker")
        env["WORKER_CHATS"] = str(args.cadres // 2)
    ready = receiving_by_webhook(server, env) if mode != "polling" else None
    async with running([sys.executable, "-m", "bot.cli", "run"], env, folder, server, log, ready) as process:
        pids.insert(0, process.pid)
        await sampled(args, process.pid, name)
        users, tally = make_users(server, args.cadres, nominations)
        await warm_up(users[:WARM_UP_USERS], STEPS_PER_NOMINATION)
        steps = STEPS_PER_NOMINATION * args.nominations
        progress(f"{name}: {args.cadres} cadres × {steps} updates, closed loop")
        with collector_paused():
            throughput = await closed_loop(users, steps, pids)
        progress(f"{name}: {args.updates} updates at {args.rate:g}/s, open loop")
        with collector_paused():
            latency = await open_loop(users, args.rate, args.updates, pids)
        rss = sum(peak_rss_mb(pid) for pid in pids)
    tally["spec violations"] = len(server.violations)
    return Run(name, throughput, rss, latency, tally, log=log_summary(log))


async def sampled(args: argparse.Namespace, pid: int, name: str) -> None:
    """With --py-spy DIR: record where the bot process spends its time, until it exits (py-spy is not one of
    the project's dependencies: `pip install py-spy`). The file holds collapsed stacks, one per line."""
    if args.py_spy is None:
        return
    args.py_spy.mkdir(parents=True, exist_ok=True)
    out = args.py_spy / f"{name.replace(' ', '-')}.txt"
    # Not pausing the bot to read its stacks (--nonblocking): pausing it 200 times a second slowed it.
    await asyncio.create_subprocess_exec("py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                                         "--nonblocking", "--output", str(out),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def receiving_by_webhook(server: BenchServer, env: dict[str, str]) -> Callable[[], bool]:
    """Set a bot's environment to receive by webhook on a free port; when it is ready (it set the webhook)."""
    port = free_port()
    env.update(HTTP_PORT=str(port), WEBHOOK_URL=f"http://127.0.0.1:{port}")
    return lambda: server.webhook is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def started_server(stack: AsyncExitStack, validate: bool) -> BenchServer:
    server = BenchServer(validate)
    await server.start()
    stack.push_async_callback(server.stop)
    return server


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


INDENT = " " * 12


def echo_line(echo: Run) -> str:
    t_ = echo.throughput
    return (f"{echo.name:<11} throughput {t_.rate:.0f} upd/s  peak RSS {echo.peak_rss:.0f} MB\n"
            f"{INDENT}throughput phase: {t_.updates} updates in {t_.seconds:.1f} s; {t_.cpu.note(t_.updates)}\n"
            f"{INDENT}{problems(echo)}; {echo.log}")


def our_line(run: Run, echo: Run | None) -> str:
    """The summary line of the brief, then the targets, then what is needed to trust the figures."""
    t_, lat = run.throughput, run.latency
    assert lat is not None
    ratio = t_.rate / echo.throughput.rate if echo and echo.throughput.rate else float("nan")
    p50, p99 = lat.percentile(0.50) * 1000, lat.percentile(0.99) * 1000
    echo_rate = f"{echo.throughput.rate:.0f}" if echo else "?"
    p99_verdict = verdict(p99 <= 50) if lat.samples else "NO SAMPLES"
    # CPU per update is little affected by other load on the machine, unlike the rates.
    cpu_ratio = echo.throughput.cpu.per_update(echo.throughput.updates) / t_.cpu.per_update(t_.updates) \
        if echo and t_.updates and echo.throughput.updates else float("nan")
    return (
        f"{run.name:<11} throughput {t_.rate:.0f} upd/s (echo {echo_rate} upd/s, ratio {ratio:.2f})  "
        f"p50 {p50:.1f} ms  p99 {p99:.1f} ms @{lat.offered / lat.seconds:.0f} upd/s  peak RSS {run.peak_rss:.0f} MB\n"
        f"{INDENT}targets: ratio ≥ 0.5 {verdict(ratio >= 0.5)} (by bot CPU per update: {cpu_ratio:.2f}), "
        f"p99 ≤ 50 ms at {lat.offered / lat.seconds:.0f} upd/s {p99_verdict}\n"
        f"{INDENT}throughput phase: {t_.updates} updates in {t_.seconds:.1f} s; {t_.cpu.note(t_.updates)}\n"
        f"{INDENT}latency phase: {len(lat.samples)} samples in {lat.seconds:.1f} s, "
        f"max {max(lat.samples, default=0) * 1000:.0f} ms, {lat.missed_slots} ticks without a ready cadre; "
        f"{lat.cpu.note(len(lat.samples))}\n"
        f"{INDENT}p50/p99 ms per {WINDOW:.0f} s: {lat.windows()}; the machine's steal/disk wait ms: "
        f"{lat.waits_per_window()}\n"
        f"{INDENT}{problems(run)}; cases stored {run.cases} (submissions confirmed {run.tally['submitted']}); "
        f"{run.log}"
    )


def problems(run: Run) -> str:
    keys = ("timeouts", "error replies", "wrong final replies", "unexpected replies", "spec violations")
    return ", ".join(f"{run.tally[k]} {k}" for k in keys)


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cadres", type=int, default=200, help="simulated cadres (and echo users)")
    parser.add_argument("--rate", type=float, default=100.0, help="updates/s offered in the latency phase")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--seconds", type=float, default=30.0, help="length of the latency phase")
    length.add_argument("--updates", type=int, help="updates in the latency phase (instead of --seconds)")
    parser.add_argument("--nominations", type=int, default=1, help="nominations per cadre, throughput phase")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--modes", default="polling,webhook,2 workers",
                        help="comma-separated: polling, webhook, 2 workers (PostgreSQL: a receiver and a worker)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the modes this many times in turn; the summary gives each mode's median ratio")
    parser.add_argument("--logs", type=Path, help="keep the bots' logs in this folder (default: deleted)")
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="record each bot process's stacks with py-spy (installed apart) into DIR")
    parser.add_argument("--no-validate", dest="validate", action="store_false",
                        help="do not check the bots' calls against the Bot API spec (less CPU here)")
    args = parser.parse_args(argv)
    if args.cadres < 1 or args.rate <= 0 or args.nominations < 1 or args.repeat < 1:
        parser.error("--cadres, --nominations and --repeat must be at least 1, --rate positive")
    args.updates = args.updates or round(args.seconds * args.rate)
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if set(args.modes) - {"polling", "webhook", "2 workers"}:
        parser.error(f"unknown mode(s) in {args.modes}")
    unknown = set(args.databases) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    return args


async def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="nguoitot-bench-") as tmp:
        folders = {name: Path(tmp) / name for name in ("echo", *args.databases)}
        for folder in folders.values():
            folder.mkdir()
        args.logs = args.logs or Path(tmp)
        args.logs.mkdir(parents=True, exist_ok=True)
        kinds = []
        for kind in args.databases:
            if kind == "postgresql" and (problem := await postgres_problem(args.postgres_url)):
                print(f"{'postgresql':<11} skipped: {args.postgres_url} unreachable ({problem})", flush=True)
                continue
            kinds.append(kind)
        ratios: dict[str, list[float]] = {}
        rates: dict[str, list[float]] = {}  # by mode, in the order of the rounds
        for round_ in range(args.repeat):
            for kind in kinds:
                modes = [m for m in args.modes if kind == "postgresql" or m != "2 workers"]  # SQLite: one process
                for mode in modes:
                    folder = folders[kind] / f"{mode.replace(' ', '-')}-{round_ + 1}"
                    folder.mkdir()
                    # The echo bot measured again just before each run: on a shared machine its speed drifted
                    # from 530 to 844 updates/s within an hour, enough to move a ratio by a third.
                    echo = await measure_echo(args, folders["echo"], webhook=mode != "polling")
                    print(echo_line(echo), flush=True)
                    run = await measure_ours(kind, mode, args, folder)
                    print(our_line(run, echo), flush=True)
                    rates.setdefault(run.name, []).append(run.throughput.rate)
                    if echo.throughput.rate:
                        ratios.setdefault(run.name, []).append(run.throughput.rate / echo.throughput.rate)
        if args.repeat > 1:
            for name, values in ratios.items():
                print(f"{name:<22} ratio to echo, median of {len(values)} runs: {statistics.median(values):.2f} "
                      f"({', '.join(f'{v:.2f}' for v in values)})", flush=True)
        if "postgresql 2 workers" in rates and "postgresql webhook" in rates:
            print(two_against_one(rates, ratios), flush=True)


def two_against_one(rates: dict[str, list[float]], ratios: dict[str, list[float]]) -> str:
    """Two workers' throughput against one's, the two runs of each round side by side (a minute apart, the same
    cadres, the same server): their quotient, median over the rounds. Not each by its own echo first: the echo
    bot's rate moved by a quarter between runs a minute apart, and not with ours (over nine runs of each mode,
    r = -0.78 for one worker, +0.24 for two), so dividing by it added its noise instead of removing the machine's."""
    two, one = rates["postgresql 2 workers"], rates["postgresql webhook"]
    each = [a / b for a, b in zip(two, one, strict=True) if b]
    if not each:
        return "2 workers against one (webhook): no throughput to compare"
    quotient = statistics.median(each)
    by_echo = ""
    if ratios.get("postgresql 2 workers") and ratios.get("postgresql webhook"):
        by_echo = (f"; each by its own echo, medians {statistics.median(ratios['postgresql 2 workers']):.2f} "
                   f"against {statistics.median(ratios['postgresql webhook']):.2f}")
    return (f"2 workers against one (webhook), throughput round by round: {', '.join(f'{q:.2f}' for q in each)}"
            f" (median {quotient:.2f}){by_echo}; not below one worker's {verdict(quotient >= 1.0)}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"nguoitot flow benchmark: {args.cadres} cadres, latency at {args.rate:g} upd/s for {args.updates} "
          f"updates, spec validation {'on' if args.validate else 'off'}, {os.cpu_count()} CPUs", flush=True)
    try:
        asyncio.run(bench(args))  # on Ctrl-C the finally blocks still stop the bots and drop the schema
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
