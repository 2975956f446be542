"""The durable intake in one process: order per chat, albums gathered from the inbox, redeliveries."""

from __future__ import annotations

import asyncio

from sqlalchemy import func
from sqlmodel import select

from common.messages import t
from storage.inbox import Received
from storage.models import Case, CasePhoto, InboxUpdate
from tests.chat import image_bytes
from tests.conftest import add_member
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
