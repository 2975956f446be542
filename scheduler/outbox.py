"""The outbox: every message the bot sends on its own initiative goes through this table.

- `enqueue` inserts messages under a unique key: planning the same reminder twice (a restart, a second
  process) leaves one row.
- `OutboxSender` claims due rows with a lease (PostgreSQL: FOR UPDATE SKIP LOCKED, so several senders
  share the work), sends them within an overall and a per-chat rate, and records each outcome as soon as
  it is known: outcomes that finish together share one transaction (`_Outcomes`, a group commit).
  429 pauses all sending for `retry_after`; 5xx and timeouts retry with backoff (0.25, 0.5, 1… s), and a
  retry keeps its place in the queue (it goes before messages that were due after it); 403 marks the
  person unreachable and tells their secretary once. A row whose lease ran out (its sender crashed)
  is claimed again. The only duplicate left is a message the channel accepted in the instant before the
  crash, before its row was marked sent: at most the messages in flight then (OUTBOX_IN_FLIGHT; with 1,
  every message is marked before the next one leaves, so a crash resends nothing that was delivered).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Update, bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from common.clock import Clock
from common.delivery import Delivery, Rejected, RetryLater, TransientFailure, Unreachable
from common.events import Reply, remembered_menu, reply_from_json, reply_to_json
from common.messages import t
from storage import inbox, repo
from storage.db import Database, GroupCommit, is_unavailable, one_line
from storage.models import Account, Membership, Outbox, OutboxStatus, Person
from storage.sql import among, written_in

log = logging.getLogger(__name__)
FIRST_BACKOFF = 0.25  # seconds before the first retry of a failed message; doubled after each failure
MAX_BACKOFF = 300.0  # seconds between tries of one message, at most
GIVE_UP_AFTER = timedelta(days=1)
ANALYZE_AFTER = 1000  # rows enqueued at once after which PostgreSQL's statistics of the table are renewed,
STALE_SHARE = 0.1  # if they are this share of the rows it knew of, or more (autovacuum's own threshold)
STOP_WAIT = 10.0  # seconds a stopping sender waits for the messages it has in flight
REPLY_WATCH_EVERY = 1.0  # seconds between looks at how many live replies share the channel's rate
REPLIES_PER_UPDATE = 1.5  # most updates get one reply, some two or three
KEYS_AT_ONCE = 10_000  # keys looked up in one statement
FEW = 10  # messages enqueued without looking up their keys first
EXPIRED_EVERY = timedelta(seconds=10)  # between looks for claimed rows whose lease ran out (a lease: minutes)


@dataclass(frozen=True)
class Message:
    key: str  # what makes it unique: planning it again is a no-op
    person_id: int
    channel: str
    chat_id: str
    kind: str
    reply: Reply
    due_at: datetime
    stale_at: datetime | None = None  # not worth sending after this (its deadline passed)
    extra: dict[str, Any] | None = None  # kept beside the reply, for its kind's refresher (OutboxSender)


async def enqueue(session: AsyncSession, messages: Iterable[Message], now: datetime) -> int:
    """Insert the messages whose key is new; returns how many were new.

    Keys already queued are filtered out first (the planner proposes the same reminders every minute),
    and the rest go in as one batch; a key inserted meanwhile by another process is skipped by the
    unique constraint. A few messages (a notice to a nominator or to secretaries) go straight to the
    insert, whose unique constraint skips a known key: the look-up would be a round trip more.
    """
    messages = list(messages)
    if not messages:
        return 0
    known = await _queued_keys(session, messages) if len(messages) > FEW else set()
    rows = [dict(key=m.key, person_id=m.person_id, channel=m.channel, chat_id=m.chat_id, kind=m.kind,
                 payload={**reply_to_json(m.reply), **(m.extra or {})}, status=OutboxStatus.PENDING, due_at=m.due_at, stale_at=m.stale_at,
                 attempts=0, last_error="", created_at=now) for m in messages if m.key not in known]
    if not rows:
        return 0
    dialect = session.bind.dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_outbox)  # Core: no ORM bookkeeping
    statement = insert.on_conflict_do_nothing(index_elements=["key"]).returning(_outbox.c.id)
    added = len((await session.execute(statement, rows)).all())
    if dialect == "postgresql":
        await refresh_statistics(session, added)
    return added


async def refresh_statistics(session: AsyncSession, added: int) -> bool:
    """PostgreSQL, after a big batch that changed the table's size much: fresh statistics at once, not at
    autovacuum's next round. With a young table's old ones (a few rows), the next minute's look-up of known keys
    scanned the whole table per key (5 s for 10,000). Where the batch is a small share of the table (a national
    morning's 60,000 rows to 1.3 million) they still hold, and ANALYZE would cost a second of the server's time
    in the middle of the morning's burst. Returns whether it ran."""
    if added < ANALYZE_AFTER:
        return False
    known = await session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:table)"),
                                 {"table": _outbox.name})
    if known is not None and added < STALE_SHARE * known:
        return False
    await session.execute(text(f"ANALYZE {_outbox.name}"))
    return True


