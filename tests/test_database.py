"""The database layer's own behaviour: SQLite's write-ahead log is copied back in the background."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

import storage.db
from storage.db import Database, pool_sizes
from storage.models import Person
from storage.sqlite_inline import InlineConnection


def rows_in_main_file(path: Path) -> int:
    """Rows of `t` in the database file itself, ignoring the write-ahead log (immutable=1)."""
    connection = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return connection.execute("SELECT count(*) FROM t").fetchone()[0]
    except sqlite3.OperationalError:  # the table itself is still only in the log
        return 0
    except sqlite3.DatabaseError:  # "malformed": read while a checkpoint was writing the file
        return -1
    finally:
        connection.close()


def log_pages(path: Path) -> int:
    """The size of SQLite's write-ahead log file, in pages."""
    return Path(f"{path}-wal").stat().st_size // 4096


async def eventually(condition, seconds: float = 5.0) -> bool:
    """Wait for a condition on the file on disk (nothing to await there), failing after `seconds`."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - the state is a file, not an event
            await asyncio.sleep(0.01)
    return True


async def write_rows(db: Database, count: int) -> None:
    async with db.session() as session:
        await session.exec(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
    for i in range(count):
        async with db.session() as session:
            await session.exec(text("INSERT INTO t VALUES (:x)"), params={"x": i})


async def test_commits_leave_the_copying_to_the_background_checkpointer(tmp_path):
    path = tmp_path / "checkpoints.db"
    db = Database(f"sqlite:///{path}")
    try:
        await write_rows(db, 20)
        # A commit no longer checkpoints a small log itself: the rows are only in the log.
        assert rows_in_main_file(path) == 0
        db.start_checkpoints(every=0.01)
        assert db.checkpointing
        assert await eventually(lambda: rows_in_main_file(path) == 20)
        await write_rows(db, 5)  # writing goes on while it runs
        assert await eventually(lambda: rows_in_main_file(path) == 25)
    finally:
        await db.dispose()
    assert not db.checkpointing  # stopped with the database


async def test_steady_writes_restart_the_log_instead_of_growing_it(tmp_path, monkeypatch):
    """Units of work one after the other (a reminder morning's rows): the log never empties by itself, so the
    checkpointer restarts it in this process's turn; the log file stays near RESTART_AT pages."""
    monkeypatch.setattr(storage.db, "RESTART_AT", 100)
    restarts = []
    restart = storage.db._restart_log
    monkeypatch.setattr(storage.db, "_restart_log", lambda *args: (restart(*args), restarts.append(1)))
    path = tmp_path / "steady.db"
    db = Database(f"sqlite:///{path}")
    try:
        async with db.session() as session:
            await session.exec(text("CREATE TABLE t (x BLOB)"))
        db.start_checkpoints(every=0.005)
        writes, deadline = 0, time.monotonic() + 30
        # ~5 pages each: ~4,000 pages of log for 800 if it were never restarted. Paced as a morning's are, and
        # on until the checkpointer has had its turn twice (a loaded machine may leave its thread waiting).
        while writes < 800 or len(restarts) < 2 and time.monotonic() < deadline:
            async with db.session() as session:
                await session.exec(text("INSERT INTO t VALUES (randomblob(16000))"))
            writes += 1
            await asyncio.sleep(0.0005)
        assert len(restarts) >= 2 and log_pages(path) < 1500
        async with db.session() as session:  # nothing lost, and the turn was given back
            assert (await session.exec(text("SELECT count(*) FROM t"))).scalar_one() == writes
    finally:
        await db.dispose()


async def test_sqlite_statements_run_on_the_loop_thread(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'inline.db'}")
    threads = threading.active_count()
    try:
        async with db.session() as session:
            await session.exec(text("CREATE TABLE t (x INTEGER)"))
            await session.exec(text("INSERT INTO t VALUES (1)"))
            connection = (await session.connection()).sync_connection.connection.driver_connection
        async with db.session() as session:
            assert (await session.exec(text("SELECT count(*) FROM t"))).scalar_one() == 1
        assert isinstance(connection, InlineConnection)
        assert not connection._thread.is_alive()  # aiosqlite's worker never started
        assert threading.active_count() == threads
    finally:
        await db.dispose()


async def test_checkpoints_are_only_for_sqlite():
    db = Database("postgresql://postgres@127.0.0.1:5432/test")  # never connected: nothing to copy there
    try:
        db.start_checkpoints()
        assert not db.checkpointing
    finally:
        await db.dispose()


ROOT = Path(__file__).resolve().parents[1]
STOP_WHILE_CHECKPOINTING = """
import asyncio, sys
from sqlalchemy import text
from storage.db import Database

async def main(folder):
    for i in range(150):
        db = Database(f"sqlite:///{folder}/c{i % 3}.db")
        async with db.session() as session:
            await session.exec(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            await session.exec(text("INSERT INTO t VALUES (1)"))
        db.start_checkpoints(every=0.0005)
        await asyncio.sleep(0.002)
        await db.dispose()

asyncio.run(main(sys.argv[1]))
"""


async def test_stopping_the_checkpointer_in_the_middle_of_a_checkpoint_is_safe(tmp_path):
    # In its own process: closing the connection under a running checkpoint was a segmentation fault.
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", STOP_WHILE_CHECKPOINTING, str(tmp_path),
                                                   cwd=ROOT)
    try:
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


