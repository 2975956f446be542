"""The durable intake in one process: order per chat, albums gathered from the inbox, redeliveries."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.intake import Worker
from common.messages import t
from storage import inbox, repo
from storage.db import Database, GroupCommit
from storage.inbox import Received
from storage.models import Case, CasePhoto, InboxUpdate
from storage.repo import ConversationWrite
from tests.chat import image_bytes
from tests.conftest import IS_POSTGRES, add_member, wait_until
from tests.telegram_user import TelegramUser

DESCRIPTION = "Anh Tuấn sửa đường làng miễn phí cho cả xóm suốt ba tháng mùa mưa."
TO_PHOTOS = ("ca nhan", "Lê Văn Tuấn", "1980", "kinh", "bo qua", "1", "1", "1", DESCRIPTION, "hom nay")


async def at_the_photo_step(cadre: TelegramUser) -> None:
    await cadre.say("/decu", count=2)
    for answer in TO_PHOTOS:
        await cadre.say(answer)


async def test_an_album_then_a_file_and_xong_at_once_are_handled_in_order(server, bot, app):
    await add_member(app, "8201")
    cadre = TelegramUser(server, 8201)
    await at_the_photo_step(cadre)
    for colour in ("red", "green", "blue"):
        server.send_photo(cadre.id, image_bytes(colour), media_group_id="a-8201")
    server.send_document(cadre.id, image_bytes("white", fmt="PNG"), file_name="giay.png", mime_type="image/png")
    server.send_text(cadre.id, "xong")  # all five arrive before the album's window has closed
    album, file, xong = (m["text"] for m in await cadre.replies(3))
    assert album.startswith(t("photos.received", added=3, total=3))
    assert file.startswith(t("photos.received", added=1, total=4))
    assert xong.startswith(t("nom.phone.prompt"))
    await cadre.say("bo qua")
    assert "• Ảnh: 4 ảnh" in await cadre.text("co")
    assert (await cadre.text("gui")).startswith("Đã gửi hồ sơ")
    async with app.db.session() as session:
        [case] = (await session.exec(select(Case))).all()
        photos = (await session.execute(select(func.count()).where(CasePhoto.case_id == case.id))).scalar_one()
    assert photos == 4 and case.answers["photo_count"] == 4


async def test_a_redelivered_update_is_stored_once_and_answered_once(server, bot, app):
    await add_member(app, "8202")
    update = server.send_text(8202, "/trogiup")
    await server.wait_for_messages(8202, 1)
    again = Received("telegram", str(update["update_id"]), "8202", "message", update)
    await bot.service.intake.receive([again, again])
    await TelegramUser(server, 8202, seen=1).no_more_replies()  # /trogiup once more, answered once
    async with app.db.session() as session:
        stored = (await session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one()
    assert stored == 2  # the redelivered one and the check's own


async def test_chats_are_handled_side_by_side_while_one_waits_for_its_album(server, bot, app):
    await add_member(app, "8203")
    await add_member(app, "8204")
    cadre = TelegramUser(server, 8203)
    await at_the_photo_step(cadre)
    app.settings.album_wait_seconds = 0.3
    server.send_photo(cadre.id, image_bytes("red"), media_group_id="a-8203")
    other = TelegramUser(server, 8204)
    started = asyncio.get_running_loop().time()
    await other.say("/trogiup")  # not held up by the other chat's album window
    assert asyncio.get_running_loop().time() - started < 5
    assert (await cadre.replies())[0]["text"].startswith(t("photos.received", added=1, total=1))


async def test_an_update_that_is_not_for_the_bot_is_acknowledged_and_forgotten(server, bot, app):
    group = {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "group", "title": "Xóm"},
             "from": server.user(8205), "text": "/decu"}
    server.push_update({"message": group})
    await add_member(app, "8206")
    await TelegramUser(server, 8206).say("/trogiup")  # the group message came first and was passed over
    assert not [m for m in server.sent_messages() if m["chat"]["id"] == -100]
    async with app.db.session() as session:
        chats = (await session.exec(select(InboxUpdate.chat_id))).all()
    assert chats == ["8206"]


async def test_an_answer_and_its_inbox_row_are_written_together_or_not_at_all(app):
    """A conversation started (/decu) or an answer's state saved, and its row marked handled, together, on the
    driver (PostgreSQL: one statement; SQLite: one transaction); nothing at all when the conversation moved."""
    person_id = await add_member(app, "8207")
    now = app.core.clock.now()
    await GroupCommit(app.db).write(inbox.STORE[app.db.dialect], inbox.rows_of([
        Received("telegram", str(n), "8207", "message", {"update_id": n}) for n in (1, 2, 3, 4)], inbox.wall_clock()))
    async with app.db.session() as session:
        rows = (await session.exec(select(InboxUpdate.id).order_by(InboxUpdate.id))).all()
    reply = [{"text": "ok"}]
    target = app.db.driver() if app.db.is_sqlite else GroupCommit(app.db)
    start = ConversationWrite(person_id, None, "nomination", {"a": 1})
    first = await repo.save_and_mark_handled(target, start, now, rows[0], reply, inbox.wall_clock())
    with pytest.raises(repo.StaleConversation):  # started already: nothing written
        await repo.save_and_mark_handled(target, start, now, rows[1], reply, inbox.wall_clock())
    answer = ConversationWrite(person_id, first, "nomination", {"a": 2})
    saved = await repo.save_and_mark_handled(target, answer, now, rows[2], reply, inbox.wall_clock())
    assert (saved.id, saved.version) == (first.id, first.version + 1) and first.version == 1
    with pytest.raises(repo.StaleConversation):  # the same version again: nothing written
        await repo.save_and_mark_handled(target, answer, now, rows[3], reply, inbox.wall_clock())
    async with app.db.session() as session:
        marked = {r.id: (r.handled_at is not None, r.replies) for r in (await session.exec(select(InboxUpdate))).all()}
        conversation = (await repo.identity(session, "telegram", "8207"))[3]
    assert marked == {rows[0]: (True, reply), rows[1]: (False, []), rows[2]: (True, reply), rows[3]: (False, [])}
    assert (conversation.id, conversation.state, conversation.version) == (first.id, {"a": 2}, 2)


@pytest.mark.skipif(not IS_POSTGRES, reason="SQLite reads in the unit of work, which holds its turn")
async def test_a_command_that_starts_a_draft_and_an_answer_that_reads_write_on_the_driver(server, bot, app,
                                                                                          monkeypatch):
    """Their reads go alone (Database.reads_for), so their one write, the conversation's, still goes on the driver
    (in the group statement), not in a transaction through SQLAlchemy."""
    marks: list[str] = []
    mark_handled, save_and_mark_handled = inbox.mark_handled, repo.save_and_mark_handled
    monkeypatch.setattr(inbox, "mark_handled", lambda *a, **kw: marks.append("session") or mark_handled(*a, **kw))
    monkeypatch.setattr(repo, "save_and_mark_handled",
                        lambda *a, **kw: marks.append("driver") or save_and_mark_handled(*a, **kw))
    await add_member(app, "8208")
    cadre = TelegramUser(server, 8208)
    await cadre.say("/decu", count=2)
    assert marks == ["driver"]
    for answer in TO_PHOTOS:
        await cadre.say(answer)
    server.send_photo(cadre.id, image_bytes("red"))
    await cadre.replies()
    await cadre.say("xong")
    await cadre.say("bo qua")
    marks.clear()
    assert "• Tên: Lê Văn Tuấn" in await cadre.text("co")  # the summary, after a duplicate check
    assert marks == ["driver"]


@pytest.mark.skipif(not IS_POSTGRES, reason="PostgreSQL groups the answers of chats handled at once")
async def test_answers_handled_at_once_are_saved_in_one_statement_and_one_per_conversation(app, monkeypatch):
    """Answers of several chats go as one statement; two answers to the same conversation (a person on two
    channels) cannot both hold: one is saved with its row marked, the other is stale and its row left open."""
    now = app.core.clock.now()
    people = [await add_member(app, str(8210 + n)) for n in range(3)]
    await GroupCommit(app.db).write(inbox.STORE[app.db.dialect], inbox.rows_of([
        Received("telegram", str(n), str(8210 + n % 3), "message", {"update_id": n}) for n in range(4)],
        inbox.wall_clock()))
    async with app.db.session() as session:
        started = [await repo.write_conversation(session, ConversationWrite(p, None, "nomination", {"a": 1}), now)
                   for p in people]
        rows = (await session.exec(select(InboxUpdate.id).order_by(InboxUpdate.id))).all()
    statements = []
    driver = app.db.driver(redoable=True)
    fetch = driver.fetch
    monkeypatch.setattr(driver, "fetch", lambda sql, *args: statements.append(sql) or fetch(sql, *args))
    answers = [ConversationWrite(p, seen, "nomination", {"a": 2 + n}) for n, (p, seen) in enumerate(zip(
        people + people[:1], started + started[:1], strict=True))]
    group = GroupCommit(app.db)
    outcomes = await asyncio.gather(*(repo.save_and_mark_handled(group, answer, now, row, [{"text": "ok"}],
                                                                 inbox.wall_clock())
                                      for answer, row in zip(answers, rows, strict=True)),
                                      return_exceptions=True)
    assert len(statements) == 1
    assert [type(o).__name__ for o in outcomes] == ["SavedConversation"] * 3 + ["StaleConversation"]
    async with app.db.session() as session:
        marked = {r.id: r.handled_at is not None for r in (await session.exec(select(InboxUpdate))).all()}
        states = [(await repo.conversation_of(session, p)).state for p in people]
    assert marked == {rows[0]: True, rows[1]: True, rows[2]: True, rows[3]: False}
    assert states == [{"a": 2}, {"a": 3}, {"a": 4}]


async def test_a_group_of_updates_is_stored_and_a_group_marked_sent_in_one_statement_each(app):
    """On the driver (Database.driver), not SQLAlchemy; on PostgreSQL the store tells the other processes too,
    with one notice for the group. What the driver writes reads back through SQLAlchemy as it was given."""
    from sqlalchemy import event

    heard: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        if IS_POSTGRES:
            listening = await stack.enter_async_context(app.db.engine.connect())
            listener = (await listening.get_raw_connection()).driver_connection
            channel = await inbox.notify_channel(listener)
            await listener.add_listener(channel, lambda *args: heard.append(args[-1]))
        statements: list[str] = []  # through SQLAlchemy, or on the driver
        event.listen(app.db.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        held = app.db.driver()
        fetch = held.fetch

        async def counted(sql, *args):
            statements.append(sql)
            return await fetch(sql, *args)

        held.fetch = counted
        store, writes, now = inbox.STORE[app.db.dialect], GroupCommit(app.db), inbox.wall_clock()
        rows = inbox.rows_of([Received("telegram", str(n), chat, "message", {"update_id": n, "text": "Xin chào"})
                              for n, chat in ((1, "31"), (2, "32"), (3, "31"))], now)
        first, second = await asyncio.gather(writes.write(store, rows[:2]), writes.write(store, rows[2:]))
        assert len(statements) == 1  # the group (and its notice) in one statement (on PostgreSQL alone)
        assert first == second and sorted(r.update_key for r in first) == ["1", "2", "3"]
        assert await writes.write(store, rows[:1]) == []  # a redelivery: stored once, nobody told
        if IS_POSTGRES:
            await listener.execute(f"SELECT pg_notify('{channel}', 'marker')")  # every notice before it has arrived
            await wait_until(lambda: heard[-1:] == ["marker"], what="the marker notice")
            [told] = [inbox.read_notice(h) for h in heard[:-1]]  # once for the group, carrying its rows
            assert told.sender == inbox.process_name() and told.chats == [("telegram", "31"), ("telegram", "32")]
            chat_of = {"1": "31", "2": "32", "3": "31"}
            assert [(r.id, r.chat_id, r.payload, r.received_at) for r in told.rows] == [
                (r.id, chat_of[r.update_key], {"update_id": int(r.update_key), "text": "Xin chào"}, now)
                for r in sorted(first, key=lambda r: r.id)]
            await listening.invalidate()
        async with app.db.session() as session:
            stored = (await session.exec(select(InboxUpdate).order_by(InboxUpdate.id))).all()
        assert [(r.update_key, r.chat_id, r.payload["text"], r.received_at, r.replies) for r in stored] == [
            (str(n), chat, "Xin chào", now, []) for n, chat in (("1", "31"), ("2", "32"), ("3", "31"))]

        statements.clear()  # the replies sent, marked: one statement for the group too
        sent = [inbox.wall_clock() + timedelta(seconds=n) for n in range(2)]
        await asyncio.gather(*(writes.write(inbox.MARK_REPLIED[app.db.dialect], {"row_id": row.id, "now": at})
                               for row, at in zip(stored[:2], sent, strict=True)))
        assert len(statements) == 1
    async with app.db.session() as session:
        marked = (await session.exec(select(InboxUpdate.replied_at).order_by(InboxUpdate.id))).all()
    assert marked == [*sent, None]


async def test_a_row_nobody_told_this_process_of_is_found_by_a_sweep_while_its_chat_is_served(server, bot, app):
    """A chat served here takes the rows it is handed or told of; one stored without either (another process, a
    lost notice) is found by a sweep once it has waited STALE_AFTER, and handled."""
    await add_member(app, "8301")
    cadre = TelegramUser(server, 8301)
    await cadre.say("/trogiup")  # the chat is now served here, lingering for its next update
    update = {"update_id": 990001, "message": {"message_id": 990001, "date": 0, "text": "/trogiup",
                                               "chat": {"id": 8301, "type": "private"}, "from": server.user(8301)}}
    # Stored as another process would, without a hand-over (on PostgreSQL its notice names this process: unheard).
    await GroupCommit(app.db).write(inbox.STORE[app.db.dialect], inbox.rows_of(
        [Received("telegram", "990001", "8301", "message", update)], inbox.wall_clock()))
    await server.wait_for_messages(8301, 2, 15.0)


@pytest.mark.skipif(not IS_POSTGRES, reason="PostgreSQL's notices")
async def test_a_row_another_process_stored_is_handed_over_by_its_notice_not_read_back(server, bot, app,
                                                                                       monkeypatch):
    await add_member(app, "8302")
    cadre = TelegramUser(server, 8302)
    await cadre.say("/trogiup")  # the chat is now served here, its rows read once
    reads = []
    read = inbox.open_updates_held
    monkeypatch.setattr(inbox, "open_updates_held", lambda *args, **kw: reads.append(args[1:]) or read(*args, **kw))
    update = {"update_id": 990002, "message": {"message_id": 990002, "date": 0, "text": "/trogiup",
                                               "chat": {"id": 8302, "type": "private"}, "from": server.user(8302)}}
    monkeypatch.setattr(inbox, "process_name", lambda: "4242@another-host")  # stored as another process would
    await GroupCommit(app.db).write(inbox.STORE[app.db.dialect], inbox.rows_of(
        [Received("telegram", "990002", "8302", "message", update)], inbox.wall_clock()))
    await server.wait_for_messages(8302, 2, 15.0)
    assert reads == []


def test_a_notice_names_the_chats_it_was_sent_for_and_only_what_fits():
    told = inbox.read_notice(inbox.notice([("telegram", "1"), ("zalo", "z9"), ("telegram", "1")]))
    assert told == inbox.Notice(inbox.process_name(), [("telegram", "1"), ("zalo", "z9")], [])
    many = [("telegram", str(10**12 + n)) for n in range(1000)]  # beyond PostgreSQL's 8000 bytes
    payload = inbox.notice(many)
    assert len(payload.encode()) <= inbox.NOTICE_LIMIT
    # then every chat with open work is looked at
    assert inbox.read_notice(payload) == inbox.Notice(inbox.process_name(), None, [])
    assert inbox.read_notice("4242@old-host") == inbox.Notice("4242@old-host", None, [])  # an older process's


async def test_a_process_drops_its_own_notices_unread_and_reads_every_other_process_s(monkeypatch):
    class Unreachable:  # the listener's connection never opens: only what it is told matters here
        class engine:  # noqa: N801
            @staticmethod
            def connect():
                raise OSError("no database in this test")

    me = inbox.process_name()
    mine = [inbox.notice([("telegram", "1")]), inbox.notice([("telegram", str(10**12 + n)) for n in range(1000)]),
            inbox.release_notice(("telegram", "1"), left_open=True),
            '{"sender":' + json.dumps(me) + ',"rows":[]}']  # as the store statement makes it
    listener = inbox.Listener(Unreachable, lambda: None)
    try:
        read = []
        monkeypatch.setattr(inbox, "read_notice", lambda payload: read.append(payload) or inbox.Notice("x", [], []))
        for payload in mine:
            listener._notice(payload=payload)
        assert read == []
        monkeypatch.setattr(inbox, "process_name", lambda: "4242@another-host")
        others = [inbox.notice([("telegram", "1")]), inbox.release_notice(("telegram", "1"), left_open=True)]
        for payload in others:
            listener._notice(payload=payload)
        assert read == others
    finally:
        await listener.close()


@pytest.mark.skipif(not IS_POSTGRES, reason="PostgreSQL's notices")
async def test_a_group_too_large_for_one_notice_is_told_in_several_carrying_every_row_in_order(app):
    heard: list[str] = []
    async with app.db.engine.connect() as listening:
        listener = (await listening.get_raw_connection()).driver_connection
        channel = await inbox.notify_channel(listener)
        await listener.add_listener(channel, lambda *args: heard.append(args[-1]))
        text = "Chị Hoa giúp bà con " * 30  # about 700 bytes an update: 40 need several notices
        stored = await GroupCommit(app.db).write(inbox.STORE[app.db.dialect], inbox.rows_of(
            [Received("telegram", str(n), str(60 + n % 7), "message", {"update_id": n, "text": text})
             for n in range(40)], inbox.wall_clock()))
        await listener.execute(f"SELECT pg_notify('{channel}', 'marker')")
        await wait_until(lambda: heard[-1:] == ["marker"], what="the marker notice")
        await listening.invalidate()
    notices = heard[:-1]
    assert len(notices) > 1 and all(len(words.encode()) <= inbox.NOTICE_LIMIT + 200 for words in notices)
    assert all(words.startswith(inbox.beginning_of_notices(inbox.process_name())) for words in notices)
    told = [inbox.read_notice(words) for words in notices]
    assert [row.id for notice in told for row in notice.rows] == sorted(row.id for row in stored)
    assert all(row.payload["text"] == text for notice in told for row in notice.rows)


@pytest.mark.skipif(not IS_POSTGRES, reason="PostgreSQL's notices")
async def test_a_group_with_a_row_too_long_for_a_notice_is_told_by_its_chats_and_only_in_its_schema(app):
    heard: list[str] = []
    elsewhere: list[str] = []  # a bot of another schema of the same database (a test run beside this one)
    other = Database(app.db.url, schema="")
    async with app.db.engine.connect() as listening, other.engine.connect() as listening_elsewhere:
        listener = (await listening.get_raw_connection()).driver_connection
        channel = await inbox.notify_channel(listener)
        await listener.add_listener(channel, lambda *args: heard.append(args[-1]))
        listener_elsewhere = (await listening_elsewhere.get_raw_connection()).driver_connection
        channel_elsewhere = await inbox.notify_channel(listener_elsewhere)
        await listener_elsewhere.add_listener(channel_elsewhere, lambda *args: elsewhere.append(args[-1]))
        text = "Chuyện dài " * 400  # 4,400 bytes an update: longer than a notice carries a row
        await GroupCommit(app.db).write(inbox.STORE[app.db.dialect], inbox.rows_of(
            [Received("telegram", str(n), str(40 + n), "message", {"update_id": n, "text": text}) for n in (1, 2)],
            inbox.wall_clock()))
        for driver, on in ((listener, channel), (listener_elsewhere, channel_elsewhere)):
            await driver.execute(f"SELECT pg_notify('{on}', 'marker')")  # every notice before it has arrived
        await wait_until(lambda: heard[-1:] == elsewhere[-1:] == ["marker"], what="the marker notices")
        await listening.invalidate()
        await listening_elsewhere.invalidate()
    await other.dispose()
    assert [inbox.read_notice(h) for h in heard[:-1]] == [
        inbox.Notice(inbox.process_name(), [("telegram", "41"), ("telegram", "42")], [])]
    assert elsewhere == ["marker"]


async def test_a_stored_update_is_handled_in_units_of_work_that_can_be_redone(server, bot, app, monkeypatch):
    """Its effects commit with its mark as handled, so they may commit without waiting for the disk (storage/db.py);
    nothing else may."""
    await add_member(app, "8203")
    asked: list[tuple[str, bool]] = []
    session, alone, driver = app.db.session, app.db.alone, app.db.driver

    def spying(name, opened):
        def open_(**options):
            asked.append((name, options.get("redoable", False)))
            return opened(**options)
        return open_

    monkeypatch.setattr(app.db, "session", spying("session", session))
    monkeypatch.setattr(app.db, "alone", spying("alone", alone))
    monkeypatch.setattr(app.db, "driver", spying("driver", driver))
    server.send_text(8203, "/decu")
    await server.wait_for_messages(8203, 1)
    server.send_text(8203, "1")  # an answer: its one write goes on the driver (on PostgreSQL alone)
    await server.wait_for(lambda: sum(redoable for _, redoable in asked) >= 2, 10.0)  # one per update
    assert ("session", True) in asked
    assert ("driver", True) in asked


class HeldElsewhere:
    """Locks of which another process holds `held`."""

    generation = 0

    def __init__(self, held: set) -> None:
        self.held = held
        self.asked: list[list] = []

    async def try_chats(self, keys):
        keys = list(keys)
        self.asked.append(keys)
        return [key for key in keys if key not in self.held]


async def test_a_chat_held_elsewhere_is_asked_for_again_once_let_go_at_once_if_its_holder_left_work(app):
    key = ("telegram", "8401")
    locks = HeldElsewhere({key})
    worker = Worker(app.core, app.db, locks, {}, album_wait=0.1)

    async def new_row(row_id: int) -> None:  # stored here or told of: the worker takes the chat if it may
        worker.hand_over([inbox.OpenRow(row_id, *key, None, "message", {}, inbox.wall_clock())])
        await worker._take(worker._pop_wanted())

    await new_row(1)
    await new_row(2)
    assert locks.asked == [[key]]  # then left to its holder, which handles what comes
    worker._released({key: False})  # let go idle: asked for when work comes
    await worker._take(worker._pop_wanted())
    assert locks.asked == [[key]]
    await new_row(3)
    assert locks.asked == [[key]] * 2
    worker._released({key: True})  # its holder stopped, perhaps with work left: asked for at once
    await worker._take(worker._pop_wanted())
    assert locks.asked == [[key]] * 3
