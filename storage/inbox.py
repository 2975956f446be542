"""The inbox: what channels deliver, stored before it is acknowledged (bot/intake.py does the handling).

A row is open (`replied_at IS NULL`) until it is handled and its replies are sent. Handling marks it in
the same transaction as its effects (`mark_handled`, conditional: an update is handled once), with the
replies to send; sending them is marked after (`MARK_REPLIED`). The inbox's own times are the wall
clock's, not the injected one: they pace album gathering and measure backlog, in real seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import GroupStatement, HeldConnections, sqlite_time
from storage.models import InboxUpdate

log = logging.getLogger(__name__)
_inbox = InboxUpdate.__table__
LISTENER_CHECK = 10.0  # seconds between checks that the listening connection is alive
# PostgreSQL: workers in other processes hear of new updates at once, on a channel of their schema (made in SQL
# from the connection's search path): bots of other schemas of one database, such as test runs side by side,
# must not hear each other's rows. The schema's digest, not its name: a channel name takes at most 63 bytes.
NOTIFY_CHANNEL = "'nguoitot_inbox_' || md5(current_schema())"


@dataclass(frozen=True)
class Received:
    """An update as a channel adapter classified it, ready to store."""

    channel: str
    update_key: str
    chat_id: str
    kind: str
    payload: dict[str, Any]
    album: str | None = None


def wall_clock() -> datetime:
    return datetime.now(UTC)


def rows_of(received: Sequence[Received], now: datetime) -> list[dict[str, Any]]:
    return [dict(channel=r.channel, update_key=r.update_key, chat_id=r.chat_id, album=r.album, kind=r.kind,
                 payload=r.payload, received_at=now, replies=[]) for r in received]


@dataclass(frozen=True)
class OpenRow:
    """An open row as its receiver stored it (the same fields a read of open rows gives), so a worker in
    the same process need not read it back."""

    id: int
    channel: str
    chat_id: str
    album: str | None
    kind: str
    payload: dict[str, Any]
    received_at: datetime
    handled_at: datetime | None = None
    replies: tuple = ()


def stored_rows(received: Sequence[Received], returned: Sequence[Row], now: datetime) -> list[OpenRow]:
    """The rows this store added (a redelivery adds none), from what was received and the ids it got."""
    ids = {(row.channel, row.update_key): row.id for row in returned}
    return [OpenRow(ids[r.channel, r.update_key], r.channel, r.chat_id, r.album, r.kind, r.payload, now)
            for r in received if (r.channel, r.update_key) in ids]


NOTICE_LIMIT = 7000  # bytes: PostgreSQL takes notices up to 8000; longer rows, or list of chats, are left out
_ROW_LIMIT = NOTICE_LIMIT // 2  # bytes of one row's words: rows up to this size fill notices of at most NOTICE_LIMIT
# PostgreSQL: a group of updates stored and the other processes told, in one statement alone. The notices go at
# its commit, never before the rows, and none when every update was a redelivery (stored already). They carry
# the rows themselves (a worker elsewhere then need not read them back), as many notices as the rows need, in
# the order of their ids: a running sum of the rows' sizes puts each in a notice; since a row takes at most
# _ROW_LIMIT, a notice is under twice that. If any row is longer (a long text), one notice names the group's
# chats instead ($2, made by `notice`), which a worker elsewhere reads back.
_STORE_TOLD = (
    "WITH stored AS (INSERT INTO inbox (channel, update_key, chat_id, album, kind, payload, received_at, replies) "
    "SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->5, CAST(r->>6 AS timestamptz), CAST('[]' AS json) "
    "FROM json_array_elements(CAST($1 AS json)) AS r ON CONFLICT (channel, update_key) DO NOTHING "
    "RETURNING id, channel, update_key, chat_id, album, kind, payload, received_at), "
    "each AS (SELECT id, channel, update_key, CAST(json_build_array(id, channel, chat_id, album, kind, payload, "
    "received_at) AS text) AS words FROM stored), "
    f"fits AS (SELECT coalesce(max(octet_length(words)), 0) <= {_ROW_LIMIT} AS yes FROM each), "
    "placed AS (SELECT id, words, div(sum(octet_length(words) + 1) OVER (ORDER BY id) - octet_length(words) - 1, "
    f"{_ROW_LIMIT}) AS notice FROM each), "
    "notices AS (SELECT notice, '{\"sender\":' || CAST(to_json(CAST($3 AS text)) AS text) || ',\"rows\":[' "
    "|| string_agg(words, ',' ORDER BY id) || ']}' AS words FROM placed GROUP BY notice), "
    f"told AS (SELECT pg_notify({NOTIFY_CHANNEL}, ordered.words) FROM (SELECT notice, words FROM notices, fits "
    f"WHERE fits.yes ORDER BY notice) AS ordered "
    f"UNION ALL SELECT pg_notify({NOTIFY_CHANNEL}, $2) FROM fits WHERE NOT fits.yes) "
    "SELECT id, channel, update_key, (SELECT count(*) FROM told) AS notices FROM each")


# SQLite: a group of updates in one statement too, run by sqlite3 itself (Database.driver).
_STORE_SQLITE = (
    "INSERT INTO inbox (channel, update_key, chat_id, album, kind, payload, received_at, replies) "
    "SELECT r.value->>0, r.value->>1, r.value->>2, r.value->>3, r.value->>4, r.value->5, r.value->>6, '[]' "
    "FROM json_each(?1) AS r WHERE true ORDER BY r.key ON CONFLICT (channel, update_key) DO NOTHING "
    "RETURNING id, channel, update_key")


def _group_document(rows: list[dict[str, Any]], time_text: Callable[[datetime], str]) -> str:
    document = [[r["channel"], r["update_key"], r["chat_id"], r["album"], r["kind"], r["payload"],
                 time_text(r["received_at"])] for r in rows]
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _store_told_params(rows: list[dict[str, Any]]) -> tuple[str, str, str]:
    chats = notice([(r["channel"], r["chat_id"]) for r in rows])
    return _group_document(rows, datetime.isoformat), chats, process_name()


# What the intake writes through its group commit, by database; a redelivered update is stored once.
STORE = {"sqlite": GroupStatement(_STORE_SQLITE, lambda rows: (_group_document(rows, sqlite_time),)),
         "postgresql": GroupStatement(_STORE_TOLD, _store_told_params)}


def process_name() -> str:
    """Who sent a notice: a process does not need to hear its own (its worker was told directly)."""
    return f"{os.getpid()}@{socket.gethostname()}"


def notice(chats: Sequence[tuple[str, str]]) -> str:
    """NOTIFY's words: who stored, and for which chats, so that a worker elsewhere looks at just those
    (without them, it looks for every chat with open work)."""
    payload = json.dumps({"sender": process_name(), "chats": list(dict.fromkeys(chats))}, separators=(",", ":"))
    if len(payload.encode()) > NOTICE_LIMIT:
        payload = json.dumps({"sender": process_name()}, separators=(",", ":"))
    return payload


def release_notice(chat: tuple[str, str], left_open: bool) -> str:
    """NOTIFY's words when a process lets a chat go, so that others waiting for it need not keep asking.
    `left_open`: it stopped with the chat's work perhaps unfinished (then another takes the chat at once)."""
    return json.dumps({"sender": process_name(), "released": list(chat), "open": left_open}, separators=(",", ":"))