_COLUMNS = ("key", "person_id", "channel", "chat_id", "kind", "payload", "status", "due_at", "stale_at", "attempts",
            "last_error", "created_at")


async def _queued_keys(session: AsyncSession, messages: list[Message]) -> set[str]:
    """The messages' keys already in the outbox (the planner proposes the same reminders every minute). The keys
    go as one bound value per 10,000 (storage.sql.among): rendering a 1,000-key IN list cost more than the
    look-up itself."""
    known: set[str] = set()
    for start in range(0, len(messages), KEYS_AT_ONCE):
        chunk = [m.key for m in messages[start:start + KEYS_AT_ONCE]]
        known.update((await session.execute(select(Outbox.key).where(among(session, Outbox.key, chunk)))).scalars())
    return known


NewRow = tuple[Any, ...]  # an outbox row as `insert_rows` takes it: see `new_rows`


async def new_rows(session: AsyncSession, messages: Iterable[Message], now: datetime) -> list[NewRow]:
    """The rows of the messages whose key is not queued yet, made ready by whoever plans them (the planner's
    worker process), so that writing them costs the writer little more than the database's own work:
    - PostgreSQL: key, person, channel, chat, kind, payload (a dict), due, stale and created (ISO text), for one
      JSON document per insert (`insert_rows`);
    - SQLite: every column of `_COLUMNS` as stored (JSON text, UTC text), for the driver (the bot's process
      writes them)."""
    messages = list(messages)
    known = await _queued_keys(session, messages)
    as_sent, make = _postgresql_row(now) if session.bind.dialect.name == "postgresql" else _sqlite_row(session, now)
    payloads: dict[int, Any] = {}  # by reply (the list holds them): the planner gives one reply to all who share it
    rows = []
    for m in messages:
        if m.key in known:
            continue
        known.add(m.key)
        if m.extra:
            payload = as_sent({**reply_to_json(m.reply), **m.extra})
        elif (payload := payloads.get(id(m.reply))) is None:
            payload = payloads[id(m.reply)] = as_sent(reply_to_json(m.reply))
        rows.append(make(m, payload))
    return rows


_RowMaker = tuple[Callable[[dict[str, Any]], Any], Callable[[Message, Any], NewRow]]  # the payload as sent, the row


def _postgresql_row(now: datetime) -> _RowMaker:
    moment = _remembering(lambda value: value and value.isoformat())
    created = now.isoformat()

    def make(m: Message, payload: dict[str, Any]) -> NewRow:
        return m.key, m.person_id, m.channel, m.chat_id, m.kind, payload, moment(m.due_at), moment(m.stale_at), created

    return (lambda payload: payload), make  # the payload goes inside the rows' one JSON document


