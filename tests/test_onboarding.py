"""Registration by invitation, and the administrator's command line."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import timedelta

from sqlmodel import select

from bot.handlers.onboarding import create_invite, hash_code
from common.messages import t
from storage import repo
from storage.models import Invite, Membership, Role, Unit
from tests.chat import Chat
from tests.cli import run_cli_async
from tests.conftest import COMMUNE_A, new_invite


async def test_each_role_is_greeted_with_what_it_can_do(app):
    cadre, secretary = Chat(app.core, "11"), Chat(app.core, "12")
    replies = await cadre.say(f"/start {await new_invite(app)}")
    assert replies[0].text.startswith("Chào mừng Chị Lan! Bạn đã được đăng ký là cán bộ của Thôn Đông, Phường Hoàn Kiếm")
    assert replies[0].menu == (t("menu.nominate"), t("menu.my_cases"), t("menu.help"))
    replies = await secretary.say(f"/start {await new_invite(app, Role.SECRETARY, village=None)}")
    assert "thường trực Hội đồng Thi đua – Khen thưởng Phường Hoàn Kiếm" in replies[0].text
    assert "/choduyet" in replies[0].text and "/thongke" in replies[0].text  # what a secretary can do
    assert (await secretary.say("/decu"))[0].text == t("role.not_cadre")
    assert (await cadre.say("/start"))[0].text == t("welcome.back", name="Chị Lan", hint=t("hint.cadre"))
    official = Chat(app.core, "14")
    async with app.db.session() as session:
        code = await create_invite(session, role=Role.OFFICIAL, now=app.core.clock.now(),
                                   ttl=timedelta(days=1), province_code="01")
    replies = await official.say(f"  {code} ")  # the code alone, typed or pasted, without /start
    assert "(Thành phố Hà Nội)" in replies[0].text and "/thongke" in replies[0].text


async def test_a_person_can_hold_two_roles(app):
    person = Chat(app.core, "13")
    await person.say(f"/start {await new_invite(app, Role.SECRETARY, village=None)}")
    await person.say(f"/start {await new_invite(app)}")
    async with app.db.session() as session:
        _, _, memberships, _ = await repo.identity(session, "telegram", "13")
        roles = sorted(m.role for m in memberships)
    assert roles == ["cadre", "secretary"]
    assert (await person.say("/decu"))[1].text == t("nom.kind.prompt")


async def test_codes_are_random_single_use_and_stored_only_as_a_hash(app):
    codes = {await new_invite(app) for _ in range(20)}
    assert len(codes) == 20
    # 59 bits, typed from paper: no 0/O, 1/I/L; Telegram's deep-link alphabet
    assert all(re.fullmatch(r"MOI-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}", c) for c in codes)
    code = codes.pop()
    async with app.db.session() as session:
        stored = (await session.exec(select(Invite).where(Invite.code_hash == hash_code(code)))).one()
        assert code not in {stored.code_hash}
    # Two people race for one code: exactly one is registered.
    replies = await asyncio.gather(*(Chat(app.core, f"2{i}").say(f"/start {code}") for i in range(5)))
    welcomed = [r for r in replies if r[0].text.startswith("Chào mừng")]
    assert len(welcomed) == 1
    assert all(r[0].text == t("invite.used") for r in replies if r not in welcomed)


async def test_a_code_typed_from_paper_works_whatever_the_phone_does_to_its_case_and_spaces(app):
    code = await new_invite(app)
    typed = code.lower().replace("-", " ").capitalize()  # "Moi abcd efgh jkmn": the phone's own capital
    assert (await Chat(app.core, "41").say(typed))[0].text.startswith("Chào mừng")
    second = await new_invite(app, Role.SECRETARY, village=None)  # a second role, its code sent alone, with a zero
    assert (await Chat(app.core, "41").say(second.replace("MOI", "M0I")))[0].text.startswith("Chào mừng")
    async with app.db.session() as session:  # a code made before (22 characters, case counts) still works
        old = "AbCdEfGhIjKlMnOpQrStUv"
        session.add(Invite(code_hash=hashlib.sha256(old.encode()).hexdigest(), role=Role.CADRE,
                           commune_code=(await repo.identity(session, "telegram", "41"))[2][0].commune_code,
                           created_at=app.core.clock.now(), expires_at=app.core.clock.now() + timedelta(days=1)))
    assert (await Chat(app.core, "42").say(f"/start {old.lower()}"))[0].text == t("invite.unknown")
    assert (await Chat(app.core, "42").say(f"/start {old}"))[0].text.startswith("Chào mừng")


async def test_expired_and_wrong_codes(app, clock):
    code = await new_invite(app)
    clock.advance(days=14, seconds=1)
    chat = Chat(app.core, "31")
    assert (await chat.say(f"/start {code}"))[0].text == t("invite.expired")
    assert (await chat.say("/start abc"))[0].text == t("invite.unknown")
    assert (await chat.say("de cu"))[0].text == t("access.unregistered")


async def test_cli_invites_a_cadre_and_creates_the_village(app, settings, monkeypatch, capsys, in_empty_folder):
    status, out, _ = await run_cli_async(
        ["invite", "--role", "cadre", "--commune", "phuong hoan kiem", "--village", "Tổ dân phố số 7"],
        settings, monkeypatch, capsys)
    assert status == 0
    link = re.search(r"https://t\.me/xa_hoankiem_bot\?start=(MOI-[A-Z0-9-]{14})", out)
    assert link, out
    async with app.db.session() as session:
        unit = (await session.exec(select(Unit).where(Unit.name == "Tổ dân phố số 7"))).one()
        assert unit.commune_code == COMMUNE_A
    chat = Chat(app.core, "41")
    assert "Tổ dân phố số 7" in (await chat.say(f"/start {link.group(1)}"))[0].text
    async with app.db.session() as session:
        membership = (await session.exec(select(Membership))).one()
        assert (membership.role, membership.unit_id) == ("cadre", unit.id)


async def test_cli_says_when_a_commune_name_is_ambiguous(app, settings, monkeypatch, capsys, in_empty_folder):
    status, _, err = await run_cli_async(["invite", "--role", "secretary", "--commune", "Tân Hòa"],
                                         settings, monkeypatch, capsys)
    assert status == 2 and "trùng ở nhiều nơi" in err and "Tân Hòa" in err
    status, out, _ = await run_cli_async(["invite", "--role", "secretary", "--commune", "26743"],
                                         settings, monkeypatch, capsys)
    assert status == 0 and "Phường Bến Thành, Thành phố Hồ Chí Minh" in out
    status, _, err = await run_cli_async(["invite", "--role", "cadre", "--commune", "26743"],
                                         settings, monkeypatch, capsys)
    assert status == 2 and "--village" in err


async def test_cli_imports_villages_lists_people_and_a_case_history(app, settings, monkeypatch, capsys,
                                                                    in_empty_folder, tmp_path):
    csv_file = tmp_path / "thon.csv"
    csv_file.write_text("Mã xã,Tên thôn\n00070,Tổ dân phố số 1\n00070,Tổ dân phố số 2\n"
                        "Tân Hòa,Thôn Mới\nphuong ben thanh,Khu phố 3\n00070,to dan pho so 1\n", encoding="utf-8")
    status, out, err = await run_cli_async(["units", "import", str(csv_file)], settings, monkeypatch, capsys)
    assert status == 1 and "Đã thêm 3 thôn mới (1 đã có)." in out and "dòng 4:" in err  # Tân Hòa is ambiguous (the file's own line 4)
    status, out, _ = await run_cli_async(["units", "list", "--commune", "00070"], settings, monkeypatch, capsys)
    assert "village\tTổ dân phố số 1" in out and "village\tTổ dân phố số 2" in out

    chat = Chat(app.core, "51")
    await chat.say(f"/start {await new_invite(app, village='Tổ dân phố số 2')}")
    status, out, _ = await run_cli_async(["people", "list", "--commune", "00070"], settings, monkeypatch, capsys)
    assert "cadre\tChị Lan\tTổ dân phố số 2" in out

    from tests.test_review import add_case

    async with app.db.session() as session:
        person_id = (await repo.account_of(session, "telegram", "51")).person_id
    case = await add_case(app, "NT-2026-00077", village="Tổ dân phố số 2", nominator=person_id)
    async with app.db.session() as session:
        from bot import casework

        await casework.transition(session, case, "return", person_id, app.core.clock.now(), reason="Thiếu ảnh rõ nét",
                                  details={"fields": ["photos"]})
    status, out, _ = await run_cli_async(["case", "history", "NT-2026-00077"], settings, monkeypatch, capsys)
    assert status == 0 and "submitted → returned  bởi Chị Lan  (Thiếu ảnh rõ nét; fields: ['photos'])" in out