def beginning_of_notices(sender: str) -> str:
    """How every notice of `sender` begins, made in SQL or by json.dumps alike: a process drops its own unread
    (its worker was told directly, and reading a notice's rows costs)."""
    return '{"sender":' + json.dumps(sender)


@dataclass(frozen=True)
class Notice:
    sender: str
    chats: list[tuple[str, str]] | None  # None: the notice does not say which (then look at every chat)
    rows: list[OpenRow]  # the rows stored, when they fitted in the notice
    released: tuple[tuple[str, str], bool] | None = None  # a chat let go, and whether work was left open


def read_notice(payload: str) -> Notice:
    try:
        parsed = json.loads(payload)
        sender = str(parsed.get("sender", ""))
        if "released" in parsed:
            channel, chat = parsed["released"]
            return Notice(sender, [], [], ((str(channel), str(chat)), bool(parsed.get("open"))))
        if "rows" in parsed:
            rows = [OpenRow(int(i), str(channel), str(chat), album, str(kind), body, datetime.fromisoformat(at))
                    for i, channel, chat, album, kind, body, at in parsed["rows"]]
            return Notice(sender, list(dict.fromkeys((r.channel, r.chat_id) for r in rows)), rows)
        chats = parsed.get("chats")
        return Notice(sender, None if chats is None else [(str(c), str(i)) for c, i in chats], [])
    except (ValueError, TypeError, AttributeError):
        return Notice(payload, None, [])  # a bare sender (an older process): which chats is not said


_OPEN_COLUMNS = (_inbox.c.id, _inbox.c.channel, _inbox.c.chat_id, _inbox.c.album, _inbox.c.kind, _inbox.c.payload,
                 _inbox.c.received_at, _inbox.c.handled_at, _inbox.c.replies)
_OPEN_OF_CHAT = (select(*_OPEN_COLUMNS)
                 .where(_inbox.c.channel == bindparam("channel"), _inbox.c.chat_id == bindparam("chat_id"),
                        _inbox.c.replied_at.is_(None))
                 .order_by(_inbox.c.id).limit(bindparam("limit")))