def _sqlite_row(session: AsyncSession, now: datetime) -> _RowMaker:
    dialect = session.bind.dialect
    stored = {name: _outbox.c[name].type.bind_processor(dialect) or (lambda value: value)
              for name in ("payload", "due_at", "stale_at", "created_at")}
    due, stale = _remembering(stored["due_at"]), _remembering(stored["stale_at"])
    created = stored["created_at"](now)

    def make(m: Message, payload_text: str) -> NewRow:
        return (m.key, m.person_id, m.channel, m.chat_id, m.kind, payload_text, OutboxStatus.PENDING.value,
                due(m.due_at), stale(m.stale_at), 0, "", created)

    return stored["payload"], make


def _remembering(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A value's conversion, made once per value (thousands of rows share a few moments)."""
    done: dict[Any, Any] = {}

    def converted(value: Any) -> Any:
        if value not in done:
            done[value] = convert(value)
        return done[value]

    return converted


_INSERT_ROWS_SQLITE = (f"INSERT INTO outbox ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)}) "
                       "ON CONFLICT (key) DO NOTHING")
# PostgreSQL: the rows as one JSON document, taken apart by the server. Made with the C encoder in one call, it
# costs the planner a tenth of encoding a dozen arrays (or a statement per row, as an executemany does).
_INSERT_JSON = text(
    f"INSERT INTO outbox ({', '.join(_COLUMNS)}) SELECT r->>0, CAST(r->>1 AS integer), r->>2, r->>3, r->>4, "
    "CAST(r->5 AS json), 'pending', CAST(r->>6 AS timestamptz), CAST(r->>7 AS timestamptz), 0, '', "
    "CAST(r->>8 AS timestamptz) FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS r ON CONFLICT (key) DO NOTHING")


async def insert_rows(session: AsyncSession, rows: list[NewRow]) -> int:
    """Insert rows made by `new_rows`; a key inserted meanwhile by another process is skipped. Returns how many
    were new."""
    if not rows:
        return 0
    if session.bind.dialect.name == "postgresql":
        document = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        result = await session.execute(_INSERT_JSON, {"rows": document})
    else:  # the values are as stored already: straight to the driver (SQLAlchemy's per-row work halved the rate)
        connection = await session.connection()
        result = await connection.exec_driver_sql(_INSERT_ROWS_SQLITE, rows)
    return result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(rows)


async def backlog(session: AsyncSession, now: datetime) -> int:
    """Messages due and not yet sent (pending, or on their way)."""
    statement = select(func.count()).select_from(_outbox).where(
        _outbox.c.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]), _outbox.c.due_at <= now)
    return (await session.execute(statement)).scalar_one()


DONE = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.UNREACHABLE, OutboxStatus.STALE)
PRUNE_BATCH = 1000
# SQLite: each batch holds the process's one database lock, which every message waits on; deleting 1,000 rows
# of a million-row outbox (five indexes) took 0.5-1 s there, 100 rows a tenth of that.
PRUNE_BATCH_SQLITE = 100


async def prune(session: AsyncSession, before: datetime, batch: int = PRUNE_BATCH) -> int:
    """Forget a batch of finished rows (sent, given up, unreachable, stale) due before `before`; a row still to
    send (pending, or leased by a sender) is never touched. Returns how many went."""
    ids = (select(_outbox.c.id).where(_outbox.c.status.in_(DONE), _outbox.c.due_at < before)
           .limit(batch).scalar_subquery())  # ix_outbox_due (status, due_at): the old rows of each status
    return (await session.execute(delete(_outbox).where(_outbox.c.id.in_(ids)))).rowcount


