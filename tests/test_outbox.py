"""The outbox against the fake Bot API: rate limits, 429/5xx/timeouts, blocked users, a crash in the
middle of sending, two sender processes."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, text, update
from sqlmodel import select

from bot.channels.telegram import TelegramChannel, make_bot
from common.clock import FrozenClock
from common.delivery import TransientFailure
from common.events import Reply
from common.messages import t
from scheduler import outbox
from scheduler.outbox import Message, OutboxSender, enqueue
from storage import repo
from storage.models import Account, Outbox, OutboxStatus, Person
from tests.conftest import IS_POSTGRES, add_member, wait_until
from tests.fakes.telegram_server import FakeTelegramServer, Fault

ROOT = Path(__file__).resolve().parents[1]


async def seed(app, count: int, first_chat: int = 10_000) -> list[int]:
    """`count` people with a Telegram account each, and one pending message to each."""
    now = app.core.clock.now() - timedelta(days=1)  # due already, also for a worker on the real clock
    async with app.db.session() as session:
        await session.execute(insert(Person), [{"name": f"Người {i}", "created_at": now} for i in range(count)])
        ids = list((await session.exec(select(Person.id).order_by(Person.id))).all())[-count:]
        await session.execute(insert(Account), [
            {"person_id": pid, "channel": "telegram", "external_id": str(first_chat + i),
             "chat_id": str(first_chat + i)} for i, pid in enumerate(ids)])
        await enqueue(session, [Message(f"test:{pid}", pid, "telegram", str(first_chat + i), "test",
                                        Reply(f"Tin nhắn số {i}"), now) for i, pid in enumerate(ids)],
                      app.core.clock.now())
    return [first_chat + i for i in range(count)]


def delivered(server: FakeTelegramServer) -> Counter:
    return Counter(m["chat"]["id"] for m in server.sent_messages())


async def statuses(app) -> Counter:
    async with app.db.session() as session:
        return Counter(row.status for row in (await session.exec(select(Outbox))).all())


def max_in_any_second(server: FakeTelegramServer) -> int:
    stamps = sorted(c.at for c in server.calls_named("sendMessage") if c.status == 200)
    return max((sum(1 for s in stamps[i:] if s < start + 1.0) for i, start in enumerate(stamps)), default=0)


async def test_everything_is_delivered_through_429s_500s_and_timeouts_within_the_limits(app, server):
    chats = await seed(app, 120)
    server.rate_limit(per_second=40, per_chat_per_second=1)
    chance = random.Random(7)
    injected = Counter()

    def misbehave(method: str, params: dict):
        if method != "sendMessage":
            return None
        roll = chance.random()
        fault = (Fault.server_error() if roll < 0.10 else Fault.too_many(1) if roll < 0.13
                 else Fault.timeout(1.5) if roll < 0.15 else None)
        if fault:
            injected[fault.kind] += 1
        return fault

    server.fault = misbehave
    bot = make_bot(app.settings.model_copy(update={"telegram_api_url": server.url,
                                                   "telegram_bot_token": server.token}))
    try:
        sender = OutboxSender(app.db, app.core.clock, {"telegram": TelegramChannel(bot, timeout=1)}, rate=36,
                              per_chat=1, batch=40)
        clock: FrozenClock = app.core.clock
        for _ in range(40):  # retries are due later: move the injected clock, not the real one
            await sender.run_until_idle()
            if (await statuses(app)).get(OutboxStatus.SENT, 0) == len(chats):
                break
            clock.advance(seconds=60)
    finally:
        await bot.session.close()
    counts = delivered(server)
    assert set(counts) == set(chats)  # every chat got its message
    assert sum(counts.values()) - len(chats) <= injected["timeout"]  # a timed-out call may have gone through
    assert injected["server_error"] and injected["too_many"] and injected["timeout"]
    assert server.rejected_429 == injected["too_many"]  # the limiter itself never hit the server's limit
    assert max_in_any_second(server) <= 40
    assert await statuses(app) == Counter({OutboxStatus.SENT: len(chats)})


async def test_a_blocked_person_is_marked_and_their_secretary_told_once(app, server):
    await add_member(app, "900", role="secretary", village=None, name="Thư ký")
    cadre = await add_member(app, "901", name="Anh Ba")
    now = app.core.clock.now()
    async with app.db.session() as session:
        await enqueue(session, [Message(f"nudge:{i}", cadre, "telegram", "901", "nudge", Reply(f"Nhắc {i}"), now)
                                for i in range(2)], now)
    server.fault = lambda method, params: Fault.forbidden() if str(params.get("chat_id")) == "901" else None
    bot = make_bot(app.settings.model_copy(update={"telegram_api_url": server.url,
                                                   "telegram_bot_token": server.token}))
    try:
        sender = OutboxSender(app.db, app.core.clock, {"telegram": TelegramChannel(bot)}, rate=100, per_chat=100)
        await sender.run_until_idle()
    finally:
        await bot.session.close()
    assert [m["text"] for m in server.sent_messages(900)] == [t("remind.unreachable", name="Anh Ba")]
    async with app.db.session() as session:
        account = await repo.account_of(session, "telegram", "901")
        rows = (await session.exec(select(Outbox).where(Outbox.person_id == cadre))).all()
    assert account.unreachable_at is not None and {r.status for r in rows} == {OutboxStatus.UNREACHABLE}


def worker_env(app, server, rate: float, in_flight: int = 8) -> dict[str, str]:
    settings = app.settings
    return {**os.environ, "DATABASE_URL": settings.database_url, "DATABASE_SCHEMA": settings.database_schema,
            "TELEGRAM_BOT_TOKEN": server.token, "TELEGRAM_API_URL": server.url, "LOG_LEVEL": "WARNING",
            "TELEGRAM_RATE_PER_SECOND": str(rate), "TELEGRAM_RATE_PER_CHAT": "1", "PYTHONPATH": str(ROOT),
            "OUTBOX_IN_FLIGHT": str(in_flight)}


def start_worker(env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.outbox_worker"], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, text=True)


async def crash_and_restart(app, server, tmp_path, in_flight: int) -> tuple[list[int], Counter]:
    """1,000 reminders; the sender process is killed at the 400th send (that call never processed);
    a new sender on the same database, after the dead one's lease, finishes the work."""
    chats = await seed(app, 1000)
    worker = start_worker(worker_env(app, server, rate=400, in_flight=in_flight), tmp_path)
    sends = 0

    def crash_at_the_400th(method: str, params: dict):
        nonlocal sends
        if method == "sendMessage":
            sends += 1
            if sends == 400:
                os.kill(worker.pid, signal.SIGKILL)  # dies with this call and others in flight, unanswered
                return Fault.server_error()
        return None

    server.fault = crash_at_the_400th
    await asyncio.to_thread(worker.communicate, timeout=60)
    assert worker.returncode == -signal.SIGKILL
    assert 300 <= len(delivered(server)) < 1000
    assert (await statuses(app)).get(OutboxStatus.SENDING, 0) > 0  # claimed rows left behind by the crash

    server.fault = None
    # The dead worker leased its rows on the real clock; the restart comes after that lease.
    restarted = FrozenClock(datetime.now(UTC) + timedelta(minutes=6))
    bot = make_bot(app.settings.model_copy(update={"telegram_api_url": server.url,
                                                   "telegram_bot_token": server.token}))
    try:
        await OutboxSender(app.db, restarted, {"telegram": TelegramChannel(bot)}, rate=400, per_chat=1,
                           batch=100).run_until_idle()
    finally:
        await bot.session.close()
    assert await statuses(app) == Counter({OutboxStatus.SENT: 1000})
    return chats, delivered(server)


