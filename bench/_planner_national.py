"""The reminder planner at national size: seeds 34 provinces, 3,321 communes, ~63,600 villages, ~80,000 people
and 100,000 cases quickly (Core inserts, not the bot's own flows), then times `ReminderService.plan_now` at an
ordinary minute, at 08:00 of a reminder morning and the minute after, with the longest stall of the event loop
seen meanwhile. A small stand-in until bench/national.py; not a timed test.

    .venv/bin/python bench/_planner_national.py sqlite:////tmp/national.db
    .venv/bin/python bench/_planner_national.py postgresql://postgres@127.0.0.1:5432/test planner_bench
"""

from __future__ import annotations

import asyncio
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from common.clock import FrozenClock  # noqa: E402
from common.settings import Settings  # noqa: E402
from scheduler.service import ReminderService  # noqa: E402
from storage.communes import all_communes  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import (  # noqa: E402
    Account,
    Case,
    Commune,
    Conversation,
    Deadline,
    Membership,
    Person,
    ReminderSetting,
    Unit,
)

UNITS, PEOPLE, CASES = 63_600, 80_000, 100_000


async def _rows(db: Database, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), 2000):
        async with db.session() as session:
            await session.execute(insert(table), rows[start:start + 2000])


async def seed(db: Database, zone, rng: random.Random) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    communes = all_communes()
    await _rows(db, Commune, [dict(code=c.code, name=c.name, province_code=c.province_code,
                                   province_name=c.province_name) for c in communes])
    units, unit_of = [], []
    per = UNITS / len(communes)
    for i, c in enumerate(communes):
        for n in range(int((i + 1) * per) - int(i * per)):
            units.append(dict(commune_code=c.code, kind="village", name=f"Thôn {n + 1}", name_key=f"thon {n + 1}"))
            unit_of.append(c.code)
    await _rows(db, Unit, units)
    async with db.session() as session:
        ids = list((await session.execute(select(Unit.id, Unit.commune_code).order_by(Unit.id))).all())
    by_commune: dict[str, list[int]] = {}
    for uid, code in ids:
        by_commune.setdefault(code, []).append(uid)
    people, accounts, members = [], [], []
    pid = 0

    def person(role, commune, province, unit):
        nonlocal pid
        pid += 1
        people.append(dict(id=pid, name=f"Người {pid}", created_at=now))
        accounts.append(dict(person_id=pid, channel="telegram", external_id=str(pid), chat_id=str(pid)))
        members.append(dict(person_id=pid, role=role, commune_code=commune, province_code=province, unit_id=unit,
                            created_at=now))

    for c in communes:
        person("secretary", c.code, None, None)
        person("official", c.code, None, None)
    provinces = sorted({c.province_code for c in communes})
    for p in provinces:
        person("official", None, p, None)
    while pid < PEOPLE:
        c = communes[pid % len(communes)]
        person("cadre", c.code, None, rng.choice(by_commune[c.code]))
    await _rows(db, Person, people)
    await _rows(db, Account, accounts)
    await _rows(db, Membership, members)
    unit_commune = {uid: code for uid, code in ids}
    all_units = list(unit_commune)
    cases = []
    for n in range(CASES):
        uid = rng.choice(all_units)
        at = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(int(3 * 365.25 * 86400 * 0.95)))
        cases.append(dict(code=f"NT-{at.year}-{n:06d}", commune_code=unit_commune[uid], unit_id=uid,
                          nominator_id=rng.randrange(1, PEOPLE), status=rng.choice(
                              ["submitted", "approved", "approved", "returned", "commended", "withdrawn"]),
                          kind="ca_nhan", name=f"Người được đề cử {n}", name_key=f"nguoi {n}", field="", movement="",
                          answers={}, submitted_at=at, updated_at=at, version=1, reason="", fix_fields=[],
                          commendation={}))
    await _rows(db, Case, cases)
    cadres = [m["person_id"] for m in members if m["role"] == "cadre"]
    await _rows(db, Conversation, [dict(person_id=p, flow="nomination", state={"answers": {"name": f"Nháp {p}"}},
                                        version=1, updated_at=now) for p in rng.sample(cadres, 3000)])
    settings_rows = [dict(person_id=p, kind="nudge", enabled=rng.random() < 0.5, hour=rng.choice([None, 9, 14]))
                     for p in rng.sample(cadres, 4000)]
    settings_rows += [dict(person_id=m["person_id"], kind="digest", enabled=True, hour=None)
                      for m in members if m["role"] == "official" and rng.random() < 0.3]
    await _rows(db, ReminderSetting, settings_rows)
    deadlines = []
    for year in (2024, 2025, 2026, 2027):
        for p in provinces:
            for q in (1, 2, 3, 4):
                if rng.random() < 0.3:
                    day = (3 * q, 15)
                    deadlines.append(dict(province_code=p, year=year, quarter=q, title="",
                                          due_at=datetime(year, day[0], day[1], 16, 59, tzinfo=UTC), created_at=now))
        for c in rng.sample(communes, 300):
            deadlines.append(dict(commune_code=c.code, year=year, quarter=0, title="Báo cáo phong trào",
                                  due_at=datetime(year, rng.randint(1, 12), 10, 16, 59, tzinfo=UTC), created_at=now))
    await _rows(db, Deadline, deadlines)


