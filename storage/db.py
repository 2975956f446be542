"""The database: one async engine, sessions as units of work, and the migrations.

SQLite (the embedded default) and PostgreSQL (production, several workers) run the same code.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Executable, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from common.settings import to_async_url
from storage.sqlite_inline import inline_connector

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL connections one process opens at most, all its pools together (DATABASE_CONNECTIONS): the sum over
# the processes sharing a server must stay below its max_connections (100 by default, a few kept for others).
# 40: the shares the bot was measured with longest (30 was tried, see the README's Performance).
CONNECTIONS = 40
FEWEST_CONNECTIONS = 10  # the usual pool keeps two for long (the inbox listener, the chat locks)
# PostgreSQL connections with settings of their own, a pool of each kind made at its first use (the usual ones,
# kind "", take what the others leave of the process's connections).
KINDS = {
    "redoable": {"synchronous_commit": "off"},  # units of work that can be redone (see session())
    "generic": {"plan_cache_mode": "force_generic_plan"},  # statements planned once (see alone())
    "held": {},  # kept checked out for the statements of each update, run on the driver (see driver())
    "held-redoable": {"synchronous_commit": "off"},
}


def pool_sizes(connections: int) -> dict[str, int]:
    """A process's connections shared among its kinds: at 40, 20 usual ones, 10 for units of work that can be
    redone, 4 + 4 held and 2 for generic plans (what a busy bot used, before the budget was a setting)."""
    if connections < FEWEST_CONNECTIONS:
        raise ValueError(f"a process needs at least {FEWEST_CONNECTIONS} PostgreSQL connections, not {connections}")
    held = max(1, min(4, connections // 10))
    sizes = {"redoable": connections // 4, "generic": 1 if connections < 30 else 2, "held": held,
             "held-redoable": held}
    return {"": connections - sum(sizes.values()), **sizes}


RECYCLE_AFTER = 1800.0  # seconds a PostgreSQL connection serves, pooled or held, before a new one replaces it
RESTART_AT = 8000  # SQLite log pages (32 MB) after which the background checkpointer restarts the log
CAUGHT_UP = 300  # log pages written during a checkpoint round below which the restart may go ahead
TURN_WAIT = 5.0  # seconds the checkpointer waits for this process's turn before skipping a round
log = logging.getLogger(__name__)


class Database:
    def __init__(self, url: str, *, schema: str = "", connections: int = CONNECTIONS) -> None:
        self.url = to_async_url(url)
        self.schema = schema
        self.pool_sizes = pool_sizes(connections)  # PostgreSQL's, by kind
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        self.dialect = "sqlite" if self.is_sqlite else "postgresql"  # the key of statements kept by database
        # By kind of connections: "" the usual ones, the others of KINDS made at their first use.
        self._kinds: dict[str, tuple[AsyncEngine, async_sessionmaker[AsyncSession], AsyncEngine]] = {}
        self._held: dict[str, HeldConnections] = {}
        self._inline: InlineStatements | None = None  # SQLite's driver() (made at its first use)
        self._readers: async_sessionmaker[AsyncSession] | None = None  # reads_for (made at its first use)
        self.engine, self._sessions, self._autocommit = self._of_kind("")
        self._sqlite_lock = asyncio.Lock()
        self._checkpoints: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()

    def server_settings(self) -> dict[str, str]:
        """PostgreSQL session settings: the schema, and a name that says whose connection it is."""
        named = {"application_name": f"nguoitot {self.schema}".strip()[:63]}
        return {**named, "search_path": self.schema} if self.schema else named

    def _create_engine(self, kind: str = "") -> AsyncEngine:
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            _ensure_sqlite_folder(self.url)
            kwargs["async_creator"] = inline_connector(self.url, timeout=30)  # see storage/sqlite_inline.py
        else:
            # No ping before each use (a round trip per message); a connection the server dropped is
            # noticed by the failing statement, and the core handles the event again (is_lost_connection).
            # No overflow: under a burst, overflow connections were opened and closed again by the hundred
            # (a server process forked for each); waiting a moment for a pooled one is far cheaper.
            kwargs.update(pool_size=self.pool_sizes[kind], max_overflow=0, pool_recycle=RECYCLE_AFTER)
            kwargs["connect_args"] = {"server_settings": {**self.server_settings(), **KINDS.get(kind, {})}}
        engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine

    @asynccontextmanager
    async def session(self, *, redoable: bool = False) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends normally, rolls back on any error.

        `redoable`: everything it writes can be made again from what was stored durably before it (handling
        an update kept in the inbox, which is marked handled in the same unit of work). On PostgreSQL it then
        commits without waiting for the write-ahead log to reach the disk (synchronous_commit off, on
        connections of their own): a crash of the database server may lose such commits of its last fraction
        of a second, and the updates are then handled again from the inbox. Waiting for the flush made each
        cadre's answer wait for the planner's bulk writes on a reminder morning (p99 130-210 ms against 9-17).

        SQLite has one writer at a time; letting this process's units of work queue here, instead of
        in SQLite's busy handler (which sleeps up to 100 ms between tries), keeps it fast under load.
        It is also what lets SQLite run on the loop's thread (storage/sqlite_inline.py): no statement
        ever waits there for a lock another unit of work of this process holds.
        Units of work are short (nothing waits on the network inside one) and never nested.
        """
        sessions = self._of_kind("redoable")[1] if redoable and not self.is_sqlite else self._sessions
        async with self._sqlite_turn():
            session = sessions()  # begins at its first statement
            try:
                yield session
                if session.in_transaction() or session.new or session.dirty or session.deleted:
                    await session.commit()  # not reached on an error: closing the session rolls back
            finally:
                if session.in_transaction():
                    await session.close()
                else:  # nothing begun, or committed: no connection to give back, no I/O to await
                    session.sync_session.close()

    def can_go_alone(self, session: AsyncSession) -> bool:
        """PostgreSQL, a unit of work that has run nothing yet: its one statement may go alone.

        On its own a statement is atomic; alone, it costs one round trip instead of three (BEGIN, it,
        COMMIT), for the bot and for the server. SQLite has no round trips to save (and its driver
        would need aiosqlite's worker thread to change the isolation level, see sqlite_inline.py).
        """
        return not self.is_sqlite and not session.in_transaction()

    @asynccontextmanager
    async def alone(self, *, generic_plans: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection of its own, each statement committed by itself (see can_go_alone; an update's own
        statements go alone through `driver`). `generic_plans` (PostgreSQL): its statements are planned once,
        without their values, for a statement run all the time whose plan does not depend on them (the sender's
        claim: PostgreSQL planned each of its first five runs on a connection with its values, 4-6 ms each in a
        morning's burst, against 2 ms with the generic plan)."""
        engine = self._of_kind("generic")[2] if generic_plans and not self.is_sqlite else self._autocommit
        async with engine.connect() as connection:
            yield connection

    def driver(self, *, redoable: bool = False, in_turn: bool = False) -> HeldConnections | InlineStatements:
        """The few statements of every update (its store, its answer, its replies marked sent), run by the
        database's driver itself, where SQLAlchemy's check-out and execution cost the bot about 200 µs of CPU a
        statement. PostgreSQL: statements alone on connections kept checked out, run by asyncpg (about 40 µs).
        SQLite: on a connection kept checked out, run by sqlite3; `in_turn`: the caller holds this process's
        SQLite turn already (a unit of work), else each statement takes it."""
        if self.is_sqlite:
            if self._inline is None:
                self._inline = InlineStatements(self.engine, self._sqlite_lock)
            return self._inline.in_turn if in_turn else self._inline
        kind = "held-redoable" if redoable else "held"
        if kind not in self._held:
            self._held[kind] = HeldConnections(self._of_kind(kind)[0], self.pool_sizes[kind])
        return self._held[kind]

    def _of_kind(self, kind: str) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession], AsyncEngine]:
        """The engine of a kind of connections ("" or one of KINDS), its sessions and its statements alone."""
        if kind not in self._kinds:
            engine = self._create_engine(kind)
            self._kinds[kind] = (engine, async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False),
                                 engine.execution_options(isolation_level="AUTOCOMMIT"))
        return self._kinds[kind]

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession | AsyncConnection]:
        """For a read on its own: on PostgreSQL a statement alone (one round trip, not BEGIN, it and
        COMMIT: on loopback each round trip costs the bot as much CPU as the statement itself); on SQLite
        a unit of work, in its turn."""
        if self.is_sqlite:
            async with self.session() as session:
                yield session
        else:
            async with self.alone() as connection:
                yield connection

    @asynccontextmanager
    async def reads_for(self, session: AsyncSession) -> AsyncIterator[AsyncSession]:
        """Reads a unit of work makes before it writes (who is asking, a duplicate check). On PostgreSQL, while
        the unit has not begun, each goes alone (a session on autocommit connections): no BEGIN and COMMIT round
        trips, and an answer whose one write is its conversation's may still go on the driver. At READ
        COMMITTED a read in the unit's transaction would see no more. What it reads is detached when it ends:
        `session.add` what the unit may change. SQLite (the unit holds the turn, and there are no round trips to
        save), or a unit that has begun (its reads must see its own writes): the unit's own session."""
        if self.is_sqlite or session.in_transaction():
            yield session
            return
        if self._readers is None:
            self._readers = async_sessionmaker(self._autocommit, class_=AsyncSession, expire_on_commit=False)
        reader = self._readers()
        try:
            yield reader
        finally:
            await reader.close()

    def _sqlite_turn(self) -> asyncio.Lock | contextlib.nullcontext:
        return self._sqlite_lock if self.is_sqlite else contextlib.nullcontext()

    async def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision (Alembic), saying so in one line."""
        logging.getLogger("alembic").setLevel(logging.WARNING)  # its lines: one per revision, per plugin
        config = self.alembic_config()
        await asyncio.to_thread(command.upgrade, config, "head")
        if applied := config.attributes.get("applied"):
            log.info("database schema: %d migration(s) applied, now at revision %s", len(applied), applied[-1])

    def alembic_config(self) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["database"] = self
        return config

    def start_checkpoints(self, every: float = 1.0) -> None:
        """SQLite, long-running processes: copy the write-ahead log into the database in the background.

        Otherwise the commit that fills the log does it, with an fsync, while every other unit of work
        of this process waits for it (pauses of 50-300 ms under load). PASSIVE never blocks writers or
        readers. Under steady writes (a reminder morning) the log never empties, so it would keep growing
        until the commit-time backstop (see _sqlite_pragmas) copied it on the loop's thread: once the log
        passes RESTART_AT pages, the checkpointer takes this process's turn (no unit of work of ours runs
        meanwhile, none is blocked on the loop's thread) and restarts the log from its beginning.
        """
        path = make_url(self.url).database
        if self.is_sqlite and self._checkpoints is None and path not in (None, "", ":memory:"):
            self._stop_checkpoints.clear()
            turn = partial(self._turn_from_thread, asyncio.get_running_loop())
            self._checkpoints = threading.Thread(target=_checkpoint_forever, name="sqlite-checkpoints", daemon=True,
                                                 args=(path, every, self._stop_checkpoints, turn))
            self._checkpoints.start()

    @contextlib.contextmanager
    def _turn_from_thread(self, loop: asyncio.AbstractEventLoop) -> Iterator[None]:
        """This process's SQLite turn (the lock its units of work take), held from another thread: a task on
        the loop takes it and keeps it until the thread is done (or has given up waiting for it)."""
        held, finished = threading.Event(), asyncio.Event()

        async def hold() -> None:
            async with self._sqlite_lock:
                if not finished.is_set():
                    held.set()
                    await finished.wait()

        asyncio.run_coroutine_threadsafe(hold(), loop)
        try:
            if not held.wait(TURN_WAIT):
                raise TimeoutError("this process's turn did not come")
            yield
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing holds the turn
                loop.call_soon_threadsafe(finished.set)

    @property
    def checkpointing(self) -> bool:
        return self._checkpoints is not None and self._checkpoints.is_alive()

    async def dispose(self) -> None:
        if self._checkpoints is not None:
            self._stop_checkpoints.set()
            await asyncio.to_thread(self._checkpoints.join)
            self._checkpoints = None
        for held in self._held.values():
            await held.close()
        self._held.clear()
        if self._inline is not None:
            await self._inline.close()
            self._inline = None
        for kind, (engine, _, _) in list(self._kinds.items()):
            await engine.dispose()
            if kind:  # made again at their next use
                del self._kinds[kind]


class HeldConnections:
    """A few PostgreSQL connections kept checked out, each statement sent alone by asyncpg (autocommit) with
    its parameters in order (`$1`…; JSON as text). A connection that fails in any way is dropped, and a lost one
    is reported as SQLAlchemy reports it (`is_lost_connection`), so callers retry as they do."""

    dialect = "postgresql"

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self.engine = engine
        self._free: list[tuple[AsyncConnection, Any, float]] = []  # the connection, its driver's, when opened
        self._slots = asyncio.Semaphore(size)

    async def fetch(self, sql: str, *args: Any) -> list:
        async with self._slots:
            held = self._free.pop() if self._free else await self._open()
            try:
                records = await held[1].fetch(sql, *args)
            except BaseException as error:
                await _drop(held[0])
                if isinstance(error, Exception) and _lost_by_driver(error):
                    raise DBAPIError(sql, args, error, connection_invalidated=True) from error
                raise
            if time.monotonic() - held[2] < RECYCLE_AFTER:
                self._free.append(held)
            else:  # renewed, as the pools renew theirs
                await _drop(held[0])
        return [_row_type(tuple(r.keys()))(*r.values()) for r in records]

    async def _open(self) -> tuple[AsyncConnection, Any, float]:
        connection = await self.engine.connect()
        try:
            return connection, (await connection.get_raw_connection()).driver_connection, time.monotonic()
        except BaseException:
            await _drop(connection)
            raise

    async def close(self) -> None:
        free, self._free = self._free, []
        for connection, _, _ in free:
            await _drop(connection)


async def _drop(connection: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await connection.invalidate()  # never back to the pool: its state is unknown
    with contextlib.suppress(Exception):
        await connection.close()


@functools.lru_cache(maxsize=64)
def _row_type(names: tuple[str, ...]) -> type:
    return collections.namedtuple("Row", names)  # rows read by attribute, as SQLAlchemy's are


def _lost_by_driver(error: Exception) -> bool:
    """asyncpg's ways of saying the connection is gone: closed, never made, the server shutting it, or the
    protocol left in a state it cannot go on from (the server's goodbye crossing the next statement)."""
    import asyncpg  # PostgreSQL only

    return isinstance(error, (asyncpg.InterfaceError, asyncpg.InternalClientError, asyncpg.PostgresConnectionError,
                              asyncpg.exceptions.OperatorInterventionError, OSError)) \
        and not isinstance(error, asyncpg.exceptions.QueryCanceledError)  # a timeout: the connection is fine


class InlineStatements:
    """SQLite's driver(): statements run by sqlite3 itself on a connection of the engine kept checked out (its
    pragmas set, on the loop's thread like every SQLite call here, see sqlite_inline.py), parameters in order
    (`?1`…; times as sqlite_time, JSON as text). Each statement commits by itself; `transaction` groups several.
    Errors come as SQLAlchemy's (OperationalError "database is locked", …), so callers handle them as they do."""

    dialect = "sqlite"

    def __init__(self, engine: AsyncEngine, turn: asyncio.Lock, shared: InlineStatements | None = None) -> None:
        self.engine = engine
        self._shared = shared or self  # who holds the connection
        self._held: tuple[AsyncConnection, sqlite3.Connection] | None = None
        # The same connection, for callers that hold this process's turn already (a unit of work).
        self.in_turn = self if shared else InlineStatements(engine, turn, self)
        self._taking = turn if shared is None else contextlib.nullcontext()

    async def fetch(self, sql: str, *args: Any) -> list:
        async with self.transaction(begin="") as run:
            return run(sql, *args)

    @asynccontextmanager
    async def transaction(self, begin: str = "BEGIN IMMEDIATE") -> AsyncIterator[Callable[..., list]]:
        """`run(sql, *args)` → rows, all committed together when the block ends, rolled back on an error."""
        async with self._taking:
            connection = await self._shared._connection()
            try:
                if begin:
                    _run_inline(connection, begin)
                yield partial(_run_inline, connection)
                if connection.in_transaction:
                    _run_inline(connection, "COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.rollback()
                raise

    async def _connection(self) -> sqlite3.Connection:
        if self._held is None:
            connection = await self.engine.connect()
            self._held = connection, (await connection.get_raw_connection()).driver_connection.sqlite
        return self._held[1]

    async def close(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            await held[0].close()


def _run_inline(connection: sqlite3.Connection, sql: str, *args: Any) -> list:
    try:
        cursor = connection.execute(sql, args)
        try:
            records = cursor.fetchall()
        finally:
            cursor.close()
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, args, error, sqlite3.Error) from error
    return [_row_type(tuple(d[0] for d in cursor.description))(*r) for r in records] if records else []


def sqlite_time(value: datetime) -> str:
    """An aware time as SQLAlchemy keeps it in SQLite (storage/models.py UTCDateTime): UTC, no zone."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass(frozen=True, eq=False)
class GroupStatement:
    """A write that takes a whole group's rows as one set of parameters (`params` makes them, in the order of
    the placeholders): the group goes as one statement on the driver (Database.driver), not the statement for
    each row. On PostgreSQL it goes alone: one round trip, not BEGIN, a statement a row, and COMMIT (on loopback
    each round trip costs the bot about as much CPU as the statement itself)."""

    sql: str
    params: Callable[[list[dict[str, Any]]], tuple]
    redoable: bool = False  # on PostgreSQL: committed without waiting for the disk (see Database.session)


_Queued = tuple[Executable | GroupStatement, list[dict[str, Any]], asyncio.Future[list]]  # rows, their waiter


class GroupCommit:
    """Writes as a group commit: what arrives while a write is under way goes, all together, in the
    next transaction. Many small writes a second (a sender's outcomes, a receiver's updates) then cost
    one transaction per handful instead of one each. `write` returns once its rows are committed."""

    def __init__(self, db: Database, gather: float = 0.0) -> None:
        self.db = db
        self.gather = gather  # seconds the first write of a group waits for others to join it
        self._queued: list[_Queued] = []
        self._writer: asyncio.Task | None = None

    async def write(self, statement: Executable | GroupStatement,
                    params: dict[str, Any] | list[dict[str, Any]]) -> list:
        """Returns, for a statement with RETURNING, the rows it returned for the whole group (the caller
        picks its own)."""
        done = asyncio.get_running_loop().create_future()
        self._queued.append((statement, params if isinstance(params, list) else [params], done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        return await done

    async def _write_queued(self) -> None:
        if self.gather:
            await asyncio.sleep(self.gather)
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                await self._write_settling(batch)
            except BaseException as stop:  # cancelled: nobody is left waiting forever
                _settle(batch + self._queued, stop)
                raise

    async def _write_settling(self, batch: list[_Queued]) -> None:
        """Write a group and settle its waiters. If it fails, one bad write must not fail its neighbours:
        each is written again on its own."""
        try:
            returned = await self._write(batch)
        except Exception as failed:
            if len(batch) == 1:
                _settle(batch, failed)
                return
            for one in batch:
                await self._write_settling([one])
        else:
            _settle(batch, None, returned)

    async def _write(self, batch: list[_Queued]) -> dict[Executable | GroupStatement, list]:
        by_statement: dict[Executable | GroupStatement, list[dict[str, Any]]] = {}
        for statement, rows, _ in batch:
            by_statement.setdefault(statement, []).extend(rows)
        returned: dict[Executable | GroupStatement, list] = {}
        in_a_unit = {statement: rows for statement, rows in by_statement.items()
                     if not isinstance(statement, GroupStatement)}
        for statement, rows in by_statement.items():
            if isinstance(statement, GroupStatement):  # each by itself
                driver = self.db.driver(redoable=statement.redoable)
                returned[statement] = await driver.fetch(statement.sql, *statement.params(rows))
        if in_a_unit:
            async with self.db.session() as session:
                for statement, rows in in_a_unit.items():
                    result = await session.execute(statement, rows)
                    returned[statement] = result.all() if result.returns_rows else []
        return returned


def _settle(batch: list[_Queued], error: BaseException | None, returned: dict | None = None) -> None:
    for statement, _, done in batch:
        if done.done():
            continue
        if error is None:
            done.set_result((returned or {}).get(statement, []))
        else:
            done.set_exception(error)


def is_write_conflict(error: BaseException) -> bool:
    """SQLite's way of saying another process wrote since this transaction read (SQLITE_BUSY[_SNAPSHOT]):
    like a failed version check, handling the event again is the answer."""
    return isinstance(error, OperationalError) and "database is locked" in str(error)


def is_unavailable(error: BaseException) -> bool:
    """The database cannot be reached or used just now (down, restarting, a lost connection, a full pool):
    what was to be written may be tried again later."""
    return is_lost_connection(error) or isinstance(
        error, (OperationalError, InterfaceError, PoolTimeout, OSError, asyncio.TimeoutError))


def one_line(error: BaseException) -> str:
    """An error as one short log line: a database outage is expected, and its traceback says nothing more."""
    return (str(error).splitlines() or [type(error).__name__])[0][:200]


def is_lost_connection(error: BaseException) -> bool:
    """The database closed this connection (a restart, a failover); a new one will do."""
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def _checkpoint_forever(path: str, every: float, stop: threading.Event,
                        turn: Callable[[], contextlib.AbstractContextManager]) -> None:
    """One thread owns its connection from open to close: closing it from another thread while a
    checkpoint ran in this one crashed the process (a segmentation fault in SQLite)."""
    connection = sqlite3.connect(path, timeout=0)  # never waits for a lock: a busy round is skipped
    try:
        while not stop.wait(every):
            try:
                pages = _copy_log(connection)
                if pages >= RESTART_AT:
                    _restart_log(connection, pages, turn)
            except (sqlite3.Error, TimeoutError, RuntimeError) as error:
                log.debug("checkpoint skipped: %s", error)  # busy, or the loop is gone: the next round will do
    finally:
        connection.close()


def _copy_log(connection: sqlite3.Connection) -> int:
    """Copy what the log holds into the database (PASSIVE: nobody waits); returns the log's size in pages."""
    return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def _restart_log(connection: sqlite3.Connection, pages: int, turn: Callable[[], contextlib.AbstractContextManager]) -> None:
    """Start the log again from its beginning. PASSIVE rounds first, until one finds little new (each round's
    fsync is the slow part), so that the RESTART, run in this process's turn, has little left to copy: our
    units of work wait 1-40 ms for it instead of the 50-130 ms of a whole copy."""
    for _ in range(3):
        now = _copy_log(connection)
        if now - pages < CAUGHT_UP:
            break
        pages = now
    with turn():
        connection.execute("PRAGMA wal_checkpoint(RESTART)")


def _ensure_sqlite_folder(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one writer commits; busy_timeout makes writers queue, not fail.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Checkpoints are done in the background (Database.start_checkpoints); a commit does one only if the log
    # reaches 40,000 pages (160 MB), a backstop. At 4,000 pages a reminder morning's writes (an outbox row
    # writes ~2.7 KB of log: its indexes) reached it every 30 units of work, and that commit then copied the
    # log itself, with an fsync, on the loop's thread (50-130 ms).
    cursor.execute("PRAGMA wal_autocheckpoint=40000")
    cursor.close()
