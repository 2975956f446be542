"""Everything works typed (Zalo and the terminal have no buttons): a one-shot menu is answered by its number or
label, commands are accepted without their slash and as words, through the core, as the terminal chat does."""

from __future__ import annotations

from sqlmodel import select

from common.messages import t
from storage import repo
from storage.models import Case, CaseEvent, Person, ReminderSetting
from tests.chat import Chat
from tests.conftest import add_member
from tests.test_review import add_case


async def status_of(app, code: str) -> str:
    async with app.db.session() as session:
        return (await repo.case_by_code(session, code)).status


async def test_a_cadre_withdraws_by_typing_the_number_or_the_label(app):
    cadre_id = await add_member(app, "t1", channel="terminal")
    for code in ("NT-2026-00001", "NT-2026-00002"):
        await add_case(app, code, nominator=cadre_id)
    cadre = Chat(app.core, "t1", channel="terminal")
    [confirm] = await cadre.say("/rut NT-2026-00001")
    assert confirm.text == t("withdraw.confirm", code="NT-2026-00001", name="Người NT-2026-00001")
    assert (await cadre.say("1"))[0].text == t("withdraw.done", code="NT-2026-00001")
    assert await status_of(app, "NT-2026-00001") == "withdrawn"
    await cadre.say("rut NT-2026-00002")  # the command without its slash
    assert (await cadre.say("rut ho so"))[0].text == t("withdraw.done", code="NT-2026-00002")  # the label, folded
    assert (await cadre.say("1"))[0].text == t("withdraw.too_late", code="NT-2026-00002",
                                               status=t("status.withdrawn"))  # the menu stands, the case moved
    assert (await cadre.say("7"))[0].text == t("invalid.choice.unknown", count=2)  # not a choice: which there are


async def test_a_secretary_reviews_by_typing(app):
    cadre_id = await add_member(app, "t2", channel="zalo")
    await add_member(app, "t3", role="secretary", village=None, channel="zalo")
    for code in ("NT-2026-00001", "NT-2026-00002"):
        await add_case(app, code, nominator=cadre_id)
    secretary = Chat(app.core, "t3", channel="zalo")
    listing = (await secretary.say("cho duyet"))[0]  # as words
    assert listing.text.startswith(t("review.pending_title", total=2, page=1, pages=1))
    opened = (await secretary.say("2"))[0]
    assert opened.text.startswith("Hồ sơ NT-2026-00002") and [c.label for c in opened.choices] == [
        t("review.approve"), t("review.return"), t("review.reject")]
    assert (await secretary.say("duyet"))[0].text == t("review.done.approve", code="NT-2026-00002")

    await secretary.say("/choduyet")
    await secretary.say("1")
    assert (await secretary.say("Trả lại"))[0].text.startswith(t("review.ask_return", code="NT-2026-00001"))
    assert (await secretary.say("2"))[0].text == t("review.flagged", fields="Tên")  # the second field: the name
    assert (await secretary.say("ok"))[0].text == t("review.reason_short", min=5)  # other words: the reason
    done = (await secretary.say("Sửa tên cho đúng căn cước"))[0].text  # "sửa" is a command, not here
    assert done == t("review.done.return", code="NT-2026-00001")
    async with app.db.session() as session:
        event = (await session.exec(select(CaseEvent).where(CaseEvent.to_status == "returned"))).one()
    assert event.reason == "Sửa tên cho đúng căn cước" and event.details == {"fields": ["name"]}


async def test_a_conversation_answers_its_own_numbers_and_drops_the_last_menu(app):
    await add_member(app, "t4", channel="zalo")
    cadre = Chat(app.core, "t4", channel="zalo")
    await cadre.say("/nhacnho")  # a one-shot menu …
    await cadre.say("de cu")  # … then the conversation: its questions take the numbers
    assert (await cadre.say("2"))[0].text == t("nom.name.prompt.tap_the")
    async with app.db.session() as session:
        assert (await repo.account_of(session, "zalo", "t4")).menu is None


async def test_a_menu_lapses_after_a_day(app, clock):
    await add_member(app, "t5", channel="zalo")
    cadre = Chat(app.core, "t5", channel="zalo")
    await cadre.say("nhac nho")
    clock.advance(hours=25)
    assert (await cadre.say("1"))[0].text == t("unknown.text", hint=t("hint.cadre"))
    async with app.db.session() as session:
        assert not (await session.exec(select(ReminderSetting))).all()


