"""Planning reminders a little at a time, off the event loop that answers people.

`IncrementalPlanner` remembers, for each commune (and each province's officials), the next moment its plan
may change with nothing changed in the database (`ReminderPlanner.plan_scope`: an offset's hour, the day
after a deadline, a snooze running out, a Monday's digest). A pass re-plans only the communes whose moment
has come, and those named by the change log (`plannerchange`, written by triggers on every table planning
reads, migration 0011): a commune, a province (its deadlines: every commune of it) or a person (the communes
and provinces they belong to). Nothing due and nothing changed: one small query. The first pass after a start
plans everything (the catch-up after downtime, as before: only the latest offset that is due). What the
planner proposes is still filtered by the outbox's unique keys, so re-planning a commune is always harmless.
What a pass read of each commune's progress and people is kept (`ReminderPlanner.keep_what_is_read`) until the
change log names the commune (or the province, for its officials): a reminder morning plans every commune
but reads again only what changed.

Where the pass runs: `ProcessPlanning`, a spawned worker process of its own (like /thongke's charts; it exits
when the bot dies), which reads the database and keeps the state. On PostgreSQL the worker also writes what it
planned; on SQLite the bot's process writes it, in small units of work (`write_planned`), because a write from
another process would be waited for on the loop's thread (storage/sqlite_inline.py). Either way neither the
planning nor a big write holds the event loop that answers people. `LocalPlanning` runs the same pass in this
process, for the console's one-off `remind run`, small installations and tests.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from itertools import islice
from typing import Any

from sqlalchemy import and_, delete, distinct, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from common.processes import OneWorker, exit_with_parent
from common.settings import Settings
from scheduler.outbox import Message, NewRow, insert_rows, new_rows
from scheduler.reminders import ReminderPlanner, Scope
from storage.db import FEWEST_CONNECTIONS, Database
from storage.models import Membership, PlannerChange

CHUNK = 250  # rows written per unit of work on the bot's loop (a few milliseconds each)
# The planner is background work: where cores are few, the process that answers people goes first.
WORKER_NICENESS = 10
WORKER_CHUNK = 2000  # rows written per unit of work by the worker process (PostgreSQL; one statement each)
FULL_SHARE = 0.3  # re-planning more than this share of the communes: read everything at once instead
FULL_FROM = 200  # … and more than this many (a reminder morning): then what is kept is read only where it changed
PEOPLE_CHUNK = 500


@dataclass(frozen=True)
class Pass:
    """What a pass did."""

    consumed: tuple[tuple[int, int], ...]  # ranges of change-log ids read: deleted once the messages are written
    communes: tuple[str, ...]  # communes re-planned
    provinces: tuple[str, ...]  # provinces whose officials' digests were re-planned
    full: bool
    added: int = 0  # outbox rows written


class IncrementalPlanner:
    def __init__(self, settings: Settings) -> None:
        self.planner = ReminderPlanner(settings)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next pass plans every commune."""
        self.planner.keep_what_is_read()  # progress and people, kept until the change log names them
        self.communes: dict[str, datetime] | None = None  # commune → the next moment to plan it again
        self.provinces: dict[str, datetime] = {}
        self.province_of: dict[str, str] = {}

    async def plan(self, session: AsyncSession, now: datetime) -> tuple[Iterator[Message], Pass]:
        """The reminders due at `now`, made as they are read (those already queued among them: outbox.new_rows
        leaves them out), and what was done."""
        # The log is read before anything it may name: a change committed after this is read next time.
        changes = (await session.exec(select(PlannerChange.id, PlannerChange.commune_code,
                                             PlannerChange.province_code, PlannerChange.person_id))).all()
        consumed = _ranges(sorted(row[0] for row in changes))
        if self.communes is None:
            return self._full(await self.planner.plan_scope(session, now), consumed)
        communes, provinces = await self._changed(session, changes)
        self.planner.forget(communes, provinces)  # what the log names is read again
        communes |= {code for code, moment in self.communes.items() if moment <= now}
        provinces |= {code for code, moment in self.provinces.items() if moment <= now}
        if not communes and not provinces:
            return iter(()), Pass(consumed, (), (), False)
        if len(communes) > max(FULL_FROM, FULL_SHARE * len(self.communes)):
            return self._full(await self.planner.plan_scope(session, now), consumed)
        scope = await self.planner.plan_scope(session, now, communes, provinces)
        for code in communes:
            self.communes.pop(code, None)
            self.province_of.pop(code, None)
        for code in provinces:
            self.provinces.pop(code, None)
        self.communes.update(scope.communes)
        self.provinces.update(scope.provinces)
        self.province_of.update(scope.province_of)
        return scope.messages, Pass(consumed, tuple(sorted(communes)), tuple(sorted(provinces)), False)

    def _full(self, scope: Scope, consumed: tuple[tuple[int, int], ...]) -> tuple[Iterator[Message], Pass]:
        self.communes, self.provinces, self.province_of = scope.communes, scope.provinces, scope.province_of
        return scope.messages, Pass(consumed, tuple(scope.communes), tuple(scope.provinces), True)

    async def _changed(self, session: AsyncSession, changes: Sequence[Any]) -> tuple[set[str], set[str]]:
        """The communes and provinces the change log names, directly or through a person's memberships."""
        communes: set[str] = set()
        provinces: set[str] = set()
        people: set[int] = set()
        for _, commune, province, person in changes:
            if commune:
                communes.add(commune)
            elif province:
                provinces.add(province)
                if person is None:  # a province's deadline: each of its communes
                    communes.update(code for code, of in self.province_of.items() if of == province)
            if person is not None:
                people.add(person)
        ordered = sorted(people)
        for start in range(0, len(ordered), PEOPLE_CHUNK):
            rows = await session.exec(select(Membership.commune_code, Membership.province_code)
                                      .where(Membership.person_id.in_(ordered[start:start + PEOPLE_CHUNK])))
            for commune, province in rows.all():
                if commune:
                    communes.add(commune)
                elif province:
                    provinces.add(province)
        return communes, provinces