class RateLimiter:
    """At most `rate` starts per second overall (evenly spaced) and `per_chat` per chat; `pause` holds all.

    A sender woken late (a busy event loop, a claim) may make up to CATCH_UP seconds of its lateness by
    starting early; more is lost, so starts never bunch: within any second, at most
    rate × (1 + CATCH_UP) start, under a channel's limit when `rate` keeps a few percent of margin.
    A message waiting for its chat's turn does not hold up the other chats (while the sender has
    in-flight places left: each waiting message holds one).
    """

    CATCH_UP = 0.01

    def __init__(self, rate: float, per_chat: float, timer: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.interval = 1.0 / rate
        self.chat_interval = 1.0 / per_chat
        self.timer = timer
        self._next = 0.0
        self._chat_next: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self._next = max(self._next, self.timer() + seconds)

    def leave_room(self, others_per_second: float) -> None:
        """Others send on the same budget (live replies, bot/intake.py): keep to what they leave, and
        never below a tenth of the rate, so reminders still move."""
        self.interval = 1.0 / max(self.rate * 0.1, self.rate - others_per_second)

    def chat_used(self, chat_id: str) -> None:
        """A reply just went to this chat: its next message from here waits its turn after it."""
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), self.timer() + self.chat_interval)

    def give_back(self, chat_id: str, started: float) -> None:
        """A start the channel refused to take (a 5xx) returns its place in the overall rate and in its
        chat's, unless that chat has had another start since."""
        self._next = max(self.timer() - self.CATCH_UP, self._next - self.interval)
        if self._chat_next.get(chat_id) == started + self.chat_interval:
            self._chat_next[chat_id] = started

    async def acquire(self, chat_id: str) -> float:
        """Wait for this chat's turn, then for the overall one; returns the moment of the start."""
        while True:
            chat_wait = self._chat_next.get(chat_id, 0.0) - self.timer()
            if chat_wait > 0:
                await asyncio.sleep(chat_wait)
                continue
            async with self._lock:  # one start at a time, so the spacing holds across tasks
                now = await self._overall_turn()
                if self._chat_next.get(chat_id, 0.0) <= now:  # else another message to this chat went first
                    self._next = max(self._next, now - self.CATCH_UP) + self.interval
                    self._chat_next[chat_id] = now + self.chat_interval
                    if len(self._chat_next) > 10_000:
                        self._chat_next = {c: at for c, at in self._chat_next.items() if at > now}
                    return now

    async def _overall_turn(self) -> float:
        while True:  # `pause` may move the turn while we sleep
            now = self.timer()
            if self._next <= now:
                return now
            await asyncio.sleep(self._next - now)


# A message of some kinds is written again just before it goes, from what is true then (None: not worth
# sending any more): a digest of new cases leaves out those already decided.
Refresh = Callable[[AsyncSession, dict[str, Any]], Awaitable[Reply | None]]