_ALBUM = (select(*_OPEN_COLUMNS)
          .where(_inbox.c.channel == bindparam("channel"), _inbox.c.chat_id == bindparam("chat_id"),
                 _inbox.c.replied_at.is_(None), _inbox.c.handled_at.is_(None), _inbox.c.album == bindparam("album"))
          .order_by(_inbox.c.id))
_MARK_HANDLED = (update(_inbox)
                 .where(_inbox.c.id.in_(bindparam("ids", expanding=True)), _inbox.c.handled_at.is_(None))
                 .values(handled_at=bindparam("now", type_=_inbox.c.handled_at.type),
                         replied_at=bindparam("replied", type_=_inbox.c.replied_at.type),
                         replies=bindparam("replies", type_=_inbox.c.replies.type)))
# Replies marked sent, through a group commit, by database: a group's marks in one statement (Database.driver).
MARK_REPLIED = {
    "sqlite": GroupStatement(
        "UPDATE inbox SET replied_at = m.value->>1 FROM json_each(?1) AS m WHERE inbox.id = m.value->>0",
        lambda marks: (json.dumps([[m["row_id"], sqlite_time(m["now"])] for m in marks]),)),
    "postgresql": GroupStatement(
        "UPDATE inbox SET replied_at = CAST(m->>1 AS timestamptz) "
        "FROM json_array_elements(CAST($1 AS json)) AS m WHERE inbox.id = CAST(m->>0 AS bigint)",
        lambda marks: (json.dumps([[m["row_id"], m["now"].isoformat()] for m in marks]),)),
}


async def open_updates(session: AsyncSession | AsyncConnection, channel: str, chat_id: str,
                       limit: int = 20) -> list[Row]:
    """A chat's open rows, oldest first: handled ones whose replies are still to send, then new ones."""
    return list(await session.execute(_OPEN_OF_CHAT, {"channel": channel, "chat_id": chat_id, "limit": limit}))


# PostgreSQL: the same read on the driver (Database.driver), which a worker makes each time another process may
# have stored rows for a chat it serves (JSON comes decoded: SQLAlchemy's connections have asyncpg's codec set).
_OPEN_OF_CHAT_HELD = ("SELECT id, channel, chat_id, album, kind, payload, received_at, handled_at, replies FROM inbox "
                      "WHERE channel = $1 AND chat_id = $2 AND replied_at IS NULL ORDER BY id LIMIT $3")


async def open_updates_held(driver: HeldConnections, channel: str, chat_id: str, limit: int = 20) -> list[OpenRow]:
    """open_updates, on PostgreSQL's driver: about a fifth of the bot's CPU of a read through SQLAlchemy."""
    return [OpenRow(r.id, r.channel, r.chat_id, r.album, r.kind, r.payload, r.received_at, r.handled_at,
                    tuple(r.replies))
            for r in await driver.fetch(_OPEN_OF_CHAT_HELD, channel, chat_id, limit)]


async def album_parts(session: AsyncSession | AsyncConnection, channel: str, chat_id: str, album: str) -> list[Row]:
    """The received, not yet handled photos of one album, in the order they came."""
    return list(await session.execute(_ALBUM, {"channel": channel, "chat_id": chat_id, "album": album}))


async def mark_handled(session: AsyncSession, ids: Sequence[int], replies: list[dict[str, Any]],
                       now: datetime) -> bool:
    """In the unit of work that handled them: False if another worker was first (then roll back).
    The replies are kept on the first row (an album's other photos have none to send)."""
    first, rest = ids[0], list(ids[1:])
    marked = (await session.execute(_MARK_HANDLED, {"ids": [first], "now": now, "replies": replies,
                                                    "replied": None if replies else now})).rowcount
    if rest:
        marked += (await session.execute(_MARK_HANDLED, {"ids": rest, "now": now, "replies": [],
                                                         "replied": now})).rowcount
    return marked == len(ids)


async def store_replies(session: AsyncSession, row_id: int, replies: list[dict[str, Any]]) -> None:
    """The replies of a handled update, as finished after its unit of work (a chart drawn)."""
    await session.execute(update(_inbox).where(_inbox.c.id == row_id, _inbox.c.replied_at.is_(None))
                          .values(replies=replies))


async def chats_with_open_work(session: AsyncSession | AsyncConnection,
                               limit: int = 200) -> list[tuple[tuple[str, str], datetime]]:
    """Chats that have an update to handle or replies to send, the longest waiting first, with when their
    oldest open row was received."""
    statement = (select(_inbox.c.channel, _inbox.c.chat_id, func.min(_inbox.c.received_at).label("oldest"))
                 .where(_inbox.c.replied_at.is_(None))
                 .group_by(_inbox.c.channel, _inbox.c.chat_id).order_by(func.min(_inbox.c.id)).limit(limit))
    return [((row.channel, row.chat_id), _aware(row.oldest)) for row in await session.execute(statement)]


