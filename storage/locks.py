"""Who may do what, between processes: a chat's updates are handled by one worker at a time, and the
reminder planner (or the outbox sender) runs in one process at a time.

PostgreSQL: session advisory locks, all held on one connection of this process. A process that dies
loses its connection, and with it every lock it held, at once: another process takes over without
waiting for a lease to run out. If that connection is lost while the process lives (a server restart),
every lock is counted lost (`generation` moves on) and taken again where still free.

SQLite is one process (bot/cli.py keeps a second one off the same file): the locks are this process's.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from common.settings import to_async_url
from storage.db import Database, one_line
from storage.inbox import NOTIFY_CHANNEL, release_notice

log = logging.getLogger(__name__)

CHATS, ROLES = 0x6E74_0001, 0x6E74_0002  # advisory lock namespaces: one for chats, one for process roles
MIGRATIONS = 1  # the role key (in ROLES) under which migrations run; see storage/migrations/env.py

ChatKey = tuple[str, str]  # (channel, chat id)


class Locks(Protocol):
    generation: int

    async def try_chats(self, keys: Iterable[ChatKey]) -> list[ChatKey]: ...

    async def release_chat(self, key: ChatKey, left_open: bool = False) -> None: ...

    async def hold(self, role: str) -> bool: ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...


class LocalLocks:
    """One process owns everything (SQLite)."""

    generation = 0

    def __init__(self) -> None:
        self._chats: set[ChatKey] = set()

    async def try_chats(self, keys: Iterable[ChatKey]) -> list[ChatKey]:
        taken = [key for key in dict.fromkeys(keys) if key not in self._chats]
        self._chats.update(taken)
        return taken

    async def release_chat(self, key: ChatKey, left_open: bool = False) -> None:
        self._chats.discard(key)

    async def hold(self, role: str) -> bool:
        return True

    async def check(self) -> None:
        pass

    async def close(self) -> None:
        self._chats.clear()


_TRY_CHATS = text(f"SELECT k FROM unnest(CAST(:keys AS text[])) AS k WHERE pg_try_advisory_lock({CHATS}, hashtext(k))")
# Let go, and say so: workers elsewhere that found the chat held wait for this, instead of asking again and again.
_RELEASE_CHAT = text(f"SELECT pg_advisory_unlock({CHATS}, hashtext(:key)), pg_notify({NOTIFY_CHANNEL}, :words)")
_HOLD = text(f"SELECT pg_try_advisory_lock({ROLES}, hashtext(:role))")
_ALIVE = text("SELECT 1")


class AdvisoryLocks:
    """PostgreSQL's session advisory locks on one connection of this process (see the module's note).

    A chat already held by this process must not be asked for again (a session's advisory locks are
    re-entrant, so it would need two releases): callers track what they hold, as bot/intake.py does.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        # Advisory locks are the server's, not the schema's: bots in other schemas of one server (test runs
        # side by side) must not hold each other's chats and roles.
        self.scope = f"{db.schema}/" if db.schema else ""
        self.generation = 0  # moves on when the connection, and so every lock, was lost
        self._connection: AsyncConnection | None = None
        self._roles: set[str] = set()
        self._turn = asyncio.Lock()  # one statement at a time on the connection

    async def try_chats(self, keys: Iterable[ChatKey]) -> list[ChatKey]:
        wanted = {f"{self.scope}{channel}:{chat_id}": (channel, chat_id) for channel, chat_id in keys}
        if not wanted:
            return []
        rows = await self._run(_TRY_CHATS, {"keys": list(wanted)})
        return [wanted[row[0]] for row in rows]

    async def release_chat(self, key: ChatKey, left_open: bool = False) -> None:
        """Let the chat go and tell the other processes (`left_open`: its work may be unfinished)."""
        try:
            await self._run(_RELEASE_CHAT, {"key": f"{self.scope}{key[0]}:{key[1]}",
                                            "words": release_notice(key, left_open)})
        except Exception:  # the connection is gone, and the lock with it
            log.warning("could not release the lock of chat %s:%s; it went with its connection", *key)

    async def hold(self, role: str) -> bool:
        """Take the role if free and keep it for as long as this process's connection lives."""
        if role in self._roles:
            return True
        try:
            if (await self._run(_HOLD, {"role": self.scope + role}))[0][0]:
                self._roles.add(role)
                log.info("this process now holds the %s role", role)
        except Exception as error:
            log.warning("could not ask for the %s role: %s", role, one_line(error))
        return role in self._roles

    async def check(self) -> None:
        """Notice a lost connection (and so lost locks) soon, not at the next lock asked for."""
        if self._connection is not None:
            try:
                await self._run(_ALIVE, {})
            except Exception as error:
                log.warning("the lock connection was lost (%s)", one_line(error))

    async def close(self) -> None:
        async with self._turn:
            if self._connection is not None:
                await self._connection.close()  # releases every lock this process holds
                self._connection = None
            self._roles.clear()

    async def _run(self, statement, params: dict) -> list:
        async with self._turn:
            try:
                if self._connection is None:
                    self._connection = await self.db.engine.connect()
                    await self._connection.execution_options(isolation_level="AUTOCOMMIT")
                return list(await self._connection.execute(statement, params))
            except Exception:
                await self._lost()
                raise

    async def _lost(self) -> None:
        if self._connection is not None:
            try:
                await self._connection.invalidate()
            except Exception:  # already unusable
                pass
            self._connection = None
        if self._roles:
            log.warning("the lock connection was lost: giving up the roles %s", sorted(self._roles))
        self._roles.clear()
        self.generation += 1


class AnotherProcess(Exception):
    """Another process already runs the bot on this SQLite file."""


@contextlib.contextmanager
def sole_process(url: str) -> Iterator[None]:
    """SQLite: one running bot per database file (its locks are in-process); a file lock beside the database,
    released when the process ends, however it ends. PostgreSQL: any number."""
    database = make_url(to_async_url(url))
    if database.get_backend_name() != "sqlite" or database.database in (None, "", ":memory:"):
        yield
        return
    path = Path(database.database).with_name(Path(database.database).name + ".run-lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AnotherProcess(f"another process already runs the bot on {database.database} "
                                 "(SQLite takes one; several processes need PostgreSQL)") from None
        yield


def locks_for(db: Database) -> Locks:
    return LocalLocks() if db.is_sqlite else AdvisoryLocks(db)
