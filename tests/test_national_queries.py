"""Issue 17, national scale: the outbox's claim uses its index (no sort of a burst), old finished outbox rows
are pruned in batches and pending ones never, counts and lists never read a case's answers (JSON), progress is
the same counted for a few communes or for many, and previews are drawn off the event loop and sent again by
Telegram's file_id."""

from __future__ import annotations

import asyncio
import io
import re
import time
from datetime import datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import event, insert, select, text
from sqlmodel import SQLModel

from bot import casework
from bot.channels.telegram import TelegramChannel
from common.events import Reply
from scheduler import outbox
from scheduler.outbox import _CLAIM, _CLAIM_SKIP_LOCKED
from scheduler.service import ReminderService
from storage import repo, stats
from storage.communes import all_communes
from storage.models import Outbox
from tests.chat import Chat
from tests.conftest import COMMUNE_A, COMMUNE_B, IS_POSTGRES, ZONE, add_member
from tests.test_review import CHATS, add_case, world  # noqa: F401  (the fixture)


def _row(n: int, status: str, due: datetime, **kw) -> dict:
    return dict(key=f"k{n}:{status}", person_id=kw["person_id"], channel="telegram", chat_id=str(n),
                kind="deadline", payload={"text": "x"}, status=status, due_at=due, attempts=0, last_error="",
                created_at=due, sent_at=kw.get("sent_at"))


async def test_the_claim_reads_the_pending_rows_in_order_from_their_index(app, clock):
    person = await add_member(app, "c1")
    now = clock.now()
    rows = [_row(n, "pending", now, person_id=person) for n in range(3000)]  # a burst due at once
    rows += [_row(10_000 + n, "sent", now - timedelta(days=1), person_id=person, sent_at=now) for n in range(3000)]
    async with app.db.session() as session:
        await session.execute(insert(Outbox.__table__), rows)
        await session.execute(text("ANALYZE"))
    claim = (_CLAIM if app.db.is_sqlite else _CLAIM_SKIP_LOCKED)[1]
    plan = await _plan(app, claim, {"now": now, "lease_until": now + timedelta(minutes=5), "batch": 50})
    # SQLite's rows are in id order within (status, due_at) already; PostgreSQL needs the partial index.
    assert ("ix_outbox_" if app.db.is_sqlite else "ix_outbox_pending") in plan, plan
    assert not re.search(r"\bSort\b|TEMP B-TREE", plan), plan  # the burst is not sorted at each claim
    sender = outbox.OutboxSender(app.db, clock, {})
    claimed = await sender._claim()
    assert len(claimed) == 50 and [r.key for r in claimed] == [f"k{n}:pending" for n in range(50)]


async def test_a_secretarys_waiting_digest_is_found_from_its_own_small_index(app, clock):
    """At each submission; the outbox has no index on person_id (the planner's rows would all pay for it)."""
    person = await add_member(app, "c1")
    now = clock.now()
    rows = [_row(n, "sent", now, person_id=person, sent_at=now) for n in range(3000)]  # reminders, many per person
    rows += [{**_row(5000 + n, "sent", now, person_id=person, sent_at=now), "kind": "newcases"} for n in range(3)]
    async with app.db.session() as session:
        await session.execute(insert(Outbox.__table__), rows)
        await session.execute(text("ANALYZE"))
    plan = await _plan(app, casework.digest_lookup([person], now - timedelta(hours=1)), {}, generic=True)
    assert "ix_outbox_newcases" in plan, plan
    async with app.db.session() as session:
        found = (await session.exec(casework.digest_lookup([person], now - timedelta(hours=1)))).first()
    assert found is not None and found.kind == "newcases"


def _literal(value) -> str:
    if isinstance(value, int):
        return str(value)
    text = value.isoformat() if isinstance(value, datetime) else str(getattr(value, "value", value))
    return "'" + text.replace("'", "''") + "'"


async def _plan(app, statement, values: dict, *, generic: bool = False) -> str:
    """The database's plan of a statement built by the application, with these values bound. `generic`
    (PostgreSQL): the plan made without the values, as PostgreSQL may use for a prepared statement after five
    executions (a one-off statement, as EXPLAIN with parameters is, is always planned with its values)."""
    async with app.db.session() as session:
        connection = await session.connection()
        compiled = statement.compile(dialect=connection.dialect)
        expanded = compiled.construct_expanded_state({**compiled.params, **values})  # IN lists: one value each
        sql, params = expanded.statement, tuple(expanded.positional_parameters)
        if app.db.is_sqlite:
            rows = (await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)).all()
        elif generic:
            await connection.exec_driver_sql(f"PREPARE nt_planned AS {sql}")
            await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            arguments = ", ".join(_literal(value) for value in params)  # EXECUTE takes no parameters itself
            rows = (await connection.exec_driver_sql(f"EXPLAIN EXECUTE nt_planned({arguments})")).all()
            await connection.exec_driver_sql("DEALLOCATE nt_planned")
        else:
            rows = (await connection.exec_driver_sql("EXPLAIN " + sql, params)).all()
    return "\n".join(str(row[-1]) for row in rows)


