"""Review, scope, lists and numbers through the core: two communes in two provinces."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bot.app import build_app
from common.messages import t
from scheduler.outbox import OutboxSender
from storage.models import Case, CaseEvent, Outbox, Unit
from tests.chat import Chat
from tests.conftest import COMMUNE_A, COMMUNE_B, ZONE, add_member

SEEN, HIDDEN = True, False


async def add_case(app, code: str, *, commune: str = COMMUNE_A, village: str = "Thôn Đông", status="submitted",
                   nominator: int, field: str = "Y tế", when: datetime | None = None) -> Case:
    when = when or datetime(2026, 11, 1, 10, tzinfo=ZONE)
    async with app.db.session() as session:
        unit = (await session.exec(select(Unit).where(Unit.commune_code == commune, Unit.name == village))).first()
        case = Case(code=code, commune_code=commune, unit_id=unit.id if unit else None, nominator_id=nominator,
                    status=status, kind="ca_nhan", name=f"Người {code}", name_key=f"nguoi {code.lower()}",
                    field=field, answers={"kind": "ca_nhan", "name": f"Người {code}", "field": field},
                    submitted_at=when, updated_at=when)
        session.add(case)
    return case


@pytest.fixture
async def world(app):
    """Hoàn Kiếm (Hà Nội) and Bến Thành (Hồ Chí Minh): cadres, secretaries, officials of both levels."""
    people = {
        "cadre_a": await add_member(app, "a1", village="Thôn Đông"),
        "cadre_a_other": await add_member(app, "a2", village="Thôn Tây"),
        "secretary_a": await add_member(app, "a3", role="secretary", village=None),
        "official_a": await add_member(app, "a4", role="official", village=None),
        "province_a": await add_member(app, "a5", role="official", village=None, province="01"),
        "cadre_b": await add_member(app, "b1", commune=COMMUNE_B, village="Khu phố 1"),
        "secretary_b": await add_member(app, "b3", role="secretary", commune=COMMUNE_B, village=None),
        "province_b": await add_member(app, "b5", role="official", commune=COMMUNE_B, village=None, province="79"),
    }
    case = await add_case(app, "NT-2025-00901", nominator=people["cadre_a"])  # outside the counter's numbers
    return people, case


CHATS = {"cadre_a": "a1", "cadre_a_other": "a2", "secretary_a": "a3", "official_a": "a4", "province_a": "a5",
         "cadre_b": "b1", "secretary_b": "b3", "province_b": "b5"}


@pytest.mark.parametrize("who, sees", [
    ("cadre_a", SEEN), ("cadre_a_other", HIDDEN), ("secretary_a", SEEN), ("official_a", SEEN),
    ("province_a", SEEN), ("cadre_b", HIDDEN), ("secretary_b", HIDDEN), ("province_b", HIDDEN)])
async def test_who_sees_a_case(app, world, who, sees):
    _, case = world
    chat = Chat(app.core, CHATS[who])
    status = (await chat.say(f"/trangthai {case.code}"))[0].text
    assert status.startswith(f"Hồ sơ {case.code}") is sees
    if not sees:
        assert status == t("case.not_found", code=case.code)  # the same as a case that does not exist
    listed = (await chat.say("/danhsach"))[0].text
    assert (case.code in listed) is sees


@pytest.mark.parametrize("who", ["cadre_a", "official_a", "province_a", "secretary_b", "cadre_b"])
async def test_only_the_communes_secretary_reviews(app, world, who, caplog):
    _, case = world
    chat = Chat(app.core, CHATS[who])
    for button in (f"rv:open:{case.id}", f"rv:ok:{case.id}", f"rv:ret:{case.id}", f"rv:rej:{case.id}"):
        assert (await chat.press(button))[0].text == t("case.not_found", code=case.id)  # forged or not theirs
    assert "refused" in caplog.text
    async with app.db.session() as session:
        assert (await session.get(Case, case.id)).status == "submitted"
    assert (await chat.say("/choduyet"))[0].text in (t("role.not_allowed"), t("review.none_pending"))


async def test_two_secretaries_approve_at_the_same_moment(app, world, settings, clock):
    people, case = world
    await add_member(app, "a6", role="secretary", village=None)
    other = await build_app(settings, clock=clock, migrate=False)  # a second worker on the same database
    try:
        replies = await asyncio.gather(Chat(app.core, "a3").press(f"rv:ok:{case.id}"),
                                       Chat(other.core, "a6").press(f"rv:ok:{case.id}"))
    finally:
        await other.close()
    texts = sorted(r[0].text for r in replies)
    assert texts == sorted([t("review.done.approve", code=case.code),
                            t("review.already", code=case.code, status=t("status.approved"))])
    async with app.db.session() as session:
        events = (await session.exec(select(CaseEvent).where(CaseEvent.to_status == "approved"))).all()
        told = (await session.exec(select(Outbox).where(Outbox.kind == "status"))).all()
    assert len(events) == 1 and len(told) == 1


async def test_reasons_are_required_and_bounded(app, world):
    _, case = world
    secretary = Chat(app.core, "a3")
    await secretary.press(f"rv:rej:{case.id}")
    assert (await secretary.say("no"))[0].text == t("review.reason_short", min=5)
    assert (await secretary.say("x" * 1001))[0].text == t("invalid.text.too_long", max=1000, length=1001)
    assert (await secretary.say("Không đủ minh chứng về việc tốt."))[0].text == t("review.done.reject",
                                                                                 code=case.code)
    assert (await secretary.press(f"rv:ret:{case.id}"))[0].text == t("review.already", code=case.code,
                                                                     status=t("status.rejected"))
    async with app.db.session() as session:
        assert (await session.get(Case, case.id)).reason == "Không đủ minh chứng về việc tốt."


async def test_malformed_commands_and_unknown_codes(app, world):
    _, case = world
    secretary, cadre = Chat(app.core, "a3"), Chat(app.core, "a1")
    assert (await secretary.say(f"/khenthuong {case.code}"))[0].text == t("commend.usage")
    assert (await secretary.say(f"/khenthuong {case.code} | Giấy khen | 1/QĐ | hôm qua"))[0].text == t(
        "commend.not_approved", code=case.code, status=t("status.submitted"))
    assert (await secretary.say("/khenthuong NT-2026-09999 | Giấy khen | 1/QĐ | 1/11/2026"))[0].text == t(
        "case.not_found", code="NT-2026-09999")
    assert (await secretary.say("/trangthai"))[0].text == t("case.usage")
    assert (await secretary.say("/trangthai abc"))[0].text == t("case.not_found", code="ABC")
    assert (await cadre.say("/rut"))[0].text == t("withdraw.usage")
    assert (await cadre.say(f"/sua {case.code}"))[0].text == t("fix.not_returned", code=case.code)
    assert (await secretary.say("/danhsach xyz không có"))[0].text == t("list.bad_filter")
    assert (await secretary.say("/thongke tuan"))[0].text == t("stats.usage")
    replies = await cadre.say(f"/rut {case.code}")
    assert replies[0].text == t("withdraw.confirm", code=case.code, name=case.name)
    assert (await cadre.press(f"wd:{case.id}"))[0].text == t("withdraw.done", code=case.code)
    assert (await cadre.press(f"wd:{case.id}"))[0].text == t("withdraw.too_late", code=case.code,
                                                            status=t("status.withdrawn"))


async def test_a_burst_of_new_cases_is_one_digest(app, world, clock):
    people, _ = world
    recorder = []

    class Record:
        async def deliver(self, chat_id, reply, once=""):
            recorder.append((clock.now(), chat_id, reply.text))

    sender = OutboxSender(app.db, clock, {"telegram": Record()}, rate=1000, per_chat=1000)
    chat = Chat(app.core, "a1")
    from tests.chat import image_bytes
    from tests.test_nomination import answer_until_photos

    for colour in ("red", "green", "blue"):
        await answer_until_photos(chat)
        await chat.photos(image_bytes(colour))
        for text in ("xong", "bo qua", "co", "gui"):
            await chat.say(text)
        await sender.run_until_idle()
        clock.advance(seconds=30)
    clock.advance(minutes=5)
    await sender.run_until_idle()
    to_secretary = [text for _, chat_id, text in recorder if chat_id == "a3"]
    assert len(to_secretary) == 2  # the first at once; the next two together
    assert to_secretary[0].count("• NT-") == 1 and to_secretary[1].count("• NT-") == 2


async def test_each_secretary_of_the_commune_is_told_as_their_own_notices_stand(app, world, clock):
    """One has a digest still waiting: the case joins it; the other was told two minutes ago: theirs waits until
    five minutes after that; a secretary of another commune hears nothing."""
    people, case = world
    second = await add_member(app, "a6", role="secretary", village=None)
    now = clock.now()
    line = t("review.new_line", code=case.code, name=case.name)
    async with app.db.session() as session:
        for person, status, sent_at in ((people["secretary_a"], "pending", None), (second, "sent", now - timedelta(minutes=2))):
            session.add(Outbox(key=f"newcases:{person}:old", person_id=person, channel="telegram", chat_id="x",
                               kind="newcases", payload={"text": t("review.new_title") + "\n" + line, "cases": [case.id]},
                               status=status, due_at=now + timedelta(minutes=3), sent_at=sent_at, created_at=now))
    chat = Chat(app.core, "a1")
    from tests.chat import image_bytes
    from tests.test_nomination import answer_until_photos

    await answer_until_photos(chat)
    await chat.photos(image_bytes("red"))
    for text in ("xong", "bo qua", "co", "gui"):
        await chat.say(text)
    async with app.db.session() as session:
        new = (await session.exec(select(Case).where(Case.id != case.id))).one()
        rows = (await session.exec(select(Outbox).where(Outbox.kind == "newcases", Outbox.status == "pending")
                                   .order_by(Outbox.id))).all()
    waiting = {row.person_id: row for row in rows}
    assert len(rows) == 2 and set(waiting) == {people["secretary_a"], second}
    assert waiting[people["secretary_a"]].payload["cases"] == [case.id, new.id]
    assert waiting[people["secretary_a"]].payload["text"].count("• NT-") == 2
    assert waiting[second].payload["cases"] == [new.id]
    assert waiting[second].due_at == now + timedelta(minutes=3)  # five minutes after the notice it was sent


async def test_statistics_for_a_commune_and_a_province(app, world, clock):
    people, _ = world
    async with app.db.session() as session:
        session.add(Unit(commune_code=COMMUNE_A, kind="organisation", name="Hội Phụ nữ", name_key="hoi phu nu"))
    q4 = datetime(2026, 10, 10, 9, tzinfo=ZONE)
    await add_case(app, "NT-2026-00002", status="approved", nominator=people["cadre_a"], field="Nông nghiệp", when=q4)
    await add_case(app, "NT-2026-00003", status="returned", village="Thôn Tây", nominator=people["cadre_a_other"],
                   when=q4)
    await add_case(app, "NT-2026-00004", status="commended", nominator=people["cadre_a"], field="Nông nghiệp",
                   when=datetime(2026, 5, 2, tzinfo=ZONE))  # Q2: counts for the year, not the quarter
    await add_case(app, "NT-2026-00005", status="withdrawn", nominator=people["cadre_a"], when=q4)
    await add_case(app, "NT-2026-00006", commune=COMMUNE_B, village="Khu phố 1", nominator=people["cadre_b"])

    quarter = (await Chat(app.core, "a3").say("/thongke"))[0].text
    assert quarter.splitlines()[0] == t("stats.title", commune="Phường Hoàn Kiếm", period="quý IV/2026", total=3)
    assert "  • đã gửi: 1" in quarter and "  • xã đã duyệt: 1" in quarter and "  • cần bổ sung: 1" in quarter
    assert "  • Thôn Đông: 2" in quarter and "  • Thôn Tây: 1" in quarter
    assert "  • Y tế: 2" in quarter and "  • Nông nghiệp: 1" in quarter
    assert t("stats.quota", year=2026, forwarded=2, quota=2, mark="✅") in quarter
    assert t("stats.silent", units="Hội Phụ nữ") in quarter
    year = (await Chat(app.core, "a4").say("/thongke nam"))[0].text
    assert year.splitlines()[0] == t("stats.title", commune="Phường Hoàn Kiếm", period="năm 2026", total=4)

    province = (await Chat(app.core, "b5").say("/thongke"))[0].text.splitlines()
    assert province[0].startswith("📊 Toàn tỉnh – quý IV/2026: 1 hồ sơ;")
    assert province[1].startswith("⚠️ ") and "Phường Bến Thành: 0/2 gương; 1 hồ sơ kỳ này" in "\n".join(province)
    hanoi = (await Chat(app.core, "a5").say("/thongke"))[0].text.splitlines()
    assert hanoi[-1] == t("stats.province_line", mark="✅", commune="Phường Hoàn Kiếm", forwarded=2, quota=2, sent=3)
    assert all(line.startswith("⚠️") for line in hanoi[1:-1])  # below quota first
    assert len(hanoi) == 3  # a hundred communes with nothing yet: one line, not a hundred, in Vietnamese order
    assert hanoi[1].startswith("⚠️ 125 xã, phường chưa có hồ sơ nào: Phường Ba Đình, Phường Bạch Mai, Phường Bồ Đề, "
                               "Phường Cầu Giấy, Phường Chương Mỹ,") and hanoi[1].endswith(" và 105 nơi khác.")


async def test_units_and_people_by_chat(app, world):
    secretary = Chat(app.core, "a3")
    assert (await secretary.say("/donvi them thon Thôn Bắc"))[0].text == t("units.added", name="Thôn Bắc")
    assert (await secretary.say("/donvi them doanthe Đoàn Thanh niên"))[0].text == t("units.added",
                                                                                  name="Đoàn Thanh niên")
    listing = (await secretary.say("/donvi"))[0].text
    assert "Thôn Bắc (thôn/tổ)" in listing and "Đoàn Thanh niên (đoàn thể)" in listing
    async with app.db.session() as session:
        bac = (await session.exec(select(Unit).where(Unit.name == "Thôn Bắc"))).one()
    assert (await secretary.say(f"/donvi doiten {bac.id} Thôn Bắc Sơn"))[0].text == t(
        "units.renamed", old="Thôn Bắc", name="Thôn Bắc Sơn")
    invite = (await secretary.say("/moi canbo Thôn Bắc Sơn"))[0].text
    code = invite.split(": ", 1)[1].split("\n")[0]
    assert "Thôn Bắc Sơn" in (await Chat(app.core, "new").say(f"/start {code}"))[0].text
    assert (await secretary.say("/moi canbo Thôn Không Có"))[0].text == t("invite.unit_unknown")
    assert (await secretary.say(f"/donvi nghi {bac.id}"))[0].text == t("units.retired", name="Thôn Bắc Sơn")

    people = (await secretary.say("/nguoi"))[0].text
    assert "Cán bộ – cán bộ Thôn Đông" in people
    cadre_id = world[0]["cadre_a_other"]
    assert (await secretary.say(f"/thuhoi {cadre_id}"))[0].text == t("people.revoked", name="Cán bộ")
    assert (await Chat(app.core, "a2").say("/decu"))[0].text == t("access.unregistered")
    assert (await Chat(app.core, "b3").say(f"/thuhoi {world[0]['cadre_a']}"))[0].text == t("people.unknown")
    assert (await Chat(app.core, "a1").say("/donvi"))[0].text == t("role.not_allowed")


async def test_list_a_numbered_village_beside_similar_ones(app, world):
    people, _ = world
    async with app.db.session() as session:
        for name in ("Thôn 1", "Thôn 10", "Thôn 11"):
            session.add(Unit(commune_code=COMMUNE_A, kind="village", name=name, name_key=name.lower().replace("ô", "o")))
    await add_case(app, "NT-2026-00101", village="Thôn 1", nominator=people["cadre_a"])
    await add_case(app, "NT-2026-00110", village="Thôn 10", nominator=people["cadre_a"])
    listed = (await Chat(app.core, "a3").say("/danhsach Thôn 1"))[0].text
    assert "NT-2026-00101" in listed and "NT-2026-00110" not in listed
    assert (await Chat(app.core, "a3").press("ls:1:q=x"))[0].text.startswith(t("input.stale_button"))


async def test_a_reviewers_question_for_a_reason_expires_after_30_minutes(app, world, clock):
    _, case = world
    secretary = Chat(app.core, "a3")
    await secretary.press(f"rv:rej:{case.id}")
    clock.advance(minutes=31)
    replies = await secretary.say("Không đủ minh chứng về việc tốt.")
    assert replies[0].text != t("review.done.reject", code=case.code)
    async with app.db.session() as session:
        assert (await session.get(Case, case.id)).status == "submitted"
    await secretary.press(f"rv:rej:{case.id}")
    clock.advance(minutes=29)
    assert (await secretary.say("Không đủ minh chứng về việc tốt."))[0].text == t("review.done.reject",
                                                                                 code=case.code)


async def test_a_digest_says_what_is_true_when_it_is_sent(app, world, clock):
    from bot import casework
    from tests.chat import image_bytes
    from tests.test_nomination import answer_until_photos

    people, _ = world
    sent = []

    class Record:
        async def deliver(self, chat_id, reply, once=""):
            sent.append((chat_id, reply.text))

    sender = OutboxSender(app.db, clock, {"telegram": Record()}, rate=1000, per_chat=1000,
                          refreshers={"newcases": casework.current_digest})
    chat = Chat(app.core, "a1")

    async def nominate(colour: str) -> Case:
        await answer_until_photos(chat)
        await chat.photos(image_bytes(colour))
        for text in ("xong", "bo qua", "co", "gui"):
            await chat.say(text)
        async with app.db.session() as session:
            return (await session.exec(select(Case).order_by(Case.id.desc()))).first()

    async def decide(case: Case, name: str) -> None:
        async with app.db.session() as session:
            assert await casework.transition(session, case, name, people["secretary_a"], clock.now())

    first, second = await nominate("red"), await nominate("blue")  # one digest, not yet sent
    await decide(first, "approve")
    await sender.run_until_idle()
    [(chat_id, text)] = sent
    assert chat_id == "a3" and second.code in text and first.code not in text  # the approved one left out

    third = await nominate("green")  # a new digest, five minutes after the last one
    await decide(third, "reject")
    clock.advance(minutes=6)
    await sender.run_until_idle()
    assert len(sent) == 1  # nothing left to say: not sent
    async with app.db.session() as session:
        statuses = (await session.exec(select(Outbox.status).where(Outbox.kind == "newcases"))).all()
    assert sorted(statuses) == ["sent", "stale"]