async def test_commands_without_the_slash_take_their_arguments(app):
    cadre_id = await add_member(app, "t6", channel="zalo")
    await add_case(app, "NT-2026-00007", nominator=cadre_id)
    cadre = Chat(app.core, "t6", channel="zalo")
    assert (await cadre.say("trangthai NT-2026-00007"))[0].text.startswith("Hồ sơ NT-2026-00007")
    assert (await cadre.say("xem ho so nt-2026-00007"))[0].text.startswith("Hồ sơ NT-2026-00007")
    assert (await cadre.say("Hồ sơ"))[0].text.startswith(t("cases.title", count=1))


async def test_a_person_links_zalo_with_a_one_time_code(app, clock):
    person_id = await add_member(app, "900", name="Chị Lan")  # registered on Telegram
    telegram = Chat(app.core, "900", channel="telegram")
    await telegram.say("/decu")
    await telegram.say("1")  # a draft, started on Telegram
    code = (await telegram.say("/lienket"))[0].text.split(": ", 1)[1].split(" ", 1)[0]
    assert code.startswith("LK-")

    zalo = Chat(app.core, "z-900", channel="zalo")
    assert (await telegram.say(code))[0].text == t("link.same_channel")
    done = (await zalo.say(code.lower().replace("-", " ")))[0]  # typed loosely
    assert done.text.startswith(t("link.done", channel="Zalo", name="Chị Lan"))
    assert t("draft.pending_hint") in done.text and done.menu  # the cadre's menu, on Zalo
    assert (await zalo.say(code))[0].text == t("link.used")
    async with app.db.session() as session:
        accounts = await repo.accounts_of_person(session, person_id)
        person = await session.get(Person, person_id)
    assert sorted(a.channel for a in accounts) == ["telegram", "zalo"] and person.last_channel == "zalo"
    # One draft whatever the channel: Zalo answers the question Telegram asked.
    await zalo.say("/decu")
    assert (await zalo.say("1"))[0].text.startswith(t("nom.name.prompt.ca_nhan"))

    old = (await telegram.say("/lienket"))[0].text.split(": ", 1)[1].split(" ", 1)[0]
    clock.advance(minutes=31)
    assert (await Chat(app.core, "z-other", channel="zalo").say(old))[0].text == t("link.expired", minutes=30)
    assert (await Chat(app.core, "z-other", channel="zalo").say("LK-2222-2222"))[0].text == t("link.unknown")


async def test_an_account_with_roles_of_its_own_is_not_taken_over(app):
    await add_member(app, "901")
    await add_member(app, "z-901", channel="zalo", village="Thôn Tây")
    code = (await Chat(app.core, "901").say("/lienket"))[0].text.split(": ", 1)[1].split(" ", 1)[0]
    assert (await Chat(app.core, "z-901", channel="zalo").say(code))[0].text == t("link.taken", channel="Zalo")
    async with app.db.session() as session:
        assert (await session.exec(select(Case))).all() == []
        assert len(await repo.accounts_of_person(session, (await repo.account_of(session, "zalo", "z-901"))
                                                 .person_id)) == 1



async def test_a_draft_takes_words_that_start_like_commands_as_answers(app):
    await add_member(app, "t7", channel="zalo")
    cadre = Chat(app.core, "t7", channel="zalo")
    await cadre.say("de cu")
    await cadre.say("1")
    assert (await cadre.say("Đề cử Lan"))[0].text.startswith(t("nom.birth_year.prompt"))  # a name, not /decu
    assert (await cadre.say("de cu"))[0].text.startswith(t("draft.exists", name="Đề cử Lan", answered=2))


async def test_list_pages_are_turned_by_typing(app):
    cadre_id = await add_member(app, "t8", channel="zalo")
    for number in range(1, 13):
        await add_case(app, f"NT-2026-{number:05d}", nominator=cadre_id)
    cadre = Chat(app.core, "t8", channel="zalo")
    first = (await cadre.say("danh sach"))[0]
    assert first.text.startswith(t("list.title", total=12, page=1, pages=2))
    assert (await cadre.say("trang sau"))[0].text.startswith(t("list.title", total=12, page=2, pages=2))
    assert (await cadre.say("1"))[0].text.startswith(t("list.title", total=12, page=1, pages=2))  # "◀️ Trang trước"
