"""The nomination conversation, driven through the core (the service layer), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

from sqlmodel import select

from common.events import InboundKind
from common.messages import t
from storage import repo
from storage.models import Case, CaseEvent, CasePhoto, Media
from tests.chat import Chat, image_bytes
from tests.conftest import add_member

DESCRIPTION = "Ông An đã cứu hai em nhỏ bị đuối nước ở sông Hồng chiều 15/10."


async def cadre_chat(app, user_id: str = "501", **kw) -> Chat:
    await add_member(app, user_id, **kw)
    return Chat(app.core, user_id)


async def answer_until_photos(chat: Chat, name: str = "Nguyen Van An") -> None:
    """An individual nomination typed without diacritics, up to the photo step."""
    for text in ("/decu", "ca nhan", name, "1968", "kinh", "khong co", "1", "nong nghiep",
                 "khong ro", DESCRIPTION, "15/10/2026"):
        await chat.say(text)
    assert chat.last == t("nom.photos.prompt_files" if chat.channel == "telegram" else "nom.photos.prompt")


async def state_of(app, person_user: str) -> dict:
    async with app.db.session() as session:
        account = await repo.account_of(session, "telegram", person_user)
        conversation = await repo.conversation_of(session, account.person_id)
        return conversation.state if conversation else {}


async def cases(app) -> list[Case]:
    async with app.db.session() as session:
        return list((await session.exec(select(Case))).all())


async def test_individual_nomination_typed_without_diacritics(app, settings):
    chat = await cadre_chat(app)
    await answer_until_photos(chat)
    red, blue = image_bytes("red"), image_bytes("blue", fmt="PNG")
    replies = await chat.photos(red, blue)
    assert chat.texts(replies).startswith(t("photos.received", added=2, total=2))
    await chat.say("xong")
    await chat.say("0912.345.678")
    await chat.say("CÓ")
    assert chat.last.startswith(t("summary.title"))
    assert "• Dân tộc: Kinh" in chat.last and "• Lĩnh vực: Nông nghiệp" in chat.last
    assert "• Thời gian: 15/10/2026" in chat.last and "2 ảnh" in chat.last
    replies = await chat.say("gui")
    assert "NT-2026-00001" in replies[0].text
    assert replies[0].menu  # back to the main menu

    [case] = await cases(app)
    assert (case.code, case.status, case.kind, case.name) == ("NT-2026-00001", "submitted", "ca_nhan",
                                                             "Nguyen Van An")
    assert case.answers["birth_year"] == 1968 and case.answers["ethnicity"] == "Kinh"
    assert case.answers["phone"] == "+84912345678" and case.answers["consent"] == "yes"
    assert case.answers["when"] == {"start": "2026-10-15", "precision": "day", "label": "15/10/2026"}
    assert case.answers["address"].startswith("Thôn Đông, Phường Hoàn Kiếm")
    assert case.answers["description"] == DESCRIPTION and case.movement == "" and case.answers["movement"] is None
    async with app.db.session() as session:
        photos = (await session.exec(select(CasePhoto).where(CasePhoto.case_id == case.id))).all()
        events = (await session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))).all()
        stored = {m.sha256: m for m in (await session.exec(select(Media))).all()}
        assert await repo.conversation_of(session, case.nominator_id) is None
    assert [p.sha256 for p in photos] == [hashlib.sha256(red).hexdigest(), hashlib.sha256(blue).hexdigest()]
    assert stored[photos[1].sha256].mime_type == "image/png" and stored[photos[1].sha256].width == 64
    for photo in photos:
        path = app.media.backend.path(photo.sha256)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == photo.sha256
    assert [(e.from_status, e.to_status) for e in events] == [(None, "submitted")]


async def test_collective_and_household_ask_for_a_representative(app):
    chat = await cadre_chat(app)
    for kind, name in (("tap the", "Chi hoi Phu nu thon Dong"), ("3", "Tran Thi Binh")):
        await chat.say("/decu")
        await chat.say(kind)
        await chat.say(name)
        assert chat.last.startswith(t("nom.rep_name.prompt"))
        await chat.say("Le Thi Hoa")
        assert chat.last.startswith(t("nom.rep_role.prompt"))
        await chat.say("Chi hoi truong")
        await chat.press("address:home")  # the cadre's own village, one tap
        for text in ("7", "Toàn dân đoàn kết xây dựng đời sống văn hóa", DESCRIPTION, "thang 9/2026"):
            await chat.say(text)
        await chat.photos(image_bytes("green"))
        await chat.press("photos:_done")
        await chat.press("phone:_skip")
        await chat.press("consent:not_asked")
        assert "Năm sinh" not in chat.last and "• Người đại diện: Le Thi Hoa" in chat.last
        await chat.press("summary:send")
    first, second = sorted(await cases(app), key=lambda c: c.code)
    assert (first.kind, second.kind) == ("tap_the", "ho_gia_dinh")
    assert first.movement == "Toàn dân đoàn kết xây dựng đời sống văn hóa"
    assert first.field == "Giáo dục và đào tạo" and first.answers["phone"] is None
    assert "birth_year" not in first.answers and first.answers["rep_role"] == "Chi hoi truong"
    assert first.answers["when"]["precision"] == "month"


async def test_choices_by_number_label_or_button_are_the_same(app):
    for i, (how, value) in enumerate((("say", "2"), ("say", "TẬP THỂ"), ("say", "tap the"), ("press", "kind:tap_the"))):
        chat = await cadre_chat(app, user_id=str(600 + i))
        await chat.say("/decu")
        await (chat.say(value) if how == "say" else chat.press(value))
        assert (await state_of(app, chat.user_id))["answers"]["kind"] == "tap_the", value


async def test_bad_answers_get_a_clear_reply_and_lose_nothing(app):
    chat = await cadre_chat(app)
    await chat.say("/decu")
    await chat.say("ca nhan")
    await chat.say("Nguyen Van An")
    before = await state_of(app, chat.user_id)
    bad = [
        ("1850", t("invalid.year.range", min=1900, max=2026)),
        ("2027", t("invalid.year.range", min=1900, max=2026)),
        ("68", t("invalid.year.format")),
    ]
    for text, expected in bad:
        replies = await chat.say(text)
        assert replies[0].text == expected
        assert await state_of(app, chat.user_id) == before
    replies = await chat.send(InboundKind.UNSUPPORTED, unsupported="sticker")
    assert replies[0].text == t("input.unsupported", what=t("input.unsupported.sticker"))
    replies = await chat.send(InboundKind.UNSUPPORTED, unsupported="voice")
    assert t("input.unsupported.voice") in replies[0].text
    replies = await chat.photos(image_bytes())
    assert replies[0].text == t("input.need_text")
    replies = await chat.send(InboundKind.EDITED, text="1970")
    assert replies[0].text == t("input.edited")
    assert await state_of(app, chat.user_id) == before

    await chat.say("1968")
    replies = await chat.say("Người sao Hỏa")
    assert replies[0].text.startswith("Bot không tìm thấy dân tộc")
    await chat.say("e de")
    assert (await state_of(app, chat.user_id))["answers"]["ethnicity"] == "Ê Đê"
    for text in ("nong dan", "12 Hang Bac"):
        await chat.say(text)
    replies = await chat.say("linh vuc la gi")
    assert replies[0].text == t("invalid.choice.unknown", count=14)
    await chat.say("14")
    await chat.say("khong ro")
    replies = await chat.say("tốt lắm")
    assert replies[0].text == t("invalid.text.too_short", min=20, length=7)
    replies = await chat.say("x" * 3001)
    assert replies[0].text == t("invalid.text.too_long", max=3000, length=3001)
    await chat.say(DESCRIPTION)
    for text, key in (("ngay mai", "invalid.when.format"), ("30/02/2026", "invalid.when.invalid_date"),
                      ("25/12/2026", "invalid.when.future")):
        replies = await chat.say(text)
        assert replies[0].text == t(key), text
    await chat.say("hom qua")
    state = await state_of(app, chat.user_id)
    assert state["answers"]["when"]["start"] == "2026-11-21"
    assert state["answers"]["description"] == DESCRIPTION and state["answers"]["field"] == "Đời sống xã hội"


async def test_only_a_channel_that_shrinks_photos_suggests_sending_them_as_files(app):
    """Zalo delivers no files to a bot, so its cadre is never told to send a photo as one."""
    await add_member(app, "z501", channel="zalo")
    chat = Chat(app.core, "z501", channel="zalo")
    await answer_until_photos(chat)
    assert "tệp" not in chat.last
    assert (await chat.say("day la anh"))[0].text == t("photos.need_photo")


async def test_photo_step_rules(app, settings):
    chat = await cadre_chat(app)
    await answer_until_photos(chat)
    replies = await chat.say("xong")
    assert replies[0].text == t("photos.need_one")
    replies = await chat.say("day la anh")
    assert replies[0].text == t("photos.need_photo_files")
    replies = await chat.photos(b"hello, not an image", kind="document", names=("baocao.jpg",),
                                mime="image/jpeg")
    assert replies[0].text == t("photos.not_image", name="baocao.jpg")
    replies = await chat.photos(b"%PDF-1.4", kind="document", names=("giaykhen.pdf",), mime="application/pdf")
    assert replies[0].text == t("photos.not_image", name="giaykhen.pdf")
    replies = await chat.photos(image_bytes(), kind="document", names=("to.jpg",), sizes=(25 * 1024 * 1024,))
    assert replies[0].text == t("photos.too_big", name="to.jpg")
    app.core.conversations.max_photo_bytes = 1000  # the size that arrives counts, whatever was declared
    replies = await chat.photos(image_bytes(size=(800, 600)), kind="document", names=("lon.jpg",), sizes=(900,))
    assert replies[0].text == t("photos.too_big", name="lon.jpg")
    app.core.conversations.max_photo_bytes = settings.max_photo_bytes
    assert (await state_of(app, chat.user_id))["answers"].get("photos", []) == []
    # What decodes as an image is one, whatever type the phone declared for the file.
    replies = await chat.photos(image_bytes("navy"), kind="document", names=("IMG_0042",),
                                mime="application/octet-stream")
    assert len((await state_of(app, chat.user_id))["answers"]["photos"]) == 1
    assert (await chat.press("photos:_clear"))[0].text == t("photos.clear_confirm", total=1)  # asked first
    await chat.press("clear:yes")  # and away again, for the counts below

    colours = ["red", "green", "blue", "white", "black", "yellow", "purple", "orange", "pink", "gray", "brown"]
    images = [image_bytes(c) for c in colours]
    await chat.photos(*images[:3])
    replies = await chat.photos(images[0])
    assert replies[0].text.startswith(t("photos.duplicate", total=3))
    await chat.photos(*images[3:10])
    replies = await chat.photos(images[10])
    assert replies[0].text.startswith(t("photos.full", dropped=1))
    photos = (await state_of(app, chat.user_id))["answers"]["photos"]
    assert len(photos) == 10 and photos[0]["sha256"] == hashlib.sha256(images[0]).hexdigest()
    assert not app.media.backend.path(hashlib.sha256(b"hello, not an image").hexdigest()).exists()


async def test_failed_download_is_retried_and_never_loses_the_draft(app):
    chat = await cadre_chat(app)
    await answer_until_photos(chat)
    chat.fetch_failures = 2  # fails twice, then works: retried within the same message
    replies = await chat.photos(image_bytes())
    assert replies[0].text.startswith(t("photos.received", added=1, total=1))
    chat.fetch_failures = 10
    replies = await chat.photos(image_bytes("blue"))
    assert [r.text for r in replies] == [t("photos.fetch_failed", name="anh.jpg")]
    state = await state_of(app, chat.user_id)
    assert len(state["answers"]["photos"]) == 1 and state["answers"]["description"] == DESCRIPTION


async def test_back_cancel_help_and_resume(app):
    chat = await cadre_chat(app)
    await chat.say("/decu")
    await chat.say("ca nhan")
    await chat.say("Nguyen Van An")
    replies = await chat.say("/quaylai")
    assert replies[0].text.startswith(t("nom.name.prompt.ca_nhan"))
    assert "Hiện tại: Nguyen Van An" in replies[0].text
    await chat.say("Nguyen Van Binh")
    assert chat.last.startswith(t("nom.birth_year.prompt"))
    replies = await chat.say("/trogiup")
    assert replies[0].text == t("nom.birth_year.help")

    replies = await chat.say("/decu")  # a draft exists: continue or start over
    assert replies[0].text == t("draft.exists", name="Nguyen Van Binh", answered=2)
    replies = await chat.press("draft:continue")
    assert replies[0].text.startswith(t("nom.birth_year.prompt"))

    replies = await chat.say("/huy")
    assert replies[0].text == t("cancel.confirm")
    replies = await chat.say("khong")
    assert replies[0].text == t("cancel.kept")
    assert (await state_of(app, chat.user_id))["answers"]["name"] == "Nguyen Van Binh"
    await chat.say("/huy")
    replies = await chat.press("cancel:yes")
    assert replies[0].text == t("cancel.done")
    assert await state_of(app, chat.user_id) == {}

    replies = await chat.say("/huy")
    assert replies[0].text == t("cancel.nothing")


async def test_edit_from_the_summary_returns_to_it(app):
    chat = await cadre_chat(app)
    await answer_until_photos(chat)
    await chat.photos(image_bytes())
    for text in ("xong", "bo qua", "chua hoi"):
        await chat.say(text)
    await chat.say("sua")
    assert chat.replies[-1].text == t("summary.edit_prompt")
    await chat.say("2")  # "Tên", typed as its number in the list
    await chat.say("Nguyen Van Cuong")
    assert chat.last.startswith(t("summary.title")) and "• Tên: Nguyen Van Cuong" in chat.last
    # Changing the kind asks only what the new kind needs, then returns to the summary.
    await chat.press("summary:edit")
    await chat.press("summary:edit.kind")
    await chat.say("ho gia dinh")
    assert chat.last.startswith(t("nom.rep_name.prompt"))
    await chat.say("bo qua")
    assert chat.last.startswith(t("summary.title")) and "Năm sinh" not in chat.last
    replies = await chat.press("kind:ca_nhan")  # a button from an older question
    assert replies[0].text == t("input.stale_button")
    await chat.say("gui")
    [case] = await cases(app)
    assert case.kind == "ho_gia_dinh" and "birth_year" not in case.answers and "rep_role" not in case.answers


async def test_same_name_in_the_commune_is_flagged_before_submit(app, clock):
    first = await cadre_chat(app, "701", village="Thôn Đông")
    second = await cadre_chat(app, "702", village="Thôn Tây")
    third = await cadre_chat(app, "703", village="Thôn Nam")
    # The same name with diacritics and in capitals is the same name; a year later it is not flagged.
    for chat, name in ((first, "Nguyen Van An"), (second, "NGUYỄN VĂN AN"), (third, "nguyễn văn an")):
        if chat is third:
            clock.advance(days=366)
        await answer_until_photos(chat, name)
        await chat.photos(image_bytes())
        for text in ("xong", "bo qua"):
            await chat.say(text)
        replies = await chat.say("co")
        if chat is second:
            assert replies[0].text == t("nom.duplicate", cases="NT-2026-00001 (đã gửi)")
        else:
            assert replies[0].text.startswith(t("summary.title"))
        await chat.say("gui")
    assert [c.code for c in await cases(app)] == ["NT-2026-00001", "NT-2026-00002", "NT-2027-00001"]


async def test_my_cases_and_status(app):
    chat = await cadre_chat(app)
    replies = await chat.say("/hoso")
    assert replies[0].text == t("cases.none")
    await answer_until_photos(chat)
    await chat.photos(image_bytes())
    for text in ("xong", "bo qua", "co", "gui"):
        await chat.say(text)
    replies = await chat.say("Hồ sơ của tôi")  # the main-menu button sends its label
    assert "NT-2026-00001 – Nguyen Van An – đã gửi (22/11/2026)" in replies[0].text
    replies = await chat.say("/trangthai nt-2026-00001")
    assert "Hồ sơ NT-2026-00001" in replies[0].text and "• Ảnh: 1" in replies[0].text


async def test_the_offer_to_continue_a_draft_is_answered_by_typing(app):
    chat = await cadre_chat(app)
    for text in ("/decu", "ca nhan", "Nguyen Van Binh"):
        await chat.say(text)

    replies = await chat.say("de cu")  # the words, as on Zalo, mean /decu in a draft too
    assert replies[0].text == t("draft.exists", name="Nguyen Van Binh", answered=2)
    replies = await chat.say("lung tung")  # neither: asked again, nothing lost
    assert replies[0].text == t("choice.unknown", count=2)
    assert replies[1].text.startswith(t("draft.exists", name="Nguyen Van Binh", answered=2))
    replies = await chat.say("1")  # continue: the year of birth is asked again, not answered with "1"
    assert replies[0].text.startswith(t("nom.birth_year.prompt"))
    await chat.say("1968")
    assert (await state_of(app, chat.user_id))["answers"]["birth_year"] == 1968

    await chat.say("/decu")
    replies = await chat.say("lam moi")  # start over: a fresh draft from the first question
    assert replies[-1].text.startswith(t("nom.kind.prompt"))
    assert (await state_of(app, chat.user_id))["answers"] == {}