async def test_a_crash_in_the_middle_of_1000_reminders_then_a_restart_delivers_each_once(app, server, tmp_path):
    chats, counts = await crash_and_restart(app, server, tmp_path, in_flight=1)
    assert set(counts) == set(chats) and max(counts.values()) == 1


async def test_with_several_in_flight_a_crash_can_only_repeat_those_in_flight(app, server, tmp_path):
    chats, counts = await crash_and_restart(app, server, tmp_path, in_flight=8)
    assert set(counts) == set(chats)  # nothing lost
    assert sum(counts.values()) - len(chats) <= 8


async def test_two_sender_processes_deliver_each_message_once(app, server, tmp_path):
    chats = await seed(app, 600)
    env = worker_env(app, server, rate=150)
    workers = [start_worker(env, tmp_path) for _ in range(2)]
    outputs = [await asyncio.to_thread(w.communicate, timeout=60) for w in workers]
    assert [w.returncode for w in workers] == [0, 0]
    handled = [int(out.split()[-1]) for out, _ in outputs]
    assert all(handled) and sum(handled) == 600, handled  # both did part of the work, none twice
    counts = delivered(server)
    assert set(counts) == set(chats) and max(counts.values()) == 1
    senders = Counter(c.params.get("chat_id") for c in server.calls_named("sendMessage"))
    assert len(senders) == 600
    assert await statuses(app) == Counter({OutboxStatus.SENT: 600})


