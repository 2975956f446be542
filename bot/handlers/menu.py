"""The main menu: the same three actions as buttons (Telegram), a list (Zalo) or typed words."""

from __future__ import annotations

from bot.messages import t
from bot.text import fold
from storage.models import Membership, Role


def main_menu(memberships: list[Membership]) -> tuple[str, ...]:
    if any(m.role == Role.CADRE for m in memberships):
        return (t("menu.nominate"), t("menu.my_cases"), t("menu.help"))
    return (t("menu.help"),)


# What typed words (or a menu button, which sends its label) mean when no conversation is open.
_WORDS = {
    "decu": ("de cu", "decu", fold(t("menu.nominate"))),
    "hoso": ("ho so", "hoso", "ho so cua toi", fold(t("menu.my_cases"))),
    "trogiup": ("tro giup", "trogiup", "huong dan", "help", fold(t("menu.help"))),
}


def command_for_words(text: str) -> str:
    folded = fold(text)
    return next((command for command, words in _WORDS.items() if folded in words), "")
