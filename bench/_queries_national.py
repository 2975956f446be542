"""The queries of issue 17 at national size: seeds a database (every official commune, ~63,600 villages,
~80,000 people, 100,000 cases over three years, an outbox of sent rows and an 08:00 burst of due ones)
through Core inserts, then times, through the project's own code: a submission (the last press of a
nomination), /thongke of the largest province's official, /danhsach page 1, an outbox claim in the burst,
and the pruning of old outbox rows. Prints one figure per line.

    .venv/bin/python -m bench._queries_national [--postgres-url URL] [--cases 100000] [--sent 1000000]

`seed(db, …)` is reusable (bench/national.py may call it)."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

from bot.app import build_app
from common.clock import FrozenClock
from common.settings import Settings
from scheduler.outbox import OutboxSender
from storage import stats
from storage.communes import all_communes
from storage.models import Account, Case, Commune, Membership, Outbox, Person, Unit
from tests.chat import Chat, image_bytes

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 14, 8, 0, tzinfo=ZONE)  # a reminder morning
RUN = int(time.time()) % 100_000  # names of this run's nominations (a name seen before would be flagged)
STATUSES = ["submitted"] * 2 + ["approved"] * 4 + ["commended", "returned", "rejected", "withdrawn", "resubmitted"]
ANSWERS = {"kind": "ca_nhan", "birth_year": 1968, "ethnicity": "Kinh", "position": "Nông dân",
           "address": "Thôn Đông, Phường Hoàn Kiếm, Hà Nội", "field": "Nông nghiệp", "movement": None,
           "description": "Ông An đã cứu hai em nhỏ bị đuối nước ở sông Hồng chiều 15/10. " * 4,
           "when": {"start": "2026-10-15", "precision": "day", "label": "15/10/2026"}, "phone": "+84912345678",
           "consent": "yes"}


async def _bulk(db, table, rows, chunk: int = 5000) -> None:
    for start in range(0, len(rows), chunk):
        async with db.session() as session:
            await session.connection()
            await (await session.connection()).execute(insert(table.__table__), rows[start:start + chunk])


async def seed(db, *, cases: int = 100_000, sent: int = 1_000_000, burst: int = 60_000, units_per: int = 19,
               seed_value: int = 17) -> dict:
    """Every commune with `units_per` villages, a cadre per village, a secretary and an official per commune, a
    province official per province; `cases` cases since 2024; `sent` sent outbox rows over the last year and
    `burst` pending rows due at NOW. Returns what the measures need."""
    rng = random.Random(seed_value)
    communes = all_communes()
    created = NOW - timedelta(days=400)
    await _bulk(db, Commune, [dict(code=c.code, name=c.name, province_code=c.province_code,
                                   province_name=c.province_name) for c in communes])
    units, people, accounts, members = [], [], [], []
    unit_id = person_id = 0
    units_of: dict[str, list[int]] = {}

    def person(role: str, commune: str | None, province: str | None = None, unit: int | None = None) -> int:
        nonlocal person_id
        person_id += 1
        people.append(dict(id=person_id, name=f"Người {person_id}", created_at=created))
        accounts.append(dict(person_id=person_id, channel="telegram", external_id=str(person_id),
                             chat_id=str(person_id)))
        members.append(dict(person_id=person_id, role=role, commune_code=commune, province_code=province,
                            unit_id=unit, created_at=created))
        return person_id

    for c in communes:
        ids = []
        for k in range(units_per):
            unit_id += 1
            units.append(dict(id=unit_id, commune_code=c.code, kind="village", name=f"Thôn {k + 1}",
                              name_key=f"thon {k + 1}"))
            ids.append(unit_id)
            person("cadre", c.code, unit=unit_id)
        units_of[c.code] = ids
        person("secretary", c.code)
        person("official", c.code)
    provinces = sorted({c.province_code for c in communes})
    province_official = {p: person("official", None, province=p) for p in provinces}
    await _bulk(db, Unit, units)
    await _bulk(db, Person, people)
    await _bulk(db, Account, accounts)
    await _bulk(db, Membership, members)
    codes = [c.code for c in communes]
    start = datetime(2024, 1, 1, tzinfo=ZONE)
    span = (NOW - start).total_seconds()
    rows = []
    for n in range(cases):
        code = rng.choice(codes)
        when = start + timedelta(seconds=rng.random() * span)
        name = f"Người được đề cử {n}"
        rows.append(dict(code=f"NT-{when.year}-9{n:06d}", commune_code=code, unit_id=rng.choice(units_of[code]),
                         nominator_id=1, status=rng.choice(STATUSES), kind="ca_nhan", name=name,
                         name_key=name.lower(), field="Nông nghiệp", movement="", answers={**ANSWERS, "name": name},
                         submitted_at=when, updated_at=when, version=1, reason="", fix_fields=[], commendation={}))
    await _bulk(db, Case, rows)
    payload = {"text": "⏰ Còn 7 ngày đến hạn nộp hồ sơ quý 4/2026 (20/12/2026).\nĐã gửi: 3 · Chờ duyệt: 1 · "
               "Trả lại: 0\nChưa gửi: Thôn 1, Thôn 2, Thôn 3\nChỉ tiêu năm 2026: 1/2", "choices": [["Mở", "cmd:choduyet"]]}
    out = []
    for n in range(sent):
        due = NOW - timedelta(seconds=rng.random() * 365 * 86400)
        out.append(dict(key=f"deadline:{n}:old", person_id=rng.randint(1, person_id), channel="telegram",
                        chat_id="1", kind="deadline", payload=payload, status="sent", due_at=due, attempts=1,
                        last_error="", created_at=due, sent_at=due + timedelta(seconds=5)))
        if len(out) == 20_000:
            await _bulk(db, Outbox, out, 20_000)
            out = []
    for n in range(burst):
        out.append(dict(key=f"deadline:{n}:burst", person_id=rng.randint(1, person_id), channel="telegram",
                        chat_id=str(n), kind="deadline", payload=payload, status="pending", due_at=NOW, attempts=0,
                        last_error="", created_at=NOW))
        if len(out) == 20_000:
            await _bulk(db, Outbox, out, 20_000)
            out = []
    await _bulk(db, Outbox, out, 20_000)
    if not db.is_sqlite:
        async with db.session() as session:
            await session.execute(text("ANALYZE"))
    else:
        async with db.session() as session:
            await session.execute(text("ANALYZE"))
    largest = max(provinces, key=lambda p: sum(1 for c in communes if c.province_code == p))
    return {"province": largest, "province_official": province_official[largest], "units_of": units_of,
            "communes": [c for c in communes if c.province_code == largest]}


async def world_of(db) -> dict:
    """What `seed` returns, read back from a database it seeded (--reuse)."""
    communes = all_communes()
    provinces = sorted({c.province_code for c in communes})
    largest = max(provinces, key=lambda p: sum(1 for c in communes if c.province_code == p))
    async with db.session() as session:
        official = (await session.execute(text(
            "SELECT person_id FROM membership WHERE role = 'official' AND province_code = :p"),
            {"p": largest})).scalar_one()
        units_of: dict[str, list[int]] = {}
        for unit_id, code in (await session.execute(text("SELECT id, commune_code FROM unit ORDER BY id"))).all():
            units_of.setdefault(code, []).append(unit_id)
    return {"province": largest, "province_official": official, "units_of": units_of,
            "communes": [c for c in communes if c.province_code == largest]}


def _ms(samples: list[float]) -> str:
    samples = sorted(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return f"p50 {statistics.median(samples) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (n={len(samples)})"


CPU: list[float] = []  # this process's CPU time of each timed call (SQLite works in-process): on a machine
# shared with other work, wall time includes waiting for a core; CPU time does not


async def _timed(what) -> float:
    started, cpu = time.perf_counter(), time.process_time()
    await what
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - started


def _ms_cpu(samples: list[float]) -> str:
    cpu = CPU[-len(samples):]
    return f"{_ms(samples)}; CPU p50 {statistics.median(cpu) * 1000:.1f} ms"


async def measure(app, world: dict, *, submits: int = 20) -> None:
    charts, app.core.charts = app.core.charts, None  # the numbers only: the chart is drawn after, elsewhere
    official = Chat(app.core, str(world["province_official"]))
    await official.say("/thongke")  # warm
    took = [await _timed(official.say("/thongke")) for _ in range(7)]
    print(f"/thongke of the largest province's official ({len(world['communes'])} communes): {_ms_cpu(took)}")
    took = [await _timed(official.say("/danhsach")) for _ in range(7)]
    print(f"/danhsach page 1, province official: {_ms_cpu(took)}")
    app.core.charts = charts
    codes = [c.code for c in world["communes"]]
    async with app.db.session() as session:
        took = []
        for _ in range(5):
            started = time.perf_counter()
            await stats.progress(session, [c.code for c in all_communes()], NOW - timedelta(days=85), NOW,
                                 datetime(2026, 1, 1, tzinfo=ZONE), datetime(2027, 1, 1, tzinfo=ZONE))
            took.append(time.perf_counter() - started)
    print(f"stats.progress of every commune (the planner's call): {_ms(took)}")
    # submissions: cadres of the province's communes, each its own nomination; the last press timed
    took = []
    commune_cadres = [(c, world["units_of"][c]) for c in codes]
    for n in range(submits):
        code, _ = commune_cadres[n % len(commune_cadres)]
        async with app.db.session() as session:
            cadre = (await session.execute(text(
                "SELECT person_id FROM membership WHERE commune_code = :c AND role = 'cadre' ORDER BY id LIMIT 1"),
                {"c": code})).scalar_one()
        chat = Chat(app.core, str(cadre))
        for said in ("/decu", "ca nhan", f"Nguyen Van Bench {RUN} {n}", "1968", "kinh", "khong co", "1", "nong nghiep",
                     "khong ro", "Ông An đã cứu hai em nhỏ bị đuối nước.", "15/10/2026"):
            await chat.say(said)
        await chat.photos(image_bytes("red"))
        for said in ("xong", "0912.345.678", "co"):
            await chat.say(said)
        took.append(await _timed(chat.say("gui")))
        assert "NT-" in chat.last, chat.last
    print(f"submit (the last press of a nomination): {_ms_cpu(took)}")
    sender = OutboxSender(app.db, FrozenClock(NOW), {})
    took = []
    for _ in range(50):
        took.append(await _timed(sender._claim()))
    print(f"outbox claim of {sender.batch} in the burst: {_ms_cpu(took)}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres-url", default="")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--sent", type=int, default=1_000_000)
    parser.add_argument("--burst", type=int, default=60_000)
    parser.add_argument("--submits", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="measure again on the database seeded last time")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nt-queries-"))
    schema = ""
    if args.postgres_url:
        url, schema = args.postgres_url, "nt_queries_bench"
        from storage.db import Database
        admin = Database(url)
        if not args.reuse:
            async with admin.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    else:
        folder = Path(tempfile.gettempdir()) / "nt-queries-national"
        folder.mkdir(exist_ok=True)
        if not args.reuse:
            for old in folder.glob("national.db*"):
                old.unlink()
        url = f"sqlite:///{folder / 'national.db'}"
    settings = Settings(_env_file=None, database_url=url, database_schema=schema, media_dir=folder / "media",
                        exports_dir=folder / "exports", telegram_bot_token="")
    app = await build_app(settings, clock=FrozenClock(NOW))
    try:
        started = time.perf_counter()
        if args.reuse:
            world = await world_of(app.db)
            async with app.db.session() as session:  # the burst due again, as seeded
                await session.execute(text("UPDATE outbox SET status = 'pending', lease_until = NULL, attempts = 0 "
                                           "WHERE key LIKE :burst"), {"burst": "%:burst"})
                await session.execute(text("ANALYZE"))
        else:
            world = await seed(app.db, cases=args.cases, sent=args.sent, burst=args.burst)
            print(f"seeded in {time.perf_counter() - started:.0f} s ({'PostgreSQL' if schema else 'SQLite'})")
        await measure(app, world, submits=args.submits)
    finally:
        await app.close()


if __name__ == "__main__":
    asyncio.run(main())
