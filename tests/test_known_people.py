"""An answer in a conversation is handled from what the core remembers of the person, and checked by
its one write (bot/known_people.py): whatever changed elsewhere must still be seen at once."""

from __future__ import annotations

import logging

from sqlalchemy import event, update

from bot.app import build_app
from bot.channels.telegram import TelegramChannel, make_bot
from common.events import InboundKind, Reply
from common.messages import t
from scheduler.outbox import Message, OutboxSender, enqueue
from storage import repo
from storage.models import Membership
from tests.chat import Chat, image_bytes
from tests.conftest import IS_POSTGRES, add_member
from tests.fakes.telegram_server import Fault
from tests.test_nomination import state_of


def statements_of(app) -> list[str]:
    """The SQL the core sends from now on, first words of each."""
    sent: list[str] = []
    event.listen(app.db.engine.sync_engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: sent.append(" ".join(statement.split()[:3])))
    return sent


def commits_of(app) -> list[str]:
    """Transactions committed from now on: a statement that went alone (PostgreSQL) commits none."""
    commits: list[str] = []
    event.listen(app.db.engine.sync_engine, "commit", lambda conn: commits.append("COMMIT"))
    return commits


async def test_an_answer_in_a_conversation_is_one_write(app):
    await add_member(app, "701")
    chat = Chat(app.core, "701")
    await chat.say("/decu")  # a command reads who they are; the draft it starts is remembered
    sent, commits = statements_of(app), commits_of(app)
    assert (await chat.say("ca nhan"))[0].text.startswith(t("nom.name.prompt.ca_nhan"))
    assert sent == ["UPDATE conversation SET"]
    sent.clear(), commits.clear()
    assert (await chat.say("Nguyen Van An"))[0].text == t("nom.birth_year.prompt")
    assert sent == ["UPDATE conversation SET"]
    # On PostgreSQL it goes alone: no BEGIN and COMMIT round trips around it.
    assert commits == ([] if IS_POSTGRES else ["COMMIT"])
    assert (await state_of(app, "701"))["answers"]["name"] == "Nguyen Van An"


async def test_an_answer_that_writes_more_is_one_transaction(app):
    await add_member(app, "705")
    chat = Chat(app.core, "705")
    for text in ("/decu", "1", "Nguyen Van An", "1990", "kinh", "bo qua", "1", "1", "1",
                 "Anh An cứu hai em nhỏ bị đuối nước ở sông.", "hom nay"):
        await chat.say(text)
    sent, commits = statements_of(app), commits_of(app)
    await chat.photos(image_bytes())  # the photo's record before the unit of work: the draft is its one write
    assert [s.split()[0] for s in sent] == ["INSERT", "UPDATE"]
    assert commits == ([] if IS_POSTGRES else ["COMMIT", "COMMIT"])
    assert len((await state_of(app, "705"))["answers"]["photos"]) == 1
    for text in ("xong", "bo qua", "co"):
        await chat.say(text)
    sent.clear(), commits.clear()
    assert (await chat.say("gui"))[0].text.startswith("Đã gửi hồ sơ")  # the case, its photo, the draft ended
    assert {"INSERT INTO \"case\"", "INSERT INTO casephoto", "DELETE FROM conversation"} <= set(sent)
    assert commits == ["COMMIT"]


async def test_a_draft_moved_on_by_another_worker_is_read_again(app, settings, clock, caplog):
    other = await build_app(settings, clock=clock, migrate=False)
    try:
        await add_member(app, "702")
        here, there = Chat(app.core, "702"), Chat(other.core, "702")
        for text in ("/decu", "ca nhan", "Nguyen Van An"):
            await here.say(text)  # remembered here, at the year of birth
        await there.say("1968")
        with caplog.at_level(logging.INFO, logger="bot.core"):
            replies = await here.say("kinh")
        assert "changed meanwhile; handling again" in caplog.text
        assert replies[0].text == t("nom.position.prompt")
        answers = (await state_of(app, "702"))["answers"]
        assert answers["birth_year"] == 1968 and answers["ethnicity"] == "Kinh"
    finally:
        await other.close()


async def test_a_cadre_revoked_by_another_worker_is_refused_at_the_next_answer(app, settings, clock):
    other = await build_app(settings, clock=clock, migrate=False)
    try:
        cadre = await add_member(app, "703")
        await add_member(app, "704", role="secretary", village=None)
        chat = Chat(app.core, "703")
        for text in ("/decu", "ca nhan", "Nguyen Van An"):
            await chat.say(text)
        assert (await Chat(other.core, "704").say(f"/thuhoi {cadre}"))[0].text == t("people.revoked", name="Cán bộ")
        assert [r.text for r in await chat.say("1968")] == [t("access.unregistered")]
        assert "birth_year" not in (await state_of(app, "703"))["answers"]
    finally:
        await other.close()


async def test_nothing_is_shown_from_memory_alone(app):
    """A sticker writes nothing, so nothing checks what is remembered: it is read afresh. Here a role is
    revoked by hand, which moves no version."""
    await add_member(app, "705")
    chat = Chat(app.core, "705")
    for text in ("/decu", "ca nhan"):
        await chat.say(text)
    async with app.db.session() as session:
        await session.exec(update(Membership).values(revoked_at=app.core.clock.now()))
    assert [r.text for r in await chat.send(InboundKind.UNSUPPORTED, unsupported="sticker")] == [t("access.unregistered")]


async def test_a_blocked_cadre_who_writes_again_mid_draft_can_be_reached_again(app, server):
    cadre = await add_member(app, "706")
    chat = Chat(app.core, "706")
    for text in ("/decu", "ca nhan"):
        await chat.say(text)
    now = app.core.clock.now()
    async with app.db.session() as session:
        await enqueue(session, [Message("nudge:706", cadre, "telegram", "706", "nudge", Reply("Nhắc"), now)], now)
    server.fault = lambda method, params: Fault.forbidden()
    bot = make_bot(app.settings.model_copy(update={"telegram_api_url": server.url, "telegram_bot_token": server.token}))
    try:
        await OutboxSender(app.db, app.core.clock, {"telegram": TelegramChannel(bot)}, rate=100,
                           per_chat=100).run_until_idle()
    finally:
        await bot.session.close()
    async with app.db.session() as session:
        assert (await repo.account_of(session, "telegram", "706")).unreachable_at is not None
    assert (await chat.say("Nguyen Van An"))[0].text == t("nom.birth_year.prompt")
    async with app.db.session() as session:
        assert (await repo.account_of(session, "telegram", "706")).unreachable_at is None