class Flaky:
    """A channel that fails in a given way a number of times, then delivers."""

    def __init__(self, failure: Exception, times: int, expect: int = 0) -> None:
        self.failure, self.times, self.sent = failure, times, []
        self.all_arrived = asyncio.Event()
        self.expect = expect

    async def deliver(self, chat_id: str, reply: Reply, once: str = "") -> None:
        if self.times:
            self.times -= 1
            raise self.failure
        self.sent.append(chat_id)
        if len(self.sent) >= self.expect:
            self.all_arrived.set()


async def test_an_outage_of_hours_is_survived_and_a_refused_message_is_not_retried(app):
    from common.delivery import Rejected

    await seed(app, 2)
    clock: FrozenClock = app.core.clock
    down = Flaky(TransientFailure("timeout"), times=60)
    sender = OutboxSender(app.db, clock, {"telegram": down}, rate=1000, per_chat=1000)
    for _ in range(80):  # about six hours of retries on the injected clock
        await sender.run_until_idle()
        clock.advance(minutes=5)
    assert sorted(down.sent) == ["10000", "10001"]
    async with app.db.session() as session:
        await session.execute(Outbox.__table__.delete())
    await seed(app, 1, first_chat=20_000)
    refused = Flaky(Rejected("Bad Request: message text is empty"), times=1)
    await OutboxSender(app.db, clock, {"telegram": refused}, rate=1000, per_chat=1000).run_until_idle()
    assert await statuses(app) == Counter({OutboxStatus.FAILED: 1}) and refused.sent == []