class OutboxSender:
    def __init__(self, db: Database, clock: Clock, deliveries: Mapping[str, Delivery], *, rate: float = 30.0,
                 per_chat: float = 1.0, lease: timedelta = timedelta(minutes=5), max_attempts: int = 400,
                 in_flight: int = 64, batch: int = 50, refreshers: Mapping[str, Refresh] | None = None,
                 channel_rates: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.deliveries = deliveries
        self.refreshers = refreshers or {}
        # Each channel has its own limits (overall, per chat): `rate` and `per_chat` for those not named.
        self.limiters = {channel: RateLimiter(overall, chat) for channel, (overall, chat) in (channel_rates or {}).items()}
        self._default_rates = (rate, per_chat)
        self.lease = lease
        self.max_attempts = max_attempts
        self.slots = asyncio.Semaphore(in_flight)
        self.batch = batch
        self.outcomes = GroupCommit(db)
        self.wake = asyncio.Event()
        self._in_flight: set[asyncio.Task] = set()
        self._waiting: set[asyncio.Task] = set()  # in flight, but not yet started: waiting for their turn
        self._upcoming: asyncio.Task[list[Row]] | None = None
        self._look_for_expired = datetime.min.replace(tzinfo=UTC)  # rows whose lease ran out: at the first claim

    async def run_once(self) -> int:
        """Start sending what is due now; returns how many rows were claimed.

        It does not wait for them to be sent. After a full batch the next one is claimed at once, in
        the background, while this one is paced out (claimed rows are leased: nobody takes them twice;
        rows claimed by a sender that stops come back when their lease runs out).
        """
        upcoming, self._upcoming = self._upcoming, None
        rows = await upcoming if upcoming is not None else await self._claim()
        if len(rows) == self.batch:
            self._upcoming = asyncio.create_task(self._claim())
        for row in rows:
            await self.slots.acquire()
            task = asyncio.create_task(self._send(row))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(rows)

    async def run_until_idle(self) -> int:
        total = 0
        while True:
            handled = await self.run_once()
            total += handled
            if not handled:
                if not self._in_flight:
                    return total
                await asyncio.gather(*self._in_flight)  # their outcomes may make retries due

    async def run_forever(self, idle_wait: float = 1.0) -> None:
        """Keep sending; a failing database (a restart, a lost connection) only pauses it."""
        watch = asyncio.create_task(self._leave_room_for_replies(), name="outbox: replies first")
        try:
            await self._run_forever(idle_wait)
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            if self._upcoming is not None:  # rows it claimed come back when their lease runs out
                self._upcoming.cancel()
                await asyncio.gather(self._upcoming, return_exceptions=True)
                self._upcoming = None
            for task in list(self._waiting):  # not sent yet: their rows come back when their lease runs out
                task.cancel()
            if self._in_flight:  # let what is on its way finish and be marked: no resend after a stop
                await asyncio.wait(self._in_flight, timeout=STOP_WAIT)

    async def _leave_room_for_replies(self) -> None:
        """Live replies go first. Whichever process sends them, each answers an update in the inbox: the
        updates received since the last look say how much of the channel's rate replies are taking, and
        which chats just had one. (One sender runs at a time, scheduler/service.py; replies are not slowed.)"""
        mark, looked = None, time.monotonic()
        while True:
            await asyncio.sleep(REPLY_WATCH_EVERY)
            try:
                async with self.db.session() as session:
                    mark, chats = await inbox.received_since(session, mark)
            except Exception as error:
                log.info("outbox: could not look at live replies (%s)", error)
                continue
            now = time.monotonic()
            per_channel = Counter(channel for channel, _ in chats)
            for channel, limiter in list(self.limiters.items()):
                limiter.leave_room(per_channel[channel] * REPLIES_PER_UPDATE / max(now - looked, 0.1))
            looked = now
            for channel, chat_id in chats:
                self.limiter(channel).chat_used(chat_id)

    async def _run_forever(self, idle_wait: float) -> None:
        pause = idle_wait
        while True:
            try:
                handled = await self.run_once()
                pause = idle_wait
            except Exception as error:
                if is_unavailable(error):
                    log.warning("outbox: database unavailable (%s); sending paused for %.0f s", one_line(error), pause)
                else:
                    log.exception("outbox: sending paused for %.0f s", pause)
                handled = 0
                pause = min(pause * 2, 60.0)
            if not handled:
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), pause)
                except TimeoutError:
                    pass

    async def _claim(self) -> list[Row]:
        """Rows whose sender died (their lease ran out) first, then the due ones, oldest first. Leases last minutes:
        ran-out ones are looked for every EXPIRED_EVERY seconds, not at each claim (a statement more, in vain)."""
        now = self.clock.now()
        params = {"now": now, "lease_until": now + self.lease, "batch": self.batch}
        expired, due = _CLAIM_SKIP_LOCKED if not self.db.is_sqlite else _CLAIM
        rows: list[Row] = []
        if now >= self._look_for_expired:
            rows = await self._leased(expired, params)
            if len(rows) < self.batch:  # all taken: the next look can wait (a full batch: more may be left)
                self._look_for_expired = now + EXPIRED_EVERY
        if len(rows) < self.batch:
            params["batch"] = self.batch - len(rows)
            rows += await self._leased(due, params)
        return sorted(rows, key=lambda r: (r.due_at, r.id))

    async def _leased(self, claim: Update, params: dict[str, Any]) -> list[Row]:
        """One claim statement; on PostgreSQL alone, without BEGIN and COMMIT (it is atomic by itself)."""
        if self.db.is_sqlite:
            async with self.db.session() as session:
                return list(await session.execute(claim, params))
        async with self.db.alone(generic_plans=True) as connection:  # its index whatever the values
            return list(await connection.execute(claim, params))

    async def _send(self, row: Row) -> None:
        try:
            await self._attempt(row)
        except Exception:  # a bug or the database: the row stays claimed and its lease brings it back
            log.exception("outbox %s: unexpected error", row.key)
        finally:
            self.slots.release()

    async def _attempt(self, row: Row) -> None:
        if self._stale(row):
            await self._finish(row, OutboxStatus.STALE)
            return
        delivery = self.deliveries.get(row.channel)
        if delivery is None:
            await self._finish(row, OutboxStatus.FAILED, error=f"no delivery for channel {row.channel}")
            return
        started = await self._turn(row)
        reply = await self._as_it_now_is(row)
        if reply is None or self._stale(row):  # it went stale while waiting for its turn (a 429 pause)
            self.limiter(row.channel).give_back(row.chat_id, started)
            await self._finish(row, OutboxStatus.STALE)
            return
        if reply.choices:  # the chat's last menu from now: a typed "1" answers it (bot/menus.py), however soon
            await self.outcomes.write(repo.SET_MENU_OF_CHAT, {
                "whose": row.person_id, "on_channel": row.channel, "in_chat": row.chat_id,
                "shown": remembered_menu(reply.choices, self.clock.now())})
        try:
            await delivery.deliver(row.chat_id, reply, once=f"outbox:{row.id}")
        except RetryLater as slow_down:
            self.limiter(row.channel).pause(slow_down.seconds)
            await self._finish(row, OutboxStatus.PENDING, error=str(slow_down), retry_in=slow_down.seconds,
                               count_attempt=False)
        except Unreachable as blocked:
            await self._finish(row, OutboxStatus.UNREACHABLE, error=str(blocked))
            await self._mark_unreachable(row)
        except Rejected as refused:
            await self._finish(row, OutboxStatus.FAILED, error=str(refused))
        except TransientFailure as failure:
            if failure.undelivered:  # the channel did not take it (a 5xx); a timeout may have delivered
                self.limiter(row.channel).give_back(row.chat_id, started)
            if self._given_up(row):
                await self._finish(row, OutboxStatus.FAILED, error=str(failure))
            else:
                await self._finish(row, OutboxStatus.PENDING, error=str(failure),
                                   retry_in=min(MAX_BACKOFF, FIRST_BACKOFF * 2.0 ** (row.attempts - 1)))
        else:
            await self._finish(row, OutboxStatus.SENT)

    async def _as_it_now_is(self, row: Row) -> Reply | None:
        refresh = self.refreshers.get(row.kind)
        if refresh is None:
            return reply_from_json(row.payload)
        async with self.db.session() as session:
            return await refresh(session, dict(row.payload))

    def limiter(self, channel: str) -> RateLimiter:
        if channel not in self.limiters:
            self.limiters[channel] = RateLimiter(*self._default_rates)
        return self.limiters[channel]

    def _stale(self, row: Row) -> bool:
        return row.stale_at is not None and self.clock.now() > row.stale_at

    async def _turn(self, row: Row) -> float:
        task = asyncio.current_task()
        self._waiting.add(task)
        try:
            return await self.limiter(row.channel).acquire(row.chat_id)
        finally:
            self._waiting.discard(task)

    def _given_up(self, row: Row) -> bool:
        """An outage of hours is survived: retries go on for a day, or until the message is stale."""
        return self.clock.now() - row.created_at > GIVE_UP_AFTER or row.attempts >= self.max_attempts

    async def _finish(self, row: Row, status: OutboxStatus, *, error: str = "", retry_in: float = 0.0,
                      count_attempt: bool = True) -> None:
        now = self.clock.now()
        params: dict[str, Any] = {"row_id": row.id, "error": error[:500]}
        if status == OutboxStatus.SENT:
            statement, params["now"] = _MARK_SENT, now
        elif status == OutboxStatus.PENDING:
            statement = _RESCHEDULE
            params.update(retry=now + timedelta(seconds=retry_in),
                          attempts=row.attempts if count_attempt else row.attempts - 1)
        else:
            statement, params["new_status"] = _MARK_DONE, status
        await self.outcomes.write(statement, params)
        if status == OutboxStatus.PENDING:
            self.wake.set()

    async def _mark_unreachable(self, row: Row) -> None:
        """Note that the person blocked the bot and tell their commune's secretaries, once per episode."""
        now = self.clock.now()
        async with self.db.session() as session:
            account = (await session.exec(select(Account).where(Account.person_id == row.person_id,
                                                                Account.channel == row.channel))).scalars().first()
            if account is None or account.unreachable_at is not None:
                return
            account.unreachable_at = now
            await repo.touch_conversation(session, row.person_id)  # their next message resets it
            person = await session.get(Person, row.person_id)
            communes = (await session.exec(select(Membership.commune_code).where(
                Membership.person_id == row.person_id, Membership.revoked_at.is_(None)))).scalars().all()
            secretaries = await repo.secretary_accounts(session, sorted({c for c in communes if c}))
            episode = now.strftime("%Y%m%d%H%M%S")
            text = t("remind.unreachable", name=person.name if person else "?")
            await enqueue(session, [
                Message(f"unreachable:{row.person_id}:{episode}:{s.person_id}", s.person_id, s.channel, s.chat_id,
                        "unreachable", Reply(text), now)
                for s in secretaries if s.person_id != row.person_id
            ], now)


