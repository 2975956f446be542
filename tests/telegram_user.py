"""The Telegram side of end-to-end tests: the real bot polling a fake Bot API server, and a person
who types, taps buttons and sends photos there."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from bot.channels.telegram import (
    ALLOWED_UPDATES,
    TelegramChannel,
    TelegramDelivery,
    TelegramOutbound,
    make_bot,
)
from scheduler.outbox import OutboxSender
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
        """Tap the button with this label on the newest message that has buttons."""
        for message in reversed(self.server.sent_messages(self.id)):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label:
                        self.server.press(self.id, message, button["callback_data"])
                        return await self.replies(count)
        raise AssertionError(f"no button {label!r} on the bot's messages")

    def last_buttons(self) -> list[str]:
        for message in reversed(self.server.sent_messages(self.id)):
            rows = (message.get("reply_markup") or {}).get("inline_keyboard")
            if rows:
                return [b["text"] for row in rows for b in row]
        return []

    async def no_more_replies(self) -> None:
        """Nothing beyond what was looked at: checked after a round trip that must come back."""
        self.server.send_text(self.id, "/trogiup")
        await self.replies(1)
        assert len(self.server.sent_messages(self.id)) == self.seen


class RunningBot:
    """The real Telegram adapter and core, polling the fake server in this event loop."""

    def __init__(self, server: FakeTelegramServer, app, album_wait: float) -> None:
        app.settings.telegram_api_url = server.url
        app.settings.telegram_bot_token = server.token
        self.bot = make_bot(app.settings)
        channel = TelegramChannel(self.bot, app.core, album_wait)
        app.core.exports.attach("telegram", TelegramOutbound(channel))  # as `nguoitot run` does
        self.dispatcher = channel.dispatcher()
        # Notifications (new cases, decisions) go out through the outbox, as in `nguoitot run`.
        self.sender = OutboxSender(app.db, app.core.clock, {"telegram": TelegramDelivery(self.bot)}, rate=100,
                                   per_chat=100)
        self.tasks: list[asyncio.Task] = []

    async def start(self, server: FakeTelegramServer) -> None:
        self.tasks = [
            asyncio.create_task(self.dispatcher.start_polling(
                self.bot, handle_signals=False, polling_timeout=1, allowed_updates=ALLOWED_UPDATES)),
            asyncio.create_task(self.sender.run_forever(idle_wait=0.05)),
        ]
        await server.wait_for(lambda: bool(server.calls_named("getUpdates")), what="the bot to poll")

    async def stop(self) -> None:
        with contextlib.suppress(RuntimeError):  # not polling any more
            await self.dispatcher.stop_polling()
        self.tasks[1].cancel()
        await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), 10)
        await self.bot.session.close()
