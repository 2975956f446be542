"""One-shot menus answered by typing: a channel without buttons (Zalo, the terminal) shows choices as a
numbered list, so the chat's last one-shot menu is remembered (`Account.menu`) and a typed "2", or a
choice's label with or without diacritics, answers it as a press would.

One-shot menus are those whose choices are all buttons of the table of commands (bot/handlers/registry.py:
the pending list, a case's Duyệt / Trả lại / Từ chối, /rut's confirmation, /nhacnho, a page of /danhsach,
a reminder's "open it"). A conversation's own questions are answered by the conversation, which matches
typed numbers itself; so whenever the conversation moves, the remembered menu is dropped. A reply without
choices leaves the menu as it was (a reviewer flags one field, then another); it lapses after MENU_TTL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.handlers import registry
from bot.parsing import Invalid, Option, match_option
from bot.request import Request
from common.events import Choice, Reply, remembered_menu
from storage import repo

MENU_TTL = timedelta(hours=24)  # a menu typed at after this is forgotten: a bare "1" then means nothing


def as_menu(choices: tuple[Choice, ...], now: datetime) -> dict[str, Any] | None:
    """The choices as a remembered menu, if they form a one-shot menu."""
    if not choices or not all(registry.button(c.value) is not None for c in choices):
        return None
    return remembered_menu(choices, now)


def live(menu: dict[str, Any] | None, now: datetime) -> bool:
    return bool(menu) and now - datetime.fromisoformat(menu["at"]) <= MENU_TTL


def typed_choice(menu: dict[str, Any] | None, text: str, now: datetime) -> str:
    """The value of the choice that typed text picks in the menu (its number, or its exact label), or ""."""
    if not live(menu, now):
        return ""
    options = [Option(value, label) for label, value in menu["choices"]]
    try:
        return match_option(text, options, fuzzy=False).key
    except Invalid:
        return ""


async def remember(request: Request, replies: list[Reply]) -> None:
    """After the replies of a request are known: the menu they end with becomes the chat's, or the
    conversation moved and no menu stands."""
    account = request.account
    if account is None or request.person is None:
        return
    shown = next((r.choices for r in reversed(replies) if r.choices), ())
    if request.conversation_writes or shown or request.drop_menu:
        menu = as_menu(shown, request.now) if shown and not request.conversation_writes else None
        if menu is not None or account.menu is not None:
            await repo.set_menu(request.session, account, menu, touch=not request.conversation_writes)
