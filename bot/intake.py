"""The durable intake: what channels receive is stored (the inbox) before they acknowledge it, then handled
once, a chat's updates one at a time and in the order they came, by any number of workers.

- `Intake.receive` stores what a channel adapter received (a group commit) and tells this process's
  worker; other processes hear of it through PostgreSQL's NOTIFY (which carries the rows when they fit,
  else names the chats), or their sweep every second.
- `Worker` takes a chat (storage/locks.py: one worker at a time per chat, across processes) and works
  through its open rows: an album is gathered from the inbox by its id, until no part has come for
  ALBUM_WAIT_SECONDS, and handled as one event before any later update of the chat. The core marks the
  rows handled, with the replies, in the unit of work that handles them; the replies are sent after and
  marked sent. A crash at any moment leaves the row open: on restart it is handled, or its stored replies
  sent (the one repeat possible: a reply sent in the instant before the crash, before it was marked; each goes
  with a key, inbox:<row>:<place>, by which a channel that can tell, the web chat, keeps it once).
- A chat's worker lingers a moment after its last update, so a conversation's next answer does not pay
  for taking the chat again; the rows this process stores, or another's notice carries, are handed to its
  worker as they are, not read back. Only when rows may have been missed (a sweep finds a row that waited, a
  notice names chats without their rows, a told row came late) are the chat's open rows read again.
- A chat another process holds is left to it: its holder says when it lets the chat go (a notice), and only
  then, or when a sweep finds the chat's work waiting, is it asked for again.
- Replies are marked sent in groups a moment apart; a chat is let go only once its marks have landed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import Row

from bot.core import Core, StorageUnavailable
from common import metrics
from common.delivery import Rejected, RetryLater, TransientFailure, Unreachable
from common.events import Inbound, Reply, reply_from_json, reply_to_json
from storage import inbox
from storage.db import Database, GroupCommit, is_unavailable, one_line
from storage.inbox import Received
from storage.locks import ChatKey, Locks

log = logging.getLogger(__name__)

LINGER = 10.0  # seconds a chat's worker waits for its next update before letting the chat go (a lock each way)
MAKE_ROOM_AFTER = 1.0  # seconds a lingering chat has been idle before it may go to make room for a waiting one
SWEEP_EVERY = 1.0  # seconds between looks for open work that no notice announced (other processes, a restart)
NOTICE_SWEEP = 0.05  # seconds at least between looks prompted by other processes' notices
STALE_AFTER = 2.0  # seconds an open row of a chat served here waits before a sweep has the chat's rows read again
FIRST_RETRY, LAST_RETRY = 0.5, 30.0  # seconds between tries while the database or the channel is down
SEND_TRIES = 8  # a reply that keeps failing (the channel is down) is left for later: its row stays open
# Seconds sent replies wait to be marked together: a crash in that moment only sends them again, and at 0.02 s
# the marks were a tenth of the statements a busy bot sent (four replies a mark).
MARK_GATHER = 0.1
# A chat another process held when asked for is left to it: asked for again once that process says it let the
# chat go, or a sweep finds the chat's work waiting STALE_AFTER (its holder may be gone), or after ELSEWHERE
# seconds without either. Asking again every second was a tenth of the statements of two workers.
ELSEWHERE = 60.0
REMEMBERED_SENT = 50_000  # row ids whose replies this process sent, remembered


class ChannelPort(Protocol):
    """What the worker needs of a channel adapter."""

    name: str

    def event_of(self, payloads: Sequence[dict[str, Any]]) -> Inbound | None:
        """One stored update (or an album's) as the core's event; None: nothing for the core."""

    async def acknowledge(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Whatever the channel wants at once on handling (Telegram: stop a pressed button's spinner)."""

    async def fetch(self, ref: Any) -> bytes: ...

    async def deliver(self, chat_id: str, reply: Reply, once: str = "") -> None:
        """Send one reply; failures as common.delivery's exceptions (a channel is also the outbox's Delivery).
        `once`: see common.delivery.Delivery."""


class Intake:
    """The front door: channels hand it what they received; it returns once that is stored. The stored rows
    are handed to this process's worker as they are, so it need not read them back."""

    def __init__(self, db: Database, worker: Worker | None = None) -> None:
        self.db = db
        self.worker = worker
        self._writes = GroupCommit(db)
        self._store = inbox.STORE[db.dialect]  # PostgreSQL: with the notice

    async def receive(self, received: Sequence[Received]) -> None:
        """Store; raises if the database cannot take it (then the channel must not acknowledge)."""
        if not received:
            return
        now = inbox.wall_clock()
        rows = inbox.rows_of(received, now)
        returned = await self._writes.write(self._store, rows)
        for item in received:
            metrics.UPDATES_RECEIVED.labels(item.channel, item.kind).inc()
        if self.worker is not None:
            self.worker.hand_over(inbox.stored_rows(received, returned, now))


class Worker:
    def __init__(self, core: Core, db: Database, locks: Locks, channels: Mapping[str, ChannelPort], *,
                 album_wait: float, max_chats: int = 256, linger: float = LINGER,
                 sweep_every: float = SWEEP_EVERY) -> None:
        self.core = core
        self.db = db
        self.locks = locks
        self.channels = channels
        self.album_wait = album_wait
        self.exclusive: set[str] = set()  # channels whose updates only this process receives (receives_alone)
        self.max_chats = max_chats  # served at once by this process; more wait (or go to other workers)
        self.linger = linger
        self.sweep_every = sweep_every
        self._active: dict[ChatKey, asyncio.Task] = {}
        self._more: dict[ChatKey, asyncio.Event] = {}  # set when an active chat may have new rows
        self._wanted: dict[ChatKey, None] = {}  # in the order they were wanted
        self._wake = asyncio.Event()
        # Chats another process held when last asked for, since when: left to it (see ELSEWHERE), which handles
        # what comes for them meanwhile; its notice when it lets one go, or a sweep, brings back what it leaves.
        self._elsewhere: dict[ChatKey, float] = {}
        self._handed: dict[ChatKey, list[inbox.OpenRow]] = {}  # rows stored here or told of, for chats being served
        self._resync: set[ChatKey] = set()  # chats whose open rows must be read again (a failure)
        self._dealt: dict[ChatKey, int] = {}  # chats being served: the highest row id dealt with
        self._idle: OrderedDict[ChatKey, float] = OrderedDict()  # lingering chats, since when, the longest first
        self._leaving: set[ChatKey] = set()  # lingering chats asked to make room for others
        self._stopping = False
        # Replies marked sent in groups a moment apart: cheap, and a crash in that moment only resends them.
        self._marks = GroupCommit(db, gather=MARK_GATHER)
        self._mark_replied = inbox.MARK_REPLIED[db.dialect]
        self._marking: dict[ChatKey, set[asyncio.Task]] = {}
        # Rows whose replies this process sent: not owed again, whether or not their mark has landed yet (a
        # list of open rows read before it landed still holds them). Bounded: the oldest are long marked.
        self._sent: OrderedDict[int, None] = OrderedDict()
        self._listener: inbox.Listener | None = None
        self.handled = 0  # updates (an album counts once) this worker handled
        self.held_elsewhere = 0  # times it asked for a chat that another process held

    # ---- what others call
    def receives_alone(self, channel: str, alone: bool) -> None:
        """A receiver says whether only this process receives the channel's updates now (it holds the role).
        On taking it, the chats being served read their open rows once more: another process may have
        stored some before it let the role go."""
        if alone and channel not in self.exclusive:
            self._resync.update(key for key in self._active if key[0] == channel)
            self.exclusive.add(channel)
        elif not alone:
            self.exclusive.discard(channel)

    def hand_over(self, rows: Iterable[inbox.OpenRow]) -> None:
        """Rows this process stored: a chat being served takes them as they are."""
        for row in rows:
            key = (row.channel, row.chat_id)
            more = self._more.get(key)
            if more is not None:
                self._handed.setdefault(key, []).append(row)
                more.set()
            elif key not in self._elsewhere:  # a chat not being served reads its open rows when it is taken
                self._wanted[key] = None
                self._wake.set()

    async def run(self) -> None:
        """Until `stop`: take chats with open work and serve them. What was open at start (a crash, a
        restart) is found by the first sweep."""
        if not self.db.is_sqlite:
            self._listener = inbox.Listener(self.db, self._wake.set)
        last_sweep = 0.0
        backoff = FIRST_RETRY
        try:
            while not self._stopping:
                self._wake.clear()  # before looking: whatever comes while we look wakes the next round
                since = time.monotonic() - last_sweep
                noticed = self._listener is not None and self._listener.pending
                timed = since >= self.sweep_every
                sweep = timed or (noticed and since >= NOTICE_SWEEP)
                if sweep and self._listener is not None:
                    self._listener.pending = False
                if noticed:  # notices may have been missed (the listener reconnected): a release among them
                    self._elsewhere.clear()
                try:
                    if self._listener is not None:
                        self._released(self._listener.take_released())
                        self._told(self._listener.take_rows())
                        self._found(self._listener.take_chats())
                    if sweep:
                        last_sweep = time.monotonic()
                        await self._sweep(check_locks=timed, everything=noticed)
                    await self._take(self._pop_wanted())
                    backoff = FIRST_RETRY
                except Exception as error:
                    if not is_unavailable(error):
                        log.exception("worker: looking for open work failed")
                    else:
                        log.warning("worker: database unavailable (%s); trying again in %.0f s",
                                    one_line(error), backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, LAST_RETRY)
                    continue
                noticed = self._listener is not None and self._listener.pending
                next_sweep = last_sweep + (NOTICE_SWEEP if noticed else self.sweep_every)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, next_sweep - time.monotonic()))
        finally:
            if self._listener is not None:
                await self._listener.close()

    async def stop(self, grace: float) -> None:
        """Take no new work; let each chat finish the update (or album) in hand and send its replies, for
        at most `grace` seconds. What is left stays open in the inbox, for the next start."""
        self._stopping = True
        self._wake.set()
        for more in self._more.values():
            more.set()
        tasks = list(self._active.values())
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("stopped %d chat(s) in the middle of their work; their updates stay open", len(pending))
                await asyncio.gather(*pending, return_exceptions=True)
        marking = [task for tasks in self._marking.values() for task in tasks]
        if marking:  # replies sent: marked before the database closes, or sent again after a restart
            await asyncio.wait(marking, timeout=grace)
        log.info("inbox worker stopped; it handled %d update(s); %d time(s) it asked for a chat another process held",
                 self.handled, self.held_elsewhere)

    # ---- taking chats
    def _pop_wanted(self) -> list[ChatKey]:
        wanted, self._wanted = self._wanted, {}
        return [key for key in wanted if key not in self._active]

    async def _sweep(self, check_locks: bool, everything: bool) -> None:
        """Chats with open work. A chat served here has its rows read again only if its oldest open row has
        waited STALE_AFTER (missed: a lost notice, a row another process stored, whichever receives), or if
        `everything`: a notice that did not say for which chats. Reading each served chat at every sweep cost a
        read a second for each chat in the middle of its conversation."""
        if check_locks:
            await self.locks.check()
        async with self.db.reading() as reading:
            found = await inbox.chats_with_open_work(reading)
        now = time.monotonic()
        for key, since in list(self._elsewhere.items()):
            if now - since >= ELSEWHERE:
                del self._elsewhere[key]
        stale = inbox.wall_clock() - timedelta(seconds=STALE_AFTER)
        for key, oldest in found:
            if oldest >= stale:
                continue
            if key in self._more and not everything:
                self._resync.add(key)
                self._more[key].set()
            self._elsewhere.pop(key, None)  # its holder has not dealt with it in time: gone, or stuck
        self._found(key for key, _ in found if everything or key not in self._more)

    def _told(self, rows: list[inbox.OpenRow]) -> None:
        """Rows another process stored, carried by its notice: handed over as this process's own are, not read
        back. One older than a row its chat has dealt with here came late (another receiver's, committed after):
        that chat's open rows are read again, so that it is not passed over."""
        for row in rows:
            key = (row.channel, row.chat_id)
            if row.id <= self._dealt.get(key, 0):
                self._resync.add(key)
        if rows:
            self.hand_over(rows)

    def _released(self, released: dict[ChatKey, bool]) -> None:
        """Chats other processes let go: asked for again when work comes for them, at once if their holder
        stopped with their work perhaps unfinished."""
        for key, left_open in released.items():
            self._elsewhere.pop(key, None)
            if left_open and key not in self._more:
                self._wanted[key] = None

    def _found(self, keys: Iterable[ChatKey]) -> None:
        """Chats with open work, some of it maybe stored by another process (a sweep, or another's notice)."""
        for key in keys:
            more = self._more.get(key)
            if more is not None:  # ours already: it may be lingering
                if key[0] not in self.exclusive:  # another process may have stored rows we were not handed
                    self._resync.add(key)
                more.set()
            elif key not in self._elsewhere:
                self._wanted[key] = None

    async def _take(self, keys: list[ChatKey]) -> None:
        now = time.monotonic()
        keys = [key for key in keys if key not in self._elsewhere]
        if not keys or self._stopping:
            return
        room = max(self.max_chats - len(self._active), 0)
        places = room + len(self._may_go(now))  # they can go to make room, once the ones wanted are ours
        for key in keys[places:]:  # no place now: kept for when one frees up
            self._wanted[key] = None
        asked = keys[:places]
        taken = await self.locks.try_chats(asked)
        for key in set(asked).difference(taken):
            self._elsewhere[key] = now
        self.held_elsewhere += len(asked) - len(taken)
        metrics.CHATS_ASKED.labels("taken").inc(len(taken))
        metrics.CHATS_ASKED.labels("held").inc(len(asked) - len(taken))
        # Room is made only for chats taken: making it for chats another process holds would pass ours to it.
        self._make_room(len(taken) - max(self.max_chats - len(self._active), 0), now)
        for key in taken:
            self._elsewhere.pop(key, None)
            self._more[key] = asyncio.Event()
            self._more[key].set()  # look at once
            self._active[key] = asyncio.create_task(self._serve(key), name=f"chat {key[0]}:{key[1]}")

    def _may_go(self, now: float) -> list[ChatKey]:
        """Lingering chats idle for MAKE_ROOM_AFTER, the longest idle first. A chat idle a moment is in the middle
        of its conversation: letting it go for another only moves both between processes (two workers at
        capacity took and let go 0.3 chats an update, each a lock and a read of the rows)."""
        since = now - MAKE_ROOM_AFTER
        return list(itertools.takewhile(lambda key: self._idle[key] <= since, self._idle))

    def _make_room(self, places: int, now: float) -> None:
        """Ask the longest idle lingering chats to go, so that waiting ones get their places."""
        for key in self._may_go(now)[:max(places, 0)]:
            del self._idle[key]
            self._leaving.add(key)
            self._more[key].set()

    async def _serve(self, key: ChatKey) -> None:
        """Work through the chat's open rows; then linger for its next update (`more`: this process stored
        one, or a sweep or another process's notice found one), unless other chats wait for a place."""
        generation = self.locks.generation
        more = self._more[key]
        synced = False  # read the chat's open rows once; after that, rows handed over suffice
        self._dealt[key] = 0
        try:
            while not self._stopping:
                if not more.is_set():
                    self._idle[key] = time.monotonic()
                    try:
                        async with asyncio.timeout(self.linger):
                            await more.wait()
                    except TimeoutError:
                        return
                    finally:
                        self._idle.pop(key, None)
                    if key in self._leaving:
                        return
                more.clear()
                handed = self._handed.pop(key, [])
                if synced and key not in self._resync:
                    rows = [row for row in handed if row.id > self._dealt[key]]  # read already, or being handled
                else:
                    self._resync.discard(key)
                    rows, synced = await self._open_rows(key), True
                if rows:
                    self._dealt[key] = max(self._dealt[key], await self._work_through(key, rows))
                    if self.locks.generation != generation:  # our locks went with their connection
                        log.warning("chat %s:%s: lock lost; leaving it to whoever takes it", *key)
                        return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("chat %s:%s: stopped; its open updates wait for the next sweep", *key)
        finally:
            marking = list(self._marking.get(key, ()))
            if marking:  # whoever takes the chat next must not find those replies still owed
                await asyncio.wait(marking, timeout=LAST_RETRY)
            del self._active[key]
            del self._more[key]
            self._handed.pop(key, None)  # read again by whoever takes the chat next
            self._dealt.pop(key, None)
            self._resync.discard(key)
            self._leaving.discard(key)
            await self.locks.release_chat(key, left_open=self._stopping)
            if more.is_set() and not self._stopping:  # something came while letting go
                self._wanted[key] = None
            self._wake.set()  # a place is free

    async def _open_rows(self, key: ChatKey) -> list[Row | inbox.OpenRow]:
        backoff = FIRST_RETRY
        while True:
            try:
                if not self.db.is_sqlite:
                    return await inbox.open_updates_held(self.db.driver(), *key)
                async with self.db.reading() as reading:
                    return await inbox.open_updates(reading, *key)
            except Exception as error:
                if not is_unavailable(error) or self._stopping:
                    raise
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, LAST_RETRY)

    # ---- one chat's work, in order
    async def _work_through(self, key: ChatKey, rows: Sequence[Row | inbox.OpenRow]) -> int:
        """Handle the rows in order (or send what is owed); the highest row id dealt with."""
        done: set[int] = set()
        for row in rows:
            if row.id in done or row.id in self._sent:
                continue
            done.add(row.id)
            if row.handled_at is not None:  # handled before a crash or a failed send: its replies are owed
                await self._send(key, [row.id], [reply_from_json(r) for r in row.replies], row.received_at)
            else:
                parts = await self._album(key, row.album) if row.album else [row]
                done.update(part.id for part in parts)
                if parts and not await self._handle(key, parts):
                    self._resync.add(key)
                    break  # the database went away: the row stays open for later
            if self._stopping:
                break
        return max(done, default=0)

    async def _album(self, key: ChatKey, album: str) -> list[Row]:
        """Wait until no part of the album has come for album_wait, then take every part received (none:
        they were handled meanwhile)."""
        while True:
            async with self.db.reading() as reading:
                parts = await inbox.album_parts(reading, *key, album)
            if not parts:
                return []
            newest = max(part.received_at for part in parts)
            left = self.album_wait - (inbox.wall_clock() - newest).total_seconds()
            if left <= 0:
                return parts
            await asyncio.sleep(left)  # the album's window: its other photos arrive within it

    async def _handle(self, key: ChatKey, parts: list[Row]) -> bool:
        channel = self.channels.get(key[0])
        ids = [part.id for part in parts]
        kind = parts[0].kind
        if channel is None:
            log.warning("inbox rows %s: no channel %s in this process; left open", ids, key[0])
            return False
        payloads = [part.payload for part in parts]
        event = channel.event_of(payloads)
        if event is None:
            await self._retrying(lambda: self._mark(ids, []))
            metrics.UPDATES_HANDLED.labels(key[0], kind, "ignored").inc()
            return True
        await channel.acknowledge(payloads)
        handled = await self._retrying(lambda: self.core.handle_stored(event, channel.fetch, ids))
        if handled is None:
            return False
        if not handled.stored:  # an error the core answered without its unit of work: stored on its own
            await self._retrying(lambda: self._mark(ids, handled.replies))
        metrics.UPDATES_HANDLED.labels(key[0], kind, "ok" if handled.stored else "error").inc()
        self.handled += 1
        if handled.replies:
            await self._send(key, ids[:1], handled.replies, parts[0].received_at)
        else:
            metrics.HANDLING_SECONDS.labels(key[0]).observe(_age(parts[0].received_at))
        return True

    def _marked(self, key: ChatKey, task: asyncio.Task) -> None:
        pending = self._marking.get(key)
        if pending is not None:
            pending.discard(task)
            if not pending:
                del self._marking[key]
        if not task.cancelled() and task.exception() is not None:  # sent again after a restart: log why
            log.error("replies sent but not marked sent", exc_info=task.exception())

    async def _mark(self, ids: list[int], replies: list[Reply]) -> None:
        async with self.db.session() as session:
            await inbox.mark_handled(session, ids, [reply_to_json(r) for r in replies], inbox.wall_clock())

    async def _retrying(self, attempt: Callable[[], Awaitable[Any]]) -> Any:
        """Try again while the database is unavailable; None if stopping meanwhile."""
        backoff = FIRST_RETRY
        while True:
            try:
                return await attempt()
            except Exception as error:
                if not isinstance(error, StorageUnavailable) and not is_unavailable(error):
                    raise
                log.warning("database unavailable (%s); trying again in %.1f s", one_line(error), backoff)
            if self._stopping:
                return None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, LAST_RETRY)

    async def _send(self, key: ChatKey, ids: list[int], replies: Sequence[Reply], received_at) -> None:
        """Send the replies, in order; a failure that may pass (a 429, a 5xx, the network) is tried again,
        from the reply that failed. Marked sent once all went, or the channel refused for good."""
        channel = self.channels[key[0]]
        sent, tries, backoff = 0, 0, FIRST_RETRY
        while sent < len(replies):
            try:
                await channel.deliver(key[1], replies[sent], once=f"inbox:{ids[0]}:{sent}")
                sent += 1
                metrics.REPLIES_SENT.labels(key[0]).inc()
                continue
            except RetryLater as slow_down:
                metrics.RATE_LIMITED.labels(key[0], "reply").inc()
                await asyncio.sleep(min(slow_down.seconds, LAST_RETRY))
                continue
            except (Unreachable, Rejected) as refused:
                log.warning("chat %s:%s: reply refused (%s)", *key, one_line(refused))
                break
            except TransientFailure as failure:
                tries += 1
                if tries >= SEND_TRIES or self._stopping:
                    log.warning("chat %s:%s: replies not sent (%s); they are sent later", *key, one_line(failure))
                    self._resync.add(key)
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, LAST_RETRY)
        marks = [{"row_id": row_id, "now": inbox.wall_clock()} for row_id in ids]
        for row_id in ids:
            self._sent[row_id] = None
        while len(self._sent) > REMEMBERED_SENT:
            self._sent.popitem(last=False)
        task = asyncio.create_task(self._retrying(lambda: self._marks.write(self._mark_replied, marks)))
        self._marking.setdefault(key, set()).add(task)
        task.add_done_callback(lambda done: self._marked(key, done))
        metrics.HANDLING_SECONDS.labels(key[0]).observe(_age(received_at))


def _age(received_at) -> float:
    return max(0.0, (inbox.wall_clock() - received_at).total_seconds())