class _Boom(Exception):
    pass


async def _names(settings) -> list[str]:
    """What another connection sees: only what was committed."""
    other = Database(settings.database_url, schema=settings.database_schema)
    try:
        async with other.session() as session:
            return list((await session.exec(text("SELECT name FROM person ORDER BY id"))).scalars())
    finally:
        await other.dispose()


async def test_a_unit_of_work_commits_when_it_ends_and_rolls_back_on_an_error(app, settings):
    async with app.db.session() as session:
        await session.exec(text("INSERT INTO person (name, created_at) VALUES ('Kept', '2026-12-01')"))
    assert await _names(settings) == ["Kept"]

    try:
        async with app.db.session() as session:
            await session.exec(text("INSERT INTO person (name, created_at) VALUES ('Lost', '2026-12-01')"))
            raise _Boom
    except _Boom:
        pass
    assert await _names(settings) == ["Kept"]

    async with app.db.session():  # no statement at all: nothing to begin or to commit
        pass
    async with app.db.session() as session:  # the connection went back clean: the next one works
        await session.exec(text("INSERT INTO person (name, created_at) VALUES ('Next', '2026-12-01')"))
    assert await _names(settings) == ["Kept", "Next"]

    async with app.db.session() as session:  # only added, no statement run yet: written when it ends
        session.add(Person(name="Added", created_at=datetime(2026, 12, 1, tzinfo=UTC)))
    assert await _names(settings) == ["Kept", "Next", "Added"]


