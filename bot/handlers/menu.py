"""The main menu and the command menu of each role: buttons on Telegram, a list on Zalo, typed words."""

from __future__ import annotations

from common.messages import t
from common.text import fold
from storage.models import Membership, Role

# The commands each role may use, in menu order; a person with several roles gets the union.
ROLE_COMMANDS: dict[str, tuple[str, ...]] = {
    Role.CADRE: ("decu", "hoso", "trangthai", "danhsach", "han", "sua", "rut", "nhacnho", "quaylai", "huy",
                 "trogiup"),
    Role.SECRETARY: ("choduyet", "danhsach", "thongke", "trangthai", "han", "themhan", "donvi", "moi", "nguoi",
                     "thuhoi", "khenthuong", "nhacnho", "trogiup"),
    Role.OFFICIAL: ("thongke", "danhsach", "trangthai", "han", "themhan", "nhacnho", "trogiup"),
    Role.ADMIN: ("trogiup",),
}


def commands_for(memberships: list[Membership]) -> tuple[tuple[str, str], ...]:
    roles = {m.role for m in memberships}
    names = [c for role, commands in ROLE_COMMANDS.items() if role in roles for c in commands]
    return tuple((name, t(f"command.{name}")) for name in dict.fromkeys(names))


def cadre_only(command: str) -> bool:
    return all(command not in commands for role, commands in ROLE_COMMANDS.items() if role != Role.CADRE)


def allowed(memberships: list[Membership], command: str) -> bool:
    return any(command in ROLE_COMMANDS.get(m.role, ()) for m in memberships)


def main_menu(memberships: list[Membership]) -> tuple[str, ...]:
    roles = {m.role for m in memberships}
    buttons = []
    if Role.CADRE in roles:
        buttons += [t("menu.nominate"), t("menu.my_cases")]
    if Role.SECRETARY in roles:
        buttons.append(t("menu.pending"))
    if roles & {Role.SECRETARY, Role.OFFICIAL}:
        buttons.append(t("menu.stats"))
    return (*buttons, t("menu.help"))


def help_text(memberships: list[Membership]) -> str:
    roles = {m.role for m in memberships}
    parts = [t("help.general")] if Role.CADRE in roles else []
    parts += [t("help.secretary")] if Role.SECRETARY in roles else []
    parts += [t("help.official")] if Role.OFFICIAL in roles else []
    return "\n\n".join(parts) or t("help.general")


# What typed words (or a menu button, which sends its label) mean when no conversation is open.
_WORDS = {
    "decu": ("de cu", "decu", fold(t("menu.nominate"))),
    "hoso": ("ho so", "hoso", "ho so cua toi", fold(t("menu.my_cases"))),
    "choduyet": ("cho duyet", "choduyet", fold(t("menu.pending"))),
    "thongke": ("thong ke", "thongke", fold(t("menu.stats"))),
    "trogiup": ("tro giup", "trogiup", "huong dan", "help", fold(t("menu.help"))),
}


def command_for_words(text: str) -> str:
    folded = fold(text)
    return next((command for command, words in _WORDS.items() if folded in words), "")
