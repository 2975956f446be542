"""End to end: the real bot (aiogram adapter, core, database, media store) against a fake Telegram
Bot API server that checks every call against the official API (../shared/telegram-bot-api/api.json).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from common.messages import t
from storage import repo
from storage.models import Case, CasePhoto, Media
from tests.chat import image_bytes
from tests.conftest import COMMUNE_A, add_member, new_invite
from tests.telegram_user import TelegramUser

DESCRIPTION = "Chị Lan nhặt được ví có 5 triệu đồng và đã trả lại cho người đánh rơi."
ROOT = Path(__file__).resolve().parents[1]


async def stored_cases(app) -> list[Case]:
    async with app.db.session() as session:
        return list((await session.exec(select(Case).order_by(Case.code))).all())


async def test_invited_cadre_nominates_an_individual_with_an_album_and_a_file(server, bot, app):
    code = await new_invite(app)
    cadre = TelegramUser(server, 1001)
    welcome = (await cadre.say(f"/start {code}"))[0]
    assert welcome["text"].startswith("Chào mừng Test! Bạn đã được đăng ký là cán bộ của Thôn Đông")
    assert welcome["params"]["reply_markup"]["keyboard"][0][0]["text"] == t("menu.nominate")
    menus = {c.params.get("scope", {}).get("type", "default"): c.params["commands"]
             for c in server.calls_named("setMyCommands")}
    assert [c["command"] for c in menus["default"]] == ["start", "trogiup"]  # before registration
    assert [c["command"] for c in menus["chat"]][:3] == ["decu", "hoso", "trangthai"]  # the cadre's own menu
    assert "choduyet" not in [c["command"] for c in menus["chat"]]

    intro, kind = await cadre.say(t("menu.nominate"), count=2)  # the main-menu button
    assert intro["text"] == t("nom.start") and "remove_keyboard" in intro["params"]["reply_markup"]
    assert kind["text"] == t("nom.kind.prompt")
    assert cadre.last_buttons() == ["Cá nhân", "Tập thể", "Hộ gia đình"]
    assert (await cadre.tap("Cá nhân"))[0]["text"] == t("nom.name.prompt.ca_nhan")
    await cadre.say("Nguyễn Thị Lan")
    await cadre.say("1985")
    assert (await cadre.tap("Tày"))[0]["text"].startswith(t("nom.position.prompt"))
    await cadre.say("Nông dân")
    assert cadre.last_buttons()[0].startswith("Thôn Đông, Phường Hoàn Kiếm")
    await cadre.tap(cadre.last_buttons()[0])
    await cadre.tap("Đời sống xã hội")
    await cadre.tap("Người tốt, việc tốt")
    await cadre.say(DESCRIPTION)
    assert (await cadre.say("hôm nay"))[0]["text"] == t("nom.photos.prompt_files")

    album = [image_bytes(c) for c in ("red", "green", "blue")]
    for data in album:
        server.send_photo(cadre.id, data, media_group_id="album-1")
    ack = (await cadre.replies())[0]
    assert ack["text"].startswith(t("photos.received", added=3, total=3))  # one acknowledgement for the album
    original = image_bytes("white", size=(400, 300), fmt="PNG")
    server.send_document(cadre.id, original, file_name="giay-khen.png", mime_type="image/png")
    assert (await cadre.replies())[0]["text"].startswith(t("photos.received", added=1, total=4))
    assert cadre.last_buttons() == [t("choice.skip"), t("photos.clear")]  # the next question's, no "Xong"
    await cadre.say("+84 912 345 678")  # answering the next question ends the photo step
    summary = (await cadre.tap("Có"))[0]["text"]
    assert "• Ảnh: 4 ảnh" in summary and "• Dân tộc: Tày" in summary
    done = (await cadre.tap(t("summary.send")))[0]
    assert done["text"].startswith("Đã gửi hồ sơ NT-2026-00001")
    await cadre.no_more_replies()

    [case] = await stored_cases(app)
    assert case.answers["ethnicity"] == "Tày" and case.answers["position"] == "Nông dân"
    assert case.movement == "Người tốt, việc tốt" and case.field == "Đời sống xã hội"
    assert case.answers["when"]["start"] == "2026-11-22" and case.answers["phone"] == "+84912345678"
    async with app.db.session() as session:
        photos = (await session.exec(select(CasePhoto).where(CasePhoto.case_id == case.id)
                                     .order_by(CasePhoto.position))).all()
        media = {m.sha256: m for m in (await session.exec(select(Media))).all()}
    expected = [hashlib.sha256(d).hexdigest() for d in album + [original]]
    assert [p.sha256 for p in photos] == expected
    assert (media[expected[3]].width, media[expected[3]].height, media[expected[3]].mime_type) == (400, 300,
                                                                                                   "image/png")
    for sha in expected:
        assert hashlib.sha256(app.media.backend.path(sha).read_bytes()).hexdigest() == sha


async def test_collective_and_household_by_typed_text_and_numbers(server, bot, app):
    await add_member(app, "1002")
    cadre = TelegramUser(server, 1002)
    for kind, name in (("tap the", "Đoàn Thanh niên thôn Đông"), ("3", "Hộ ông Trần Văn Bình")):
        await cadre.say("de cu", count=2)
        await cadre.say(kind)
        assert (await cadre.text(name)).startswith(t("nom.rep_name.prompt"))
        await cadre.say("bo qua")
        for text in ("1", "tai chinh", "khong ro", DESCRIPTION, "thang truoc"):
            await cadre.say(text)
        server.send_photo(cadre.id, image_bytes("yellow"))
        await cadre.replies()
        for text in ("xong", "bo qua"):
            await cadre.say(text)
        assert (await cadre.text("chua hoi")).startswith(t("summary.title"))
        assert (await cadre.text("1")).startswith("Đã gửi hồ sơ")
    collective, household = await stored_cases(app)
    assert (collective.kind, household.kind) == ("tap_the", "ho_gia_dinh")
    assert collective.answers["rep_name"] is None and collective.field == "Tài chính, ngân hàng"
    assert household.answers["when"] == {"start": "2026-10-01", "precision": "month", "label": "tháng 10/2026"}


async def test_bad_input_over_telegram_keeps_the_draft(server, bot, app):
    await add_member(app, "1003")
    cadre = TelegramUser(server, 1003)
    await cadre.say("/decu", count=2)
    await cadre.say("ca nhan")
    sent = server.send_text(cadre.id, "Lê Văn Cường")
    await cadre.replies()
    for push, what in ((server.send_sticker, "sticker"), (server.send_voice, "voice"),
                       (server.send_location, "location"), (server.send_contact, "contact")):
        push(cadre.id)
        unsupported, prompt = await cadre.replies(2)
        assert unsupported["text"] == t("input.unsupported", what=t(f"input.unsupported.{what}"))
        assert prompt["text"].startswith(t("nom.birth_year.prompt"))
    server.edit_text(cadre.id, sent["message"]["message_id"], "Lê Văn Dũng")
    assert (await cadre.replies())[0]["text"] == t("input.edited")
    assert (await cadre.text("3000")) == t("invalid.year.range", min=1900, max=2026)
    server.send_photo(cadre.id, image_bytes())
    assert [m["text"] for m in await cadre.replies(2)][0] == t("input.need_text")
    await cadre.say("không rõ")
    await cadre.tap("Kinh")
    for text in ("khong co", "1", "3", "1", DESCRIPTION, "10/2026"):
        await cadre.say(text)
    assert (await cadre.text("xong")) == t("photos.need_one")
    assert (await cadre.text("anh day")) == t("photos.need_photo_files")
    server.send_document(cadre.id, b"%PDF-1.7 not a photo", file_name="quyet-dinh.pdf", mime_type="application/pdf")
    assert (await cadre.replies())[0]["text"] == t("photos.not_image", name="quyet-dinh.pdf")
    server.send_document(cadre.id, b"\xff\xd8\xff\xe0 broken", file_name="anh.jpg", mime_type="image/jpeg")
    assert (await cadre.replies())[0]["text"] == t("photos.not_image", name="anh.jpg")
    server.send_document(cadre.id, image_bytes(), file_name="rat-to.jpg", mime_type="image/jpeg",
                         file_size=25 * 1024 * 1024)
    assert (await cadre.replies())[0]["text"] == t("photos.too_big", name="rat-to.jpg")
    colours = ["red", "green", "blue", "white", "black", "yellow", "purple", "orange", "pink", "gray", "brown"]
    for i, colour in enumerate(colours[:10]):
        server.send_photo(cadre.id, image_bytes(colour), media_group_id="big" if i < 9 else None)
    await cadre.replies(2)  # an album of nine, then one more photo
    server.send_photo(cadre.id, image_bytes(colours[10]))
    assert (await cadre.replies())[0]["text"].startswith(t("photos.full", dropped=1))

    async with app.db.session() as session:
        account = await repo.account_of(session, "telegram", "1003")
        state = (await repo.conversation_of(session, account.person_id)).state
    assert state["answers"]["name"] == "Lê Văn Cường" and state["answers"]["birth_year"] is None
    assert len(state["answers"]["photos"]) == 10 and state["step"] == "photos"


async def test_access_without_a_valid_invitation(server, bot, app, clock):
    stranger = TelegramUser(server, 2001)
    assert await stranger.text("/decu") == t("access.unregistered")
    assert await stranger.text("xin chào") == t("access.unregistered")
    assert await stranger.text("/start") == t("access.unregistered")
    assert await stranger.text("/start khong-phai-ma-moi") == t("invite.unknown")

    code = await new_invite(app)
    assert (await TelegramUser(server, 2002).text(f"/start {code}")).startswith("Chào mừng")
    assert await stranger.text(f"/start {code}") == t("invite.used")

    old = await new_invite(app)
    clock.advance(days=15)
    assert await stranger.text(f"/start {old}") == t("invite.expired")
    assert await stranger.text("/hoso") == t("access.unregistered")


async def test_a_cadre_cannot_see_another_villages_case(server, bot, app):
    await add_member(app, "3001", village="Thôn Đông")
    await add_member(app, "3002", village="Thôn Tây")
    await add_member(app, "3003", village="Thôn Đông")
    author = TelegramUser(server, 3001)
    await author.say("/decu", count=2)
    for text in ("1", "Phạm Văn Em", "1990", "kinh", "bo qua", "1", "1", "1", DESCRIPTION, "hom nay"):
        await author.say(text)
    server.send_photo(author.id, image_bytes())
    await author.replies()
    for text in ("xong", "bo qua", "co", "gui"):
        await author.say(text)
    [case] = await stored_cases(app)
    other_village = TelegramUser(server, 3002)
    refused = await other_village.text(f"/trangthai {case.code}")
    missing = await other_village.text("/trangthai NT-2026-09999")
    assert refused == t("case.not_found", code=case.code)
    assert missing == t("case.not_found", code="NT-2026-09999")  # the same answer: existence not revealed
    same_village = TelegramUser(server, 3003)
    assert (await same_village.text(f"/trangthai {case.code}")).startswith(f"Hồ sơ {case.code}")


async def test_longest_answers_reach_the_summary_whole(server, bot, app):
    await add_member(app, "4001")
    cadre = TelegramUser(server, 4001)
    await cadre.say("/decu", count=2)
    story = ("Anh Hùng đã dành dụm tiền làm cầu tre cho trẻ em đi học qua suối. " * 60)[:3000].strip()
    answers = ("1", ("Vũ Văn Hùng " * 20)[:200].strip(), "1990", "kinh", ("Trưởng ban công tác mặt trận " * 8)[:200],
               ("Xóm Suối, thôn Đông " * 20)[:300].strip(), "1", "1", story, "hom nay")
    for text in answers:
        await cadre.say(text)
    server.send_photo(cadre.id, image_bytes())
    await cadre.replies()
    for text in ("xong", "bo qua"):
        await cadre.say(text)
    server.send_text(cadre.id, "co")
    await server.wait_for(lambda: bool(cadre.last_buttons() == [t("summary.send"), t("summary.edit"),
                                                                t("summary.cancel")]), what="the summary")
    parts = [m["text"] for m in server.sent_messages(cadre.id)[cadre.seen:]]
    summary = "\n".join(parts)
    assert all(len(p) <= 4096 for p in parts)  # the fake server also refuses longer texts
    assert story in summary and answers[1] in summary and summary.endswith(t("summary.question"))

@pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals")
async def test_a_new_bot_process_continues_the_conversation_after_a_crash(server, app, settings, tmp_path):
    from tests.bot_process import BotProcess

    await add_member(app, "5001")
    cadre = TelegramUser(server, 5001)
    first = await BotProcess(settings, server, tmp_path, LOG_LEVEL="WARNING").start()
    try:
        await cadre.say("/decu", count=2)
        for text in ("ca nhan", "Đỗ Thị Hoa", "1972", "kinh", "giao vien", "1", "7", "khong ro", DESCRIPTION,
                     "15/11/2026"):
            await cadre.say(text)
        server.send_photo(cadre.id, image_bytes("red"), media_group_id="a1")
        server.send_photo(cadre.id, image_bytes("blue"), media_group_id="a1")
        assert (await cadre.replies())[0]["text"].startswith(t("photos.received", added=2, total=2))
    finally:
        first.kill()  # a crash: nothing is flushed, nothing said goodbye

    second = await BotProcess(settings, server, tmp_path, LOG_LEVEL="WARNING").start()
    try:
        server.send_photo(cadre.id, image_bytes("green"))
        reply = (await cadre.replies())[0]["text"]
        if reply.startswith(t("photos.received", added=2, total=2)):  # sent just before the kill, not yet marked sent
            reply = (await cadre.replies())[0]["text"]
        assert reply.startswith(t("photos.received", added=1, total=3))
        for text in ("xong", "0987654321"):
            await cadre.say(text)
        summary = await cadre.text("khong")
        assert "• Tên: Đỗ Thị Hoa" in summary and "• Ảnh: 3 ảnh" in summary and "• Năm sinh: 1972" in summary
        assert (await cadre.text("gui")).startswith("Đã gửi hồ sơ NT-2026-00001")
    finally:
        assert await second.terminate(within=15) == 0
    [case] = await stored_cases(app)
    assert case.answers["photo_count"] == 3 and case.answers["position"] == "giao vien"
    assert case.commune_code == COMMUNE_A


async def test_an_invite_link_is_drawn_by_the_channel_with_the_bots_own_name(server, bot, app):
    from storage.models import Role
    from tests.conftest import add_member

    await add_member(app, "7001", role=Role.SECRETARY, village="Thôn Đông")
    secretary = TelegramUser(server, 7001)
    text = (await secretary.say("/moi canbo Thôn Đông"))[0]["text"]
    code = text.split("): ", 1)[1].split("\n", 1)[0]
    assert text.endswith(f"https://t.me/{server.bot_username}?start={code}")  # asked with getMe, not configured


async def test_the_core_knows_only_the_invite_code(app):
    from bot.channels.terminal import render
    from storage.models import Role
    from tests.chat import Chat
    from tests.conftest import add_member

    await add_member(app, "s1", role=Role.SECRETARY, village="Thôn Đông")
    [reply] = await Chat(app.core, "s1").say("/moi canbo Thôn Đông")
    assert reply.invite and reply.invite in reply.text and "t.me" not in reply.text
    assert render(reply).endswith(t("invite.send_code", code=reply.invite))


async def test_a_cases_good_photos_are_sent_even_if_one_cannot_be_drawn(server, bot, app):
    from datetime import datetime

    from storage import repo
    from storage.models import Case, Role
    from tests.chat import image_bytes
    from tests.conftest import ZONE, add_member

    secretary_id = await add_member(app, "7002", role=Role.SECRETARY, village="Thôn Đông")
    good = [await app.core.media.save(image_bytes(color)) for color in ("red", "blue")]
    missing = "f" * 64  # recorded, but its file is gone from the media store
    when = datetime(2026, 11, 1, 10, tzinfo=ZONE)
    async with app.db.session() as session:
        for info in good:
            await repo.record_media(session, [info.row()], when)
        await repo.record_media(session, [{"sha256": missing, "size": 1, "width": 1, "height": 1,
                                           "mime_type": "image/jpeg"}], when)
        case = Case(code="NT-2026-00777", commune_code="00070", nominator_id=secretary_id, status="submitted",
                    kind="ca_nhan", name="Người tốt", name_key="nguoi tot", answers={"kind": "ca_nhan",
                                                                                      "name": "Người tốt"},
                    submitted_at=when, updated_at=when)
        await repo.add_case(session, case, [good[0].sha256, missing, good[1].sha256], secretary_id)
    secretary = TelegramUser(server, 7002)
    await secretary.say("/choduyet")
    await secretary.tap("NT-2026-00777 – Người tốt")
    albums = server.calls_named("sendMediaGroup")
    assert albums and len(albums[-1].params["media"]) == 2  # the two good ones, the missing one left out


async def test_blocking_the_bot_marks_the_person_unreachable_at_once_and_unblocking_clears_it(server, bot, app):
    import time

    from storage import repo
    from tests.conftest import add_member

    await add_member(app, "7003")

    def member_update(old: str, new: str) -> dict:
        def member(status: str) -> dict:  # ChatMemberBanned carries until_date (0: for ever)
            return {"status": status, "user": server.bot_user, **({"until_date": 0} if status == "kicked" else {})}

        return {"my_chat_member": {"chat": {"id": 7003, "type": "private", "first_name": "Test"},
                                   "from": server.user(7003), "date": int(time.time()),
                                   "old_chat_member": member(old), "new_chat_member": member(new)}}

    async def unreachable() -> bool:
        async with app.db.session() as session:
            return (await repo.account_of(session, "telegram", "7003")).unreachable_at is not None

    server.push_update(member_update("member", "kicked"))
    await wait_until(unreachable)
    server.push_update(member_update("kicked", "member"))

    async def reachable() -> bool:
        return not await unreachable()

    await wait_until(reachable)


async def wait_until(condition, seconds: float = 5.0) -> None:
    """Wait for a condition on the database (another task writes it; nothing to await), failing after `seconds`."""

    async with asyncio.timeout(seconds):
        while not await condition():  # noqa: ASYNC110 - the state is in the database, not an event
            await asyncio.sleep(0.02)