async def received_since(session: AsyncSession, after_id: int | None,
                         ) -> tuple[int | None, list[tuple[str, str]]]:
    """The (channel, chat) of the updates received after row `after_id` (None: only where the inbox ends
    now), and the new end. A range of the primary key: cheap however long the history."""
    if after_id is None:
        return (await session.execute(select(func.max(_inbox.c.id)))).scalar() or 0, []
    rows = list(await session.execute(select(_inbox.c.id, _inbox.c.channel, _inbox.c.chat_id)
                                      .where(_inbox.c.id > after_id).order_by(_inbox.c.id).limit(10_000)))
    return (rows[-1].id if rows else after_id), [(row.channel, row.chat_id) for row in rows]


@dataclass(frozen=True)
class Backlog:
    open: int  # updates not yet handled, or whose replies are not yet sent
    oldest_open: datetime | None  # when the longest waiting of them came
    last_received: datetime | None

    def oldest_age(self, now: datetime) -> float:
        return (now - self.oldest_open).total_seconds() if self.oldest_open else 0.0


async def backlog(session: AsyncSession) -> Backlog:
    open_rows = (await session.execute(select(func.count(), func.min(_inbox.c.received_at))
                                       .where(_inbox.c.replied_at.is_(None)))).one()
    last = (await session.execute(select(_inbox.c.received_at).order_by(_inbox.c.id.desc()).limit(1))).scalar()
    return Backlog(open_rows[0], _aware(open_rows[1]), _aware(last))


PRUNE_BATCH = 1000


async def prune(session: AsyncSession, before: datetime, batch: int = PRUNE_BATCH) -> int:
    """Forget done updates (and their personal data) received before `before`, a batch at a time."""
    ids = (select(_inbox.c.id).where(_inbox.c.received_at < before, _inbox.c.replied_at.is_not(None))
           .order_by(_inbox.c.id).limit(batch))
    result = await session.execute(delete(_inbox).where(_inbox.c.id.in_(ids.scalar_subquery())))
    return result.rowcount


async def notify_channel(driver: Any) -> str:
    """The name of the channel notices go on, on an asyncpg connection of the bot's."""
    return await driver.fetchval(f"SELECT {NOTIFY_CHANNEL}")


class Listener:
    """PostgreSQL: hears the notices receivers send when they store (`NOTIFY`) on a connection of its own, so
    a worker in another process takes new work at once instead of at its next sweep."""

    def __init__(self, db: Any, on_notice: Callable[[], None]) -> None:
        self.db = db
        self.on_notice = on_notice
        self.pending = False  # another process stored something, for chats it did not say, since the last look
        self.chats: dict[tuple[str, str], None] = {}  # chats another process stored for since the last look
        self.rows: list[OpenRow] = []  # the rows themselves, when the notice carried them
        self.released: dict[tuple[str, str], bool] = {}  # chats other processes let go, and whether left open
        self._me = process_name()
        self._mine = beginning_of_notices(self._me)
        self._task = asyncio.create_task(self._listen(), name="inbox listener")

    def take_chats(self) -> list[tuple[str, str]]:
        chats, self.chats = list(self.chats), {}
        return chats

    def take_rows(self) -> list[OpenRow]:
        rows, self.rows = self.rows, []
        return rows

    def take_released(self) -> dict[tuple[str, str], bool]:
        released, self.released = self.released, {}
        return released

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def _notice(self, _connection: Any = None, _pid: Any = None, _channel: Any = None, payload: str = "") -> None:
        if payload.startswith(self._mine):
            return
        told = read_notice(payload)
        if told.sender == self._me:
            return
        if told.released is not None:
            chat, left_open = told.released
            self.released[chat] = self.released.get(chat, False) or left_open
        elif told.rows:
            self.rows.extend(told.rows)
        elif told.chats is None:
            self.pending = True
        else:
            self.chats.update(dict.fromkeys(told.chats))
        self.on_notice()

    async def _listen(self) -> None:
        backoff = 1.0
        while True:
            try:
                async with self.db.engine.connect() as connection:
                    driver = (await connection.get_raw_connection()).driver_connection
                    await driver.add_listener(await notify_channel(driver), self._notice)
                    try:
                        backoff = 1.0
                        while not driver.is_closed():
                            await asyncio.sleep(LISTENER_CHECK)
                            await connection.exec_driver_sql("SELECT 1")  # notices a dead connection
                            await connection.commit()
                    finally:
                        await connection.invalidate()  # never back to the pool with a listener on it
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.info("inbox listener: %s; again in %.0f s", (str(error).splitlines() or ["?"])[0], backoff)
            self._notice()  # something may have come while not listening
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)


def retention_cutoff(days: float) -> datetime:
    return wall_clock() - timedelta(days=days)


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates bypass the column type on SQLite: the text comes back naive (it is UTC)."""
    if value is None or isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)
