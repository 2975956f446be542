"""SQLite statements run on the event loop's own thread, through SQLAlchemy's aiosqlite dialect.

aiosqlite hands every call (cursor, execute, fetch, close, commit) to a worker thread and waits for
the answer: five hand-overs for one SELECT, each a queue, a thread wake-up and a loop wake-up, which
cost the bot about 100 µs of CPU apiece, more than the statements themselves. Our statements take
microseconds (WAL, synchronous=NORMAL: a commit writes to the log without an fsync; checkpoints run
in their own thread, see Database.start_checkpoints), so running them in place is cheaper than any
hand-over, and the loop is never blocked for long.

Two conditions make this safe:
- Units of work of this process take their turn (Database.session holds an asyncio lock), so no
  statement here ever waits for a lock held by another connection of this process: that wait would
  block the loop, and with it the holder.
- A write lock held by another process (a CLI command, a second process on the same file) is waited
  for here, on the loop's thread (SQLite's busy timeout). SQLite is the one-process embedded engine;
  several workers run on PostgreSQL.

The connection keeps aiosqlite's API, which SQLAlchemy's dialect drives, and overrides only how a
call is carried out; tests/test_database.py checks that no worker thread starts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url

ITER_CHUNK_SIZE = 64  # aiosqlite's default, for its cursors' iteration


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run at once, on the caller's thread."""

    def __await__(self):  # no worker thread to start
        return self._connect().__await__()

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    @property
    def sqlite(self) -> sqlite3.Connection | None:
        """The sqlite3 connection itself (Database.driver runs statements on it without SQLAlchemy)."""
        return self._connection

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def inline_connector(url: str, **connect_args: Any) -> Callable[[], Awaitable[InlineConnection]]:
    """For create_async_engine(async_creator=…): the dialect's own sqlite3.connect arguments for the URL."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
    kwargs.update(connect_args)
    connect = partial(sqlite3.connect, *args, **kwargs)

    async def connected() -> InlineConnection:
        return await InlineConnection(connect, ITER_CHUNK_SIZE)

    return connected