async def forget_changes(session: AsyncSession, consumed: Iterable[tuple[int, int]]) -> None:
    """Delete the change-log rows a pass read (and only those: one committed late with a smaller id stays)."""
    ranges = list(consumed)
    for start in range(0, len(ranges), 200):
        await session.execute(delete(PlannerChange).where(or_(*(
            and_(PlannerChange.id >= low, PlannerChange.id <= high) for low, high in ranges[start:start + 200]))))


async def communes_with_members(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(distinct(Membership.commune_code)))
                                     .where(Membership.revoked_at.is_(None))) or 0)


def _ranges(ids: list[int]) -> tuple[tuple[int, int], ...]:
    """Sorted ids as (first, last) runs of consecutive ids."""
    runs: list[tuple[int, int]] = []
    for value in ids:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return tuple(runs)


async def write_planned(db: Database, done: Pass, chunk: Callable[[], Awaitable[list[NewRow] | None]],
                        *, planned_here: bool = False) -> Pass:
    """Write a pass's rows a chunk per unit of work, until `chunk` gives None, the next chunk planned while one is
    written; then forget the change-log rows the pass read (after: a crash in between re-plans them, which is
    harmless). `planned_here`: the chunks are planned by this process (PostgreSQL's worker), so a write is sent
    before the next chunk is planned (the server writes meanwhile); else the next chunk is asked for before a
    write (on SQLite the write runs inline, on this thread, while another process plans)."""
    added = 0

    async def write(rows: list[NewRow]) -> int:
        async with db.session() as session:
            return await insert_rows(session, rows)

    coming: asyncio.Future | None = asyncio.ensure_future(chunk())
    writing: asyncio.Future | None = None
    try:
        while (rows := await coming) is not None:
            if planned_here:
                writing = asyncio.ensure_future(write(rows))
                coming = asyncio.ensure_future(chunk())
            else:
                coming = asyncio.ensure_future(chunk())
                await asyncio.sleep(0)  # it asks for the next chunk now
                writing = asyncio.ensure_future(write(rows))
            added += await writing
            writing = None
            await asyncio.sleep(0)  # on SQLite the writes run on this thread: others' work goes in between
        coming = None
    finally:
        for pending in (coming, writing):
            if pending is not None:
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
    if done.consumed:
        async with db.session() as session:
            await forget_changes(session, done.consumed)
    return replace(done, added=added)