async def test_old_finished_messages_are_pruned_in_batches_and_pending_ones_never(app, clock, monkeypatch):
    person = await add_member(app, "c1")
    now = clock.now()
    old, recent = now - timedelta(days=120), now - timedelta(days=10)
    rows = [_row(n, "sent", old, person_id=person, sent_at=old) for n in range(25)]
    rows += [_row(100 + n, status, old, person_id=person)
             for n, status in enumerate(("failed", "stale", "unreachable"))]
    rows += [_row(200, "pending", old, person_id=person), _row(201, "sending", old, person_id=person),
             _row(202, "sent", recent, person_id=person, sent_at=recent),
             _row(203, "pending", now + timedelta(days=1), person_id=person)]
    async with app.db.session() as session:
        await session.execute(insert(Outbox.__table__), rows)
    monkeypatch.setattr(outbox, "PRUNE_BATCH", 10)
    monkeypatch.setattr(outbox, "PRUNE_BATCH_SQLITE", 10)
    batches = []
    prune = outbox.prune

    async def counted(session, before, batch):
        batches.append(await prune(session, before, batch))
        return batches[-1]

    monkeypatch.setattr(outbox, "prune", counted)
    service = ReminderService(app.db, app.settings, clock, {})
    assert app.settings.outbox_retention_days == 90
    assert await service.forget_old_messages() == 28
    assert batches == [10, 10, 8]  # small batches, each its own unit of work
    async with app.db.session() as session:
        left = sorted((await session.execute(select(Outbox.key))).scalars())
    assert left == ["k200:pending", "k201:sending", "k202:sent", "k203:pending"]
    assert await service.forget_old_messages() == 0


def _case_selects(app) -> tuple[list[str], object]:
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(app.db.engine.sync_engine, "before_cursor_execute", seen)
    return statements, seen


async def test_counts_and_lists_never_read_the_answers(app, world):  # noqa: F811
    people, _ = world
    for n in range(12):
        await add_case(app, f"NT-2026-{n + 10:05d}", nominator=people["cadre_a"],
                       when=datetime(2026, 10, 1 + n, 10, tzinfo=ZONE),
                       status=("submitted", "approved", "withdrawn")[n % 3])
    statements, seen = _case_selects(app)
    try:
        for who, command in (("secretary_a", "/thongke"), ("secretary_a", "/thongke nam"),
                             ("province_a", "/thongke"), ("secretary_a", "/danhsach"),
                             ("secretary_a", "/choduyet"), ("cadre_a", "/danhsach"), ("province_a", "/danhsach")):
            replies = await Chat(app.core, CHATS[who]).say(command)
            assert replies and replies[0].text
    finally:
        event.remove(app.db.engine.sync_engine, "before_cursor_execute", seen)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and '"case"' in s.split("FROM")[1]]
    assert reads and not [s for s in reads if "answers" in s.split("FROM")[0]]


async def test_progress_is_the_same_for_a_few_communes_or_every_one(app, world):  # noqa: F811
    people, _ = world
    await add_case(app, "NT-2026-00010", nominator=people["cadre_a"], status="approved",
                   when=datetime(2026, 11, 2, tzinfo=ZONE))
    await add_case(app, "NT-2026-00011", nominator=people["cadre_b"], commune=COMMUNE_B, village="Khu phố 1",
                   status="withdrawn", when=datetime(2026, 11, 3, tzinfo=ZONE))
    await add_case(app, "NT-2026-00012", nominator=people["cadre_b"], commune=COMMUNE_B, village="Khu phố 1",
                   status="submitted", when=datetime(2026, 3, 3, tzinfo=ZONE))
    bounds = (datetime(2026, 9, 20, 23, 59, tzinfo=ZONE), datetime(2026, 12, 20, 23, 59, tzinfo=ZONE),
              datetime(2026, 1, 1, tzinfo=ZONE), datetime(2027, 1, 1, tzinfo=ZONE))
    every = [c.code for c in all_communes()]
    assert len(every) > stats.LARGE
    async with app.db.session() as session:
        few = await stats.progress(session, [COMMUNE_A, COMMUNE_B], *bounds)
        many = await stats.progress(session, every, *bounds)
        unnamed = await stats.progress(session, [COMMUNE_A, COMMUNE_B], *bounds, units=False)
    for code in (COMMUNE_A, COMMUNE_B):
        assert few[code] == many[code]
        assert (unnamed[code].by_status, unnamed[code].year_forwarded, unnamed[code].year_submitted) == (
            few[code].by_status, few[code].year_forwarded, few[code].year_submitted)
        assert unnamed[code].silent_units == [] and unnamed[code].active_units == set()
    a, b = few[COMMUNE_A], few[COMMUNE_B]
    assert a.by_status == {"submitted": 1, "approved": 1} and (a.year_forwarded, a.year_submitted) == (1, 2)
    assert a.silent_units == ["Thôn Tây"] and len(a.active_units) == 1
    assert b.by_status == {"withdrawn": 1} and (b.year_forwarded, b.year_submitted) == (0, 1)
    assert b.silent_units == ["Khu phố 1"] and b.active_units == set()