def _lease(*where: Any, skip_locked: bool) -> Update:
    """Built once: lease the oldest rows matching `where` (bound :now, :lease_until, :batch).

    Each of the two uses the index on (status, due_at); one condition with an OR across statuses
    made both databases scan and sort every row due."""
    ids = select(_outbox.c.id).where(*where).order_by(_outbox.c.due_at, _outbox.c.id).limit(bindparam("batch"))
    if skip_locked:  # PostgreSQL: several senders share the work without waiting for each other
        ids = ids.with_for_update(skip_locked=True)
    return (update(_outbox).where(_outbox.c.id.in_(ids.scalar_subquery()))
            .values(status=OutboxStatus.SENDING, attempts=_outbox.c.attempts + 1,
                    lease_until=bindparam("lease_until", type_=_outbox.c.lease_until.type))
            .returning(*_CLAIMED))


def _claims(skip_locked: bool) -> tuple[Update, Update]:
    now = bindparam("now", type_=_outbox.c.due_at.type)
    return (
        # The statuses as literals: the sender's claims are planned once, without their values (Database.alone), and
        # a plan for any status would read much of the table. Pending: both databases use the partial index on
        # pending rows (ix_outbox_pending, in the claim's order: a burst of 60,000 rows due at once is not sorted
        # at each claim).
        _lease(_outbox.c.status == written_in(OutboxStatus.SENDING), _outbox.c.lease_until < now,
               skip_locked=skip_locked),  # its sender died
        _lease(_outbox.c.status == written_in(OutboxStatus.PENDING), _outbox.c.due_at <= now,
               or_(_outbox.c.retry_at.is_(None), _outbox.c.retry_at <= now), skip_locked=skip_locked),
    )


def _outcome(**values: Any) -> Update:
    """Built once, as an outcome is written for every message sent."""
    return (update(_outbox).where(_outbox.c.id == bindparam("row_id"))
            .values(lease_until=None, last_error=bindparam("error"), **values))


_outbox = Outbox.__table__
# What sending a claimed row reads: 50 rows a claim, each column returned is one more value to decode.
_CLAIMED = tuple(_outbox.c[name] for name in (
    "id", "key", "person_id", "channel", "chat_id", "kind", "payload", "due_at", "stale_at", "attempts", "created_at"))
_MARK_SENT = _outcome(status=OutboxStatus.SENT, sent_at=bindparam("now", type_=_outbox.c.sent_at.type))
_MARK_DONE = _outcome(status=bindparam("new_status"))
_CLAIM, _CLAIM_SKIP_LOCKED = _claims(skip_locked=False), _claims(skip_locked=True)
_RESCHEDULE = _outcome(status=OutboxStatus.PENDING, retry_at=bindparam("retry", type_=_outbox.c.retry_at.type),
                       attempts=bindparam("attempts"))
