"""What a new user's walk found (the tenth session's), each answered as a person would expect."""

from __future__ import annotations

from sqlmodel import select

from common.messages import t
from storage.models import Outbox
from tests.chat import Chat, image_bytes
from tests.conftest import add_member
from tests.test_nomination import answer_until_photos
from tests.test_review import add_case, world  # noqa: F401  (a fixture)


async def test_a_name_needs_letters_and_an_address_is_not_skipped(app):
    await add_member(app, "w1")
    chat = Chat(app.core, "w1")
    for text in ("/decu", "ca nhan"):
        await chat.say(text)
    assert (await chat.say("🙂🙂🙂"))[0].text == t("invalid.name.letters")  # it would be printed on a certificate
    assert (await chat.say("12"))[0].text == t("invalid.name.letters")
    for text in ("Nguyễn Văn An", "1968", "kinh", "khong co"):
        await chat.say(text)
    assert (await chat.say("bo qua"))[0].text == t("invalid.address.required")
    assert (await chat.say("Thôn Nam"))[0].text.startswith(t("nom.field.prompt"))


async def test_the_not_understood_reply_names_what_the_person_can_do(app, world):  # noqa: F811  (the fixture)
    assert (await Chat(app.core, "a3").say("xin chao"))[0].text == t("unknown.text", hint=t("hint.secretary"))
    assert (await Chat(app.core, "a4").say("xin chao"))[0].text == t("unknown.text", hint=t("hint.official"))
    assert (await Chat(app.core, "a1").say("xin chao"))[0].text == t("unknown.text", hint=t("hint.cadre"))
    assert "/decu" not in t("hint.secretary") + t("hint.official")


async def test_a_reminder_hour_out_of_range_says_which_hours_there_are(app):
    await add_member(app, "w2")
    chat = Chat(app.core, "w2")
    for typed in ("/nhacnho gio 25", "/nhacnho gio 9h30", "/nhacnho gio"):
        assert (await chat.say(typed))[0].text == t("nhacnho.bad_hour", hours="7, 8, 9, 13, 14, 17"), typed
    for typed, hour in (("/nhacnho gio 7h", 7), ("/nhacnho gio 13h", 13), ("/nhacnho gio 8 giờ", 8),
                        ("/nhacnho gio 17:00", 17), ("/nhacnho 9 gio", 9), ("/nhacnho 14", 14)):
        assert (await chat.say(typed))[0].text == t("nhacnho.hour_set", hour=hour), typed
    replies = await chat.press("pref:draft:snooze")
    labels = [c.label for c in replies[-1].choices]
    assert t("nhacnho.resume", kind=t("nhacnho.kind.draft")) in labels  # a pause can be undone at once
    replies = await chat.press("pref:draft:on")
    assert t("nhacnho.snooze", kind=t("nhacnho.kind.draft")) in [c.label for c in replies[-1].choices]


async def test_sua_alone_opens_the_one_case_to_fix_or_offers_the_choice(app, world):  # noqa: F811  (the fixture)
    people, _ = world
    cadre = Chat(app.core, "a1")
    assert (await cadre.say("/sua"))[0].text == t("fix.none")
    await add_case(app, "NT-2026-00071", nominator=people["cadre_a"], status="returned")
    assert (await cadre.say("/sua"))[0].text.startswith(t("fix.start", code="NT-2026-00071", reason="—",
                                                          fields=t("fix.any_field"))[:40])
    assert (await cadre.say("/huy"))[0].text == t("cancel.confirm_fix")  # the case stays; the changes go
    assert (await cadre.say("co"))[0].text == t("cancel.done_fix")
    await add_case(app, "NT-2026-00072", nominator=people["cadre_a"], status="returned")
    which = (await cadre.say("/sua"))[0]
    assert which.text == t("fix.which") and [c.label.split(" –")[0] for c in which.choices] == [
        "NT-2026-00071", "NT-2026-00072"]
    approved = await add_case(app, "NT-2026-00073", nominator=people["cadre_a"], status="approved")
    assert (await cadre.press(f"fix:{approved.id}"))[0].text == t("fix.not_returned", code="NT-2026-00073")