# ---- previews
def _camera_photo(seed: int) -> bytes:
    """A photo too large to send as it is (more than PREVIEW_SIDE a side), with detail to decode."""
    image = Image.effect_noise((3400, 2600), 40 + seed).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def test_previews_are_drawn_off_the_event_loop_and_sent_again_by_file_id(app, server, telegram_client):
    photos = [await app.media.save(_camera_photo(n)) for n in range(3)]
    shas = tuple(p.sha256 for p in photos)
    channel = TelegramChannel(telegram_client, app.media, db=app.db)
    await app.media.preview(shas[0])  # the worker process started and warmed

    lags: list[float] = []
    stop = asyncio.Event()

    async def tick() -> None:  # the event loop keeps answering while the previews are drawn
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - started - 0.005)

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    await channel.deliver("4242", Reply("Ảnh của hồ sơ", photos=shas))
    drawing = time.perf_counter() - started
    stop.set()
    await ticker
    assert app.media.previews.worker.started  # drawn in the worker process
    assert len(lags) > 10 and max(lags) < max(0.1, drawing / 3), (max(lags), drawing)

    [first] = server.calls_named("sendMediaGroup")
    assert len(first.files) == 3  # uploaded once
    async with app.db.session() as session:
        known = await repo.sent_file_ids(session, "telegram", shas)
    assert set(known) == set(shas)

    loads = []
    load = app.media.load

    async def counted(sha):
        loads.append(sha)
        return await load(sha)

    app.media.load = counted
    await channel.deliver("4243", Reply("Lần nữa", photos=shas))
    second = server.calls_named("sendMediaGroup")[-1]
    assert not second.files and [m["media"] for m in second.params["media"]] == [known[s] for s in shas]
    assert loads == []  # nothing read, nothing drawn

    async with app.db.session() as session:  # an id Telegram no longer knows: uploaded again, and learnt
        await repo.remember_sent_files(session, "telegram", {shas[0]: "gone"}, datetime.now(ZONE))
    await channel.deliver("4244", Reply("Lần ba", photos=shas))
    assert len(server.calls_named("sendMediaGroup")[-1].files) == 3
    async with app.db.session() as session:
        assert (await repo.sent_file_ids(session, "telegram", shas))[shas[0]] != "gone"


async def test_a_small_photo_goes_as_it_is_without_the_worker(app):
    from tests.chat import image_bytes

    small = await app.media.save(image_bytes("red", size=(800, 600)))
    assert await app.media.preview(small.sha256) == await app.media.load(small.sha256)
    assert not app.media.previews.worker.started


@pytest.mark.skipif(not IS_POSTGRES, reason="the partial index's condition against a generic plan")
async def test_the_claims_keep_their_indexes_once_postgresql_plans_them_generically(app, clock):
    """The sender's claims are always planned generically (Database.alone(generic_plans=True))."""
    person = await add_member(app, "c1")
    now = clock.now()
    rows = [_row(n, "pending", now, person_id=person) for n in range(2000)]
    rows += [_row(10_000 + n, "sent", now, person_id=person, sent_at=now) for n in range(20_000)]  # the history
    rows += [_row(50_000 + n, "sending", now, person_id=person) for n in range(5)]
    async with app.db.session() as session:
        await session.execute(insert(Outbox.__table__), rows)
        await session.execute(text("ANALYZE"))
    values = {"now": now, "lease_until": now, "batch": 50}
    expired, due = _CLAIM_SKIP_LOCKED
    plan = await _plan(app, due, values, generic=True)
    assert "ix_outbox_pending" in plan, plan
    plan = await _plan(app, expired, values, generic=True)
    assert "ix_outbox_due" in plan and "Seq Scan on outbox" not in plan, plan
    sender = outbox.OutboxSender(app.db, clock, {})
    async with app.db.alone(generic_plans=True) as connection:  # the connections the claims run on
        assert (await connection.execute(text("SHOW plan_cache_mode"))).scalar() == "force_generic_plan"
    assert len(await sender._claim()) == 50


async def test_models_declare_the_indexes_the_migrations_make(app):
    """A fresh schema (the models) and the migrated one agree on the indexes, those of issue 17 among them."""
    declared = {i.name for t in SQLModel.metadata.sorted_tables for i in t.indexes}
    assert {"ix_membership_commune_role", "ix_case_commune_submitted", "ix_case_submitted",
            "ix_outbox_pending"} <= declared
    async with app.db.session() as session:
        if app.db.is_sqlite:
            made = set((await session.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))).scalars())
        else:
            made = set((await session.execute(text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"))).scalars())
    assert declared - made == set()
    assert "ix_case_commune_code" not in made | declared  # 0012: the composite indexes start with its column