async def test_the_sender_survives_a_database_failure(app, monkeypatch):
    await seed(app, 3)
    delivered_to = Flaky(TransientFailure("never"), times=0, expect=3)
    sender = OutboxSender(app.db, app.core.clock, {"telegram": delivered_to}, rate=1000, per_chat=1000)
    claim, failures = sender._claim, [1]

    async def failing_once():
        if failures:
            failures.pop()
            raise ConnectionError("database restarted")
        return await claim()

    monkeypatch.setattr(sender, "_claim", failing_once)
    task = asyncio.create_task(sender.run_forever(idle_wait=0.01))
    try:
        await asyncio.wait_for(delivered_to.all_arrived.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # before the database closes under it
    assert sorted(delivered_to.sent) == ["10000", "10001", "10002"]


class Recorder:
    """A channel that records what it sends, failing with a 5xx the first time for the chats named."""

    def __init__(self, fail_once: set[str] = frozenset()) -> None:
        self.fail_once, self.sent, self.attempts = set(fail_once), [], []
        self.delivered = asyncio.Event()

    async def deliver(self, chat_id: str, reply: Reply, once: str = "") -> None:
        self.attempts.append(chat_id)
        if chat_id in self.fail_once:
            self.fail_once.discard(chat_id)
            raise TransientFailure("500 Internal Server Error", undelivered=True)
        self.sent.append(chat_id)
        self.delivered.set()


async def test_a_failed_message_is_retried_before_those_due_after_it(app):
    clock: FrozenClock = app.core.clock
    channel = Recorder(fail_once={"10000"})
    sender = OutboxSender(app.db, clock, {"telegram": channel}, rate=1000, per_chat=1000)
    await seed(app, 1)
    await sender.run_until_idle()  # a 5xx: its retry is due a second later
    await seed(app, 3, first_chat=20_000)  # due as long ago, but queued after it
    clock.advance(seconds=2)
    await sender.run_until_idle()
    assert channel.attempts == ["10000", "10000", "20000", "20001", "20002"]  # the retry kept its place
    assert await statuses(app) == Counter({OutboxStatus.SENT: 4})


async def test_a_row_whose_sender_died_is_claimed_again_at_the_next_look_after_its_lease(app):
    """Leases last minutes, so ran-out ones are looked for every EXPIRED_EVERY (10 s), not at each claim."""
    clock: FrozenClock = app.core.clock
    channel = Recorder()
    sender = OutboxSender(app.db, clock, {"telegram": channel}, rate=1000, per_chat=1000)
    await seed(app, 1)
    async with app.db.session() as session:  # claimed by a sender that died; its lease runs out in a second
        await session.execute(update(Outbox).values(status=OutboxStatus.SENDING,
                                                     lease_until=clock.now() + timedelta(seconds=1)))
    assert await sender.run_until_idle() == 0  # a look now: nothing ran out yet
    clock.advance(seconds=2)
    assert await sender.run_until_idle() == 0  # ran out, but the next look is 10 s after the last
    clock.advance(seconds=9)
    assert await sender.run_until_idle() == 1
    assert channel.attempts == ["10000"]
    assert await statuses(app) == Counter({OutboxStatus.SENT: 1})


async def test_outcomes_finishing_together_are_written_in_one_transaction(app, monkeypatch):
    await seed(app, 30)
    opened, session = [], app.db.session

    def counting_session():
        opened.append(1)
        return session()

    monkeypatch.setattr(app.db, "session", counting_session)
    sender = OutboxSender(app.db, app.core.clock, {"telegram": Recorder()}, rate=10_000, per_chat=10_000,
                          in_flight=30, batch=30)
    assert await sender.run_until_idle() == 30
    assert await statuses(app) == Counter({OutboxStatus.SENT: 30})
    # Three claims (the batch, the next one fetched ahead, the last that finds nothing), and far fewer
    # writes than the 30 outcomes.
    assert len(opened) - 2 <= 5, len(opened)


async def test_a_message_waiting_for_its_chat_does_not_hold_up_other_chats():
    from scheduler.outbox import RateLimiter

    limiter = RateLimiter(rate=1000, per_chat=0.5)  # a chat may get a message every 2 s
    await limiter.acquire("A")
    second_to_a = asyncio.create_task(limiter.acquire("A"))
    try:
        await asyncio.wait_for(limiter.acquire("B"), 0.5)  # at once, though A's second waits its turn
        assert not second_to_a.done()
    finally:
        second_to_a.cancel()
        await asyncio.gather(second_to_a, return_exceptions=True)


async def test_a_refused_attempt_gives_back_its_place_in_its_chat():
    from scheduler.outbox import RateLimiter

    limiter = RateLimiter(rate=1000, per_chat=0.5)
    started = await limiter.acquire("A")
    limiter.give_back("A", started)  # the channel answered 5xx: it did not count the message
    await asyncio.wait_for(limiter.acquire("A"), 0.5)  # the retry need not wait the chat's 2 s
    with pytest.raises(TimeoutError):  # but a message the channel took does count
        await asyncio.wait_for(limiter.acquire("A"), 0.5)


@pytest.mark.skipif(not IS_POSTGRES, reason="PostgreSQL's planner statistics")
async def test_a_large_enqueue_renews_the_statistics_the_next_look_up_relies_on(app):
    await seed(app, 1000)
    async with app.db.session() as session:
        rows = await session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'outbox'::regclass"))
    assert rows >= 1000  # else the next minute's look-up of known keys scans the table for each key


@pytest.mark.skipif(not IS_POSTGRES, reason="PostgreSQL's planner statistics")
async def test_a_batch_small_beside_the_table_leaves_its_statistics_alone(app, monkeypatch):
    """A national morning adds 60,000 rows to 1.3 million: the statistics still hold, and ANALYZE would take the
    server's time in the middle of the burst."""
    await seed(app, 1000)  # analyzed: PostgreSQL knows of 1,000 rows
    monkeypatch.setattr(outbox, "ANALYZE_AFTER", 10)
    async with app.db.session() as session:
        assert not await outbox.refresh_statistics(session, 50)  # 5% of the table
        assert await outbox.refresh_statistics(session, 150)  # 15%
        assert not await outbox.refresh_statistics(session, 5)  # too few to matter at all


async def test_two_messages_to_one_chat_keep_the_chats_spacing():
    from scheduler.outbox import RateLimiter

    limiter = RateLimiter(rate=20, per_chat=4)  # a start every 0.05 s, a chat every 0.25 s
    first, second = await asyncio.gather(limiter.acquire("A"), limiter.acquire("A"))
    assert abs(second - first) >= 0.25


async def test_one_outcome_that_cannot_be_written_does_not_fail_the_others(app):
    from scheduler.outbox import _MARK_SENT, _RESCHEDULE
    from storage.db import GroupCommit

    await seed(app, 3)
    async with app.db.session() as session:
        ids = list((await session.exec(select(Outbox.id).order_by(Outbox.id))).all())
    now, outcomes = app.core.clock.now(), GroupCommit(app.db)
    results = await asyncio.gather(  # written as one group, in which the second breaks a NOT NULL
        outcomes.write(_MARK_SENT, {"row_id": ids[0], "error": "", "now": now}),
        outcomes.write(_RESCHEDULE, {"row_id": ids[1], "error": "", "retry": now, "attempts": None}),
        outcomes.write(_MARK_SENT, {"row_id": ids[2], "error": "", "now": now}),
        return_exceptions=True)
    assert results[0] == [] and results[2] == [] and isinstance(results[1], Exception)
    assert await statuses(app) == Counter({OutboxStatus.SENT: 2, OutboxStatus.PENDING: 1})


async def test_a_stopping_sender_starts_nothing_more(app):
    await seed(app, 3)
    channel = Recorder()
    sender = OutboxSender(app.db, app.core.clock, {"telegram": channel}, rate=0.5, per_chat=1000)  # every 2 s
    running = asyncio.create_task(sender.run_forever(idle_wait=0.01))
    await asyncio.wait_for(channel.delivered.wait(), 10)
    running.cancel()  # the two others wait for their turn: they are not sent, their rows wait for the lease
    await asyncio.wait_for(asyncio.gather(running, return_exceptions=True), 5)
    assert len(channel.sent) == 1 and not sender._in_flight
    assert await statuses(app) == Counter({OutboxStatus.SENT: 1, OutboxStatus.SENDING: 2})


async def test_retries_end_after_a_day_or_after_too_many_attempts(app):
    clock: FrozenClock = app.core.clock
    await seed(app, 1)
    never = Flaky(TransientFailure("timeout"), times=10**6)
    sender = OutboxSender(app.db, clock, {"telegram": never}, rate=1000, per_chat=1000)
    for _ in range(11):  # 22 hours of an outage: still trying
        await sender.run_until_idle()
        clock.advance(hours=2)
    assert await statuses(app) == Counter({OutboxStatus.PENDING: 1})
    clock.advance(hours=3)  # past a day since it was queued
    await sender.run_until_idle()
    assert await statuses(app) == Counter({OutboxStatus.FAILED: 1})

    async with app.db.session() as session:
        await session.execute(Outbox.__table__.delete())
    await seed(app, 1, first_chat=20_000)
    impatient = OutboxSender(app.db, clock, {"telegram": never}, rate=1000, per_chat=1000, max_attempts=3)
    for attempt in range(1, 4):
        await impatient.run_until_idle()
        clock.advance(seconds=5)  # past each backoff
        expected = OutboxStatus.FAILED if attempt == 3 else OutboxStatus.PENDING
        assert await statuses(app) == Counter({expected: 1}), attempt


async def test_a_message_past_its_stale_at_is_not_sent(app):
    clock: FrozenClock = app.core.clock
    now = clock.now()
    async with app.db.session() as session:
        person = Person(name="Người nhận", created_at=now)
        session.add(person)
        await session.flush()
        await enqueue(session, [
            Message("stale", person.id, "telegram", "1", "test", Reply("Đã quá hạn"), now - timedelta(hours=2),
                    stale_at=now - timedelta(minutes=1)),
            Message("fresh", person.id, "telegram", "2", "test", Reply("Còn hạn"), now - timedelta(hours=2),
                    stale_at=now + timedelta(minutes=1))], now)
    channel = Recorder()
    await OutboxSender(app.db, clock, {"telegram": channel}, rate=1000, per_chat=1000).run_until_idle()
    assert channel.sent == ["2"]
    assert await statuses(app) == Counter({OutboxStatus.STALE: 1, OutboxStatus.SENT: 1})


async def test_a_database_outage_pauses_sending_with_one_line_in_the_log(app, caplog):
    """An outage is expected weather, not a bug: a warning line that says so, without a traceback."""
    from storage.db import Database

    unreachable = Database("postgresql://nobody@127.0.0.1:9/nothing")  # nothing listens on port 9
    sender = OutboxSender(unreachable, app.core.clock, {})
    task = asyncio.create_task(sender.run_forever(idle_wait=0.01))
    try:
        with caplog.at_level("WARNING", logger="scheduler.outbox"):
            await wait_until(lambda: "database unavailable" in caplog.text, what="the outage in the log")
        paused = [r for r in caplog.records if "sending paused" in r.getMessage()]
        assert paused and all(r.levelname == "WARNING" and r.exc_info is None for r in paused)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await unreachable.dispose()