class Stalls:
    """The longest the event loop was kept from a 5 ms ticker."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - before - 0.005)

    async def __aenter__(self):
        self.worst = 0.0
        self._task = asyncio.get_running_loop().create_task(self._tick())
        await asyncio.sleep(0.02)  # ticking before the pass starts
        self.worst = 0.0
        return self

    async def __aexit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()


def _forget_file(path: str) -> None:
    Path(path).unlink(missing_ok=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def seed_and_measure(url: str, schema: str = "", *, reseed: bool = False) -> list[tuple[str, float, int, float]]:
    settings = Settings(_env_file=None, database_url=url, database_schema=schema, telegram_bot_token="")
    if schema and (reseed or True):
        admin = Database(url)
        async with admin.engine.begin() as conn:
            exists = (await conn.execute(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"),
                                         {"s": schema})).scalar()
            if reseed and exists:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                exists = 0
            if not exists:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    elif reseed and url.startswith("sqlite:///"):
        _forget_file(url.removeprefix("sqlite:///"))
    db = Database(url, schema=schema)
    await db.upgrade()
    async with db.session() as session:
        empty = not (await session.execute(select(func.count()).select_from(Person))).scalar()
    if empty:
        started = time.perf_counter()
        await seed(db, settings.zone, random.Random(17))
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
    async with db.session() as session:
        await session.execute(text("DELETE FROM outbox"))
    db.start_checkpoints()  # as `nguoitot run` does (SQLite): no commit of the bot's pays for a checkpoint
    zone = settings.zone
    clock = FrozenClock(datetime(2026, 12, 6, 7, 58, tzinfo=zone))
    service = ReminderService(db, settings, clock, {}, send=False)
    try:  # the worker process, as `nguoitot run` plans (absent before issue 17)
        from scheduler.incremental import ProcessPlanning

        service.planning = ProcessPlanning(db, settings)
        await service.planning.warm()
    except ImportError:
        pass
    from bot.app import settle_memory

    settle_memory()  # as `nguoitot run` does once started

    async def worker_cpu() -> float:  # CPU seconds of the planner's worker process (0: none)
        call = getattr(getattr(service, "planning", None), "_call", None)
        return await call(time.process_time) if call is not None else 0.0
    results = []
    moments = [("first pass (07:58)", datetime(2026, 12, 6, 7, 58, tzinfo=zone)),
               ("ordinary minute (07:59)", datetime(2026, 12, 6, 7, 59, tzinfo=zone)),
               ("reminder morning (08:00)", datetime(2026, 12, 6, 8, 0, tzinfo=zone)),
               ("following minute (08:01)", datetime(2026, 12, 6, 8, 1, tzinfo=zone)),
               ("ordinary minute (10:00)", datetime(2026, 12, 6, 10, 0, tzinfo=zone)),
               ("a case submitted (10:01)", datetime(2026, 12, 6, 10, 1, tzinfo=zone))]
    try:
        for label, moment in moments:
            clock.at = moment
            if label.startswith("a case"):
                async with db.session() as session:
                    await session.execute(insert(Case), [dict(
                        code="NT-2026-999999", commune_code="00070", unit_id=None, nominator_id=1,
                        status="submitted", kind="ca_nhan", name="X", name_key="x", field="", movement="", answers={},
                        submitted_at=moment, updated_at=moment, version=1, reason="", fix_fields=[],
                        commendation={})])
            rss = rss_mb()
            child = await worker_cpu()
            async with Stalls() as stalls:
                started, cpu = time.perf_counter(), time.process_time()
                added = await service.plan_now()
                took, cpu = time.perf_counter() - started, time.process_time() - cpu
                await asyncio.sleep(0.02)
            child = await worker_cpu() - child
            results.append((label, took, added, stalls.worst))
            print(f"{label:26} {took:7.2f} s  {added:6d} rows  CPU: bot {cpu:6.2f} s, worker {child:6.2f} s  "
                  f"longest loop stall {stalls.worst * 1000:6.1f} ms  RSS +{rss_mb() - rss:.0f} MB", flush=True)
    finally:
        if empty is False:
            async with db.session() as session:
                await session.execute(text("DELETE FROM \"case\" WHERE code = 'NT-2026-999999'"))
        await service.stop()
        closer = getattr(service, "close", None)
        if closer is not None:
            await closer()
        await db.dispose()
    return results


if __name__ == "__main__":
    asyncio.run(seed_and_measure(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "",
                                 reseed="--reseed" in sys.argv))