async def _next_rows(db: Database, messages: Iterator[Message], size: int, now: datetime) -> list[NewRow] | None:
    """The outbox rows of the next `size` messages (fewer: some were queued already); None once there are none."""
    batch = list(islice(messages, size))
    if not batch:
        return None
    async with db.session() as session:
        return await new_rows(session, batch, now)


class LocalPlanning:
    """The pass in this process (the console's `remind run`, small installations, tests)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.engine = IncrementalPlanner(settings)

    async def plan(self, now: datetime) -> Pass:
        async with self.db.session() as session:
            messages, done = await self.engine.plan(session, now)

        chunk = partial(_next_rows, self.db, messages, CHUNK, now)
        return await write_planned(self.db, done, chunk, planned_here=not self.db.is_sqlite)

    async def reset(self) -> None:
        self.engine.reset()

    async def close(self) -> None:
        pass


class ProcessPlanning:
    """The pass in a worker process of its own (spawned on first use; it exits when this process dies). Its
    state lives there: a new worker (after a crash, or in the process that takes the planner role over)
    starts with a full pass."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.worker = OneWorker(_start, (db.url, db.schema, settings))

    async def _call(self, function: Any, *args: Any) -> Any:
        return await self.worker.run(function, *args)  # a worker that died is replaced: a full pass next

    async def warm(self) -> None:
        await self._call(_warm)

    async def plan(self, now: datetime) -> Pass:
        if not self.db.is_sqlite:
            return await self._call(_plan_and_write, now)
        done = await self._call(_plan, now)
        return await write_planned(self.db, done, self.chunk)

    async def chunk(self) -> list[NewRow] | None:
        return await self._call(_chunk)

    async def reset(self) -> None:
        try:
            await self._call(_reset)
        except Exception:  # a worker that cannot be told to forget is replaced
            await self.close()

    async def close(self) -> None:
        self.worker.close()


# ---- in the worker process
_worker: dict[str, Any] = {}


def _start(url: str, schema: str, settings: Settings, parent: int) -> None:
    exit_with_parent(parent)
    os.nice(WORKER_NICENESS)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    db = Database(url, schema=schema, connections=FEWEST_CONNECTIONS)  # it uses one or two
    _worker.update(loop=loop, db=db, engine=IncrementalPlanner(settings), messages=iter(()))


def _warm() -> bool:
    return True


def _plan(now: datetime) -> Pass:
    """Read what planning needs; the messages are made here a chunk at a time as the bot's process fetches and
    writes them (SQLite), the next one while it writes the one before."""
    messages, done = _run(_planned(now))
    _worker.update(messages=messages, now=now)
    return done


def _plan_and_write(now: datetime) -> Pass:
    """Plan and write here (PostgreSQL): nothing crosses to the bot's process, and the database writes a chunk
    while the next one is planned."""

    async def run() -> Pass:
        messages, done = await _planned(now)
        chunk = partial(_next_rows, _worker["db"], messages, WORKER_CHUNK, now)
        return await write_planned(_worker["db"], done, chunk, planned_here=True)

    return _run(run())


async def _planned(now: datetime) -> tuple[Iterator[Message], Pass]:
    async with _worker["db"].session() as session:
        return await _worker["engine"].plan(session, now)


def _run(work: Coroutine[Any, Any, Any]) -> Any:
    # No garbage collection during a pass: a morning's pass makes a million objects, none of them in a cycle
    # that outlives it, and the collector's full passes over them were 40% of its time.
    gc.disable()
    try:
        return _worker["loop"].run_until_complete(work)
    except BaseException:  # what was planned may not all be written: the next pass plans everything
        _worker["engine"].reset()
        raise
    finally:
        gc.enable()


def _chunk() -> list[NewRow] | None:
    found = _run(_next_rows(_worker["db"], _worker["messages"], CHUNK, _worker["now"]))
    if found is None:
        _worker["messages"] = iter(())  # all fetched: let the memory go
    return found


def _reset() -> bool:
    _worker["engine"].reset()
    _worker["messages"] = iter(())
    return True