async def test_a_case_commended_twice_is_told_so(app, world):  # noqa: F811  (the fixture)
    people, _ = world
    case = await add_case(app, "NT-2026-00081", nominator=people["cadre_a"], status="approved")
    secretary = Chat(app.core, "a3")
    command = f"/khenthuong {case.code} Giấy khen; 1/QĐ; 1/11/2026"  # ";" is on a phone's first symbols page
    assert (await secretary.say(command))[0].text == t("review.done.commend", code=case.code)
    assert (await secretary.say(command))[0].text == t("commend.already", code=case.code)


async def test_a_web_sign_in_with_a_link_code_is_told_on_the_channel_that_asked_for_it(app, web_service):
    await add_member(app, "w3")
    asked = await Chat(app.core, "w3").say("/lienket")
    code = next(word for word in asked[0].text.split() if word.startswith("LK-"))
    await web_service.access.sign_in(code.lower(), "")  # typed as a phone would
    async with app.db.session() as session:
        told = (await session.exec(select(Outbox).where(Outbox.chat_id == "w3", Outbox.kind == "linked"))).all()
    assert len(told) == 1 and t("channel.web") in told[0].payload["text"]


async def test_a_return_once_decided_leaves_no_numbered_list_behind(app, world):  # noqa: F811  (the fixture)
    """On Zalo the fields to flag are a numbered list: once the reason is given, a "1" no longer flags one."""
    _, case = world
    await add_member(app, "z3", role="secretary", village=None, channel="zalo")
    secretary = Chat(app.core, "z3", channel="zalo")
    asked = await secretary.press(f"rv:ret:{case.id}")
    assert asked[0].text == t("review.ask_return", code=case.code)
    assert "Tên" in (await secretary.say("2"))[0].text  # a number flags a field while the question stands
    assert (await secretary.say("15"))[0].text == t("review.reason_number")  # not a reason: a number off the list
    assert (await secretary.say("Cần bổ sung ảnh giấy khen."))[0].text == t("review.done.return", code=case.code)
    assert (await secretary.say("1"))[0].text == t("unknown.text", hint=t("hint.secretary"))


async def test_one_typed_digit_does_not_delete_every_photo(app):
    """On Zalo the photo step's list ends with "Xóa hết ảnh": typing its number asks before deleting."""
    await add_member(app, "z4", channel="zalo")
    chat = Chat(app.core, "z4", channel="zalo")
    await answer_until_photos(chat)
    ack = (await chat.photos(image_bytes("red"), image_bytes("blue")))[0]
    clear = [c.label for c in ack.choices].index(t("photos.clear")) + 1
    assert (await chat.say(str(clear)))[0].text == t("photos.clear_confirm", total=2)
    kept = (await chat.say("2"))[0]  # "Không, giữ ảnh": and the question after the photos again, with its buttons
    assert kept.text.startswith(t("photos.kept")) and kept.text.endswith(t("nom.phone.prompt"))
    await chat.say(str(clear))
    assert (await chat.say("1"))[0].text == t("photos.cleared")
    assert (await chat.say(str(clear)))[0].text == t("photos.need_photo")  # none left: nothing to ask about
    assert (await chat.press("photos:_clear"))[0].text == t("photos.none_to_clear")  # an old button


async def test_a_commune_official_asking_for_the_province_is_told_what_they_can_see(app, world):  # noqa: F811
    reply = (await Chat(app.core, "a4").say("/thongke tinh"))[0].text
    assert reply == t("stats.scope_not_yours", scopes="Phường Hoàn Kiếm")


async def test_a_case_code_typed_alone_names_the_case_and_a_reviewer_can_open_it(app, world):  # noqa: F811
    _, case = world
    secretary = Chat(app.core, "a3")
    [named] = await secretary.say(case.code.lower())
    assert named.text.startswith(f"Hồ sơ {case.code}") and [c.label for c in named.choices] == [t("case.open_review")]
    opened = await secretary.press(named.choices[0].value)
    assert t("review.return") in [c.label for c in opened[-1].choices]
    [cadre_view] = await Chat(app.core, "a1").say(case.code)  # the nominator sees it, without review actions
    assert cadre_view.text.startswith(f"Hồ sơ {case.code}") and not cadre_view.choices
