"""The one table of commands and buttons: everything the core and the menus derive from it."""

from __future__ import annotations

import pytest

from bot.handlers import registry
from common.messages import VI, t
from common.text import fold
from storage.models import Membership, Role
from tests.chat import Chat
from tests.conftest import add_member


def member(*roles: Role) -> list[Membership]:
    return [Membership(person_id=1, role=role, commune_code="00070") for role in roles]


def test_every_command_has_its_words_in_the_catalogue():
    for command in registry.COMMANDS:
        assert f"command.{command.name}" in VI, command.name
        if command.in_menu:
            assert f"help.line.{command.name}" in VI, command.name
        assert command.handler is not None or command.control, command.name
    assert all(b.command == "" or b.command in registry.BY_NAME for b in registry.BUTTONS)


def test_menus_and_help_follow_the_roles():
    cadre = [name for name, _ in registry.commands_for(member(Role.CADRE))]
    assert cadre[:3] == ["decu", "hoso", "trangthai"] and "choduyet" not in cadre and "start" not in cadre
    official = [name for name, _ in registry.commands_for(member(Role.OFFICIAL))]
    assert "thongke" in official and "moi" not in official and "decu" not in official
    assert registry.main_menu(member(Role.CADRE)) == (t("menu.nominate"), t("menu.my_cases"), t("menu.help"))
    assert registry.main_menu(member(Role.SECRETARY)) == (t("menu.pending"), t("menu.stats"), t("menu.help"))
    help_for_secretary = registry.help_text(member(Role.SECRETARY))
    assert "/choduyet" in help_for_secretary and "/decu" not in help_for_secretary
    assert [c for c, _ in registry.public_commands()] == ["start", "trogiup"]


@pytest.mark.parametrize("typed, command", [
    ("đề cử", "decu"), ("De Cu", "decu"), (t("menu.nominate"), "decu"), ("ho so cua toi", "hoso"),
    ("Chờ duyệt", "choduyet"), (t("menu.stats"), "thongke"), ("huong dan", "trogiup"), ("xin chao", "")])
def test_typed_words_name_their_command(typed, command):
    assert registry.command_for_words(typed) == command
    assert command == "" or fold(typed) in registry.BY_NAME[command].typed_forms()


async def test_a_button_is_gated_by_the_roles_of_its_command(app):
    await add_member(app, "s1", role=Role.SECRETARY, village=None)
    secretary = Chat(app.core, "s1")
    assert (await secretary.say("/decu"))[0].text == t("role.not_cadre")
    assert (await secretary.press("draft:continue"))[0].text == t("role.not_cadre")  # a forged button
    assert (await secretary.press("fix:1"))[0].text == t("role.not_cadre")
    assert (await secretary.press("cmd:decu"))[0].text == t("role.not_cadre")
    await add_member(app, "c1")
    cadre = Chat(app.core, "c1")
    assert (await cadre.press("rv:ok:1"))[0].text == t("case.not_found", code=1)  # as if there were none
    assert (await cadre.press("draft:continue"))[0].text == t("nom.start")  # allowed: no draft, a new one


@pytest.mark.parametrize("press", ["rv:ok:99999999999999999999999", "rv:open:99999999999999999999999",
                                   "wd:99999999999999999999999", "fix:99999999999999999999999",
                                   "rv:page:99999999999999999999999", "ls:99999999999999999999999:"])
async def test_a_button_with_a_number_too_big_for_the_database_is_not_an_error(app, press):
    await add_member(app, "s1", role=Role.SECRETARY, village="Thôn Đông")
    await add_member(app, "c1")
    who = "s1" if press.startswith("rv") else "c1"
    [reply, *_] = await Chat(app.core, who).press(press)
    assert reply.text != t("error.unexpected")


async def test_a_command_with_a_number_too_big_for_the_database_is_not_an_error(app):
    await add_member(app, "s1", role=Role.SECRETARY, village="Thôn Đông")
    secretary = Chat(app.core, "s1")
    for typed in ("/thuhoi 99999999999999999999999", "/choduyet 99999999999999999999999",
                  "/donvi nghi 99999999999999999999999", "/thuhoi ²"):
        assert (await secretary.say(typed))[0].text != t("error.unexpected"), typed
