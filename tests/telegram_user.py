"""The Telegram side of end-to-end tests: the real bot polling a fake Bot API server, and a person
who types, taps buttons and sends photos there."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bot.app import Roles, Service
from tests.fakes.telegram_server import FakeTelegramServer


@dataclass
class TelegramUser:
    server: FakeTelegramServer
    id: int
    seen: int = 0  # messages to this chat already looked at

    async def replies(self, count: int = 1) -> list[dict[str, Any]]:
        """The next `count` messages the bot sends this person."""
        messages = await self.server.wait_for_messages(self.id, self.seen + count)
        new = messages[self.seen:self.seen + count]
        self.seen += count
        return new

    async def say(self, text: str, count: int = 1) -> list[dict[str, Any]]:
        self.server.send_text(self.id, text)
        return await self.replies(count)

    async def text(self, text: str, count: int = 1) -> str:
        return "\n".join(m["text"] for m in await self.say(text, count))

    async def tap(self, label: str, count: int = 1) -> list[dict[str, Any]]:
        """Tap the button with this label on the newest message that has it."""
        press(self.server, self.id, label)
        return await self.replies(count)

    def last_buttons(self) -> list[str]:
        return last_buttons(self.server, self.id)

    async def no_more_replies(self) -> None:
        """Nothing beyond what was looked at: checked after a round trip that must come back."""
        self.server.send_text(self.id, "/trogiup")
        await self.replies(1)
        assert len(self.server.sent_messages(self.id)) == self.seen


def press(server: FakeTelegramServer, chat_id: int, label: str) -> None:
    """Press the button with this label on the newest message to the chat that has it."""
    for message in reversed(server.sent_messages(chat_id)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button["text"] == label:
                    server.press(chat_id, message, button["callback_data"])
                    return
    raise AssertionError(f"no button {label!r} on the bot's messages")


def last_buttons(server: FakeTelegramServer, chat_id: int) -> list[str]:
    """The labels of the newest message to the chat that has buttons."""
    for message in reversed(server.sent_messages(chat_id)):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard")
        if rows:
            return [b["text"] for row in rows for b in row]
    return []


class RunningBot:
    """The real bot process's parts (bot/app.py's Service: receiver, inbox worker, outbox sender), polling the
    fake server in this event loop. Reminders are not planned here (the clock is frozen): tests plan them."""

    def __init__(self, server: FakeTelegramServer, app, album_wait: float, roles: Roles | None = None) -> None:
        app.settings.telegram_api_url = server.url
        app.settings.telegram_bot_token = server.token
        app.settings.album_wait_seconds = album_wait
        self.service = Service(app, roles or Roles(plan=False, http=False), poll_timeout=1, sender_idle=0.05)
        self.bot = self.service.bot

    async def start(self, server: FakeTelegramServer) -> None:
        await self.service.start()
        await server.wait_for(lambda: bool(server.calls_named("getUpdates")), what="the bot to poll")

    async def stop(self) -> None:
        await asyncio.wait_for(self.service.stop(), 15)