async def test_sqlite_driver_statements_take_this_process_turn_unless_the_caller_holds_it(app):
    """SQLite's driver (sqlite3 itself, without SQLAlchemy) never writes beside a unit of work of this process;
    its errors are SQLAlchemy's, and a transaction of several statements commits all or nothing."""
    if not app.db.is_sqlite:
        pytest.skip("SQLite's driver")
    alone, in_turn = app.db.driver(), app.db.driver(in_turn=True)
    async with app.db.session():  # holds the turn
        waiting = asyncio.create_task(alone.fetch("SELECT 1 AS one"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()
        assert await asyncio.wait_for(in_turn.fetch("SELECT ?1 + 1 AS two", 1), 5) == [(2,)]
    assert [row.one for row in await asyncio.wait_for(waiting, 5)] == [1]

    with pytest.raises(OperationalError):
        await alone.fetch("SELECT nothing_here")
    with pytest.raises(_Boom):
        async with alone.transaction() as run:
            run("INSERT INTO person (name, created_at) VALUES ('Lost', '2026-12-01')")
            raise _Boom
    async with alone.transaction() as run:
        run("INSERT INTO person (name, created_at) VALUES ('Kept', '2026-12-01')")
    assert [row.name for row in await alone.fetch("SELECT name FROM person")] == ["Kept"]


async def test_a_burst_of_work_reuses_the_pool_s_connections(app):
    if app.db.is_sqlite:
        pytest.skip("PostgreSQL's connection pool")
    opened: list[int] = []
    event.listen(app.db.engine.sync_engine.pool, "connect", lambda *args: opened.append(1))

    async def one_unit_of_work() -> None:
        async with app.db.session() as session:
            await session.exec(text("SELECT pg_sleep(0.01)"))

    size = app.db.pool_sizes[""]
    for _ in range(3):  # bursts of three times the pool's size: later bursts open nothing new
        await asyncio.gather(*(one_unit_of_work() for _ in range(3 * size)))
    assert 0 < len(opened) <= size


async def test_a_process_opens_no_more_postgresql_connections_than_it_is_given(settings):
    """DATABASE_CONNECTIONS bounds all the pools of a process together, however busy: several processes on one
    server must stay below its max_connections."""
    if Database(settings.database_url).is_sqlite:
        pytest.skip("PostgreSQL's connections")
    assert [sum(pool_sizes(n).values()) for n in (10, 17, 30, 40, 100)] == [10, 17, 30, 40, 100]
    assert pool_sizes(40) == {"": 20, "redoable": 10, "generic": 2, "held": 4, "held-redoable": 4}
    with pytest.raises(ValueError):
        pool_sizes(9)
    db = Database(settings.database_url, schema=settings.database_schema, connections=12)
    mine = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name")
    name = db.server_settings()["application_name"]
    counts: list[int] = []

    async def busy(index: int) -> None:  # every kind of connection at once, each holding it a moment
        if index % 5 == 0:
            async with db.session() as session:
                await session.exec(text("SELECT pg_sleep(0.02)"))
        elif index % 5 == 1:
            async with db.session(redoable=True) as session:
                await session.exec(text("SELECT pg_sleep(0.02)"))
        elif index % 5 == 2:
            async with db.alone(generic_plans=True) as connection:
                await connection.execute(text("SELECT pg_sleep(0.02)"))
        else:
            await db.driver(redoable=index % 5 == 4).fetch("SELECT pg_sleep(0.02)")
        async with db.reading() as reading:
            counts.append((await reading.execute(mine, {"name": name})).scalar())

    try:
        await asyncio.gather(*(busy(n) for n in range(100)))
    finally:
        await db.dispose()
    assert max(counts) == 12  # every pool filled, none beyond its share


async def test_only_work_that_can_be_redone_commits_without_waiting_for_the_disk(app, settings):
    """Handling a stored update (PostgreSQL): its commit does not wait for the log's flush; everything else does."""
    if app.db.is_sqlite:
        pytest.skip("PostgreSQL's synchronous_commit")
    show = text("SHOW synchronous_commit")
    async with app.db.session() as session:
        assert (await session.exec(show)).scalar() == "on"
    async with app.db.alone() as connection:
        assert (await connection.execute(show)).scalar() == "on"
    async with app.db.session(redoable=True) as session:
        assert (await session.exec(show)).scalar() == "off"
        await session.exec(text("INSERT INTO person (name, created_at) VALUES ('Redone', '2026-12-01')"))
    assert await _names(settings) == ["Redone"]  # committed all the same
    async with app.db.session() as session:  # the default pool's connections were not changed
        assert (await session.exec(show)).scalar() == "on"
    assert [r.synchronous_commit for r in await app.db.driver().fetch("SHOW synchronous_commit")] == ["on"]
    assert [r.synchronous_commit for r in await app.db.driver(redoable=True).fetch("SHOW synchronous_commit")] == ["off"]


async def test_a_held_connection_the_server_dropped_is_reported_lost_and_replaced(app):
    """Database.driver: statements alone on connections kept checked out; one killed by the server (a restart, a
    failover) fails as a lost connection (the caller handles the update again), and the next statement gets a
    new connection."""
    if app.db.is_sqlite:
        pytest.skip("PostgreSQL's held connections")
    held = app.db.driver()
    first = (await held.fetch("SELECT pg_backend_pid() AS pid, $1::int + 1 AS next", 41))[0]
    assert first.next == 42
    async with app.db.alone() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first.pid})
    with pytest.raises(Exception) as failed:
        await held.fetch("SELECT 1 AS one")
    assert storage.db.is_lost_connection(failed.value) and storage.db.is_unavailable(failed.value)
    again = (await held.fetch("SELECT pg_backend_pid() AS pid"))[0]
    assert again.pid != first.pid


async def test_a_new_database_is_migrated_with_one_line_in_the_log(tmp_path, caplog):
    """The first start says what it did in one line, not a line per revision; a second start says nothing."""
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        with caplog.at_level("INFO"):
            await db.upgrade()
            lines = [r.getMessage() for r in caplog.records if r.name.startswith(("alembic", "storage"))]
            assert len(lines) == 1 and "migration(s) applied" in lines[0], lines
            caplog.clear()
            await db.upgrade()
            assert [r for r in caplog.records if r.name.startswith(("alembic", "storage"))] == []
    finally:
        await db.dispose()
