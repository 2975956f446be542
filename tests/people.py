"""People on either channel, for end-to-end scripts written once: a person says something, chooses an option
(a button pressed on Telegram, its number typed on Zalo, as people do there), sends photos (an album on
Telegram; on Zalo one update per photo, sent in one go), and reads the bot's texts. Each counts their own
actions (a message or a press; photos sent together count as one)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from tests.fakes.telegram_server import FakeTelegramServer
from tests.fakes.zalo_server import FakeZaloServer
from tests.telegram_user import last_buttons, press

_NUMBERED = re.compile(r"^\s*(\d+)\. (.+)$", re.MULTILINE)


class Person(Protocol):
    channel: str
    id: str  # the channel's id of the person, as add_member registers it
    actions: int

    async def say(self, text: str, count: int = 1) -> list[str]: ...
    async def choose(self, label: str, count: int = 1) -> list[str]: ...
    async def send_photos(self, images: list[bytes], count: int = 1) -> list[str]: ...
    async def replies(self, count: int = 1) -> list[str]: ...
    def photos_received(self) -> list[bytes]: ...
    def options(self) -> list[str]: ...
    def texts(self) -> list[str]: ...
    def catch_up(self) -> None: ...


@dataclass
class _Reader:
    """What both channels share: reading the bot's texts in order, and counting one's own actions."""

    server: FakeTelegramServer | FakeZaloServer
    id: str
    seen: int = 0
    actions: int = 0

    def texts(self) -> list[str]:
        raise NotImplementedError

    def _send_text(self, text: str) -> None:
        raise NotImplementedError

    async def replies(self, count: int = 1) -> list[str]:
        """The next `count` texts the bot sends this person."""
        await self.server.wait_for(lambda: len(self.texts()) >= self.seen + count,
                                   what=f"{count} text(s) to {self.channel} chat {self.id}")
        self.seen += count
        return self.texts()[self.seen - count:self.seen]

    async def say(self, text: str, count: int = 1) -> list[str]:
        self.actions += 1
        self._send_text(text)
        return await self.replies(count)

    def catch_up(self) -> None:
        """Whatever came meanwhile (reminders) is read."""
        self.seen = len(self.texts())


@dataclass
class ZaloPerson(_Reader):
    server: FakeZaloServer
    channel: str = "zalo"

    def texts(self) -> list[str]:
        return self.server.texts_to(self.id)

    def _send_text(self, text: str) -> None:
        self.server.send_text(self.id, text)

    async def choose(self, label: str, count: int = 1) -> list[str]:
        """Type the number the newest numbered list gives this label."""
        for text in reversed(self.texts()):
            for number, shown in _NUMBERED.findall(text):
                if shown == label or shown.startswith(label + " – "):  # a listed case: its line says more
                    return await self.say(number, count)
        raise AssertionError(f"no numbered option {label!r} in the bot's texts")

    async def send_photos(self, images: list[bytes], count: int = 1) -> list[str]:
        self.actions += 1
        for data in images:
            self.server.send_photo(self.id, data)
        return await self.replies(count)

    def photos_received(self) -> list[bytes]:
        return [s.photo for s in self.server.photos_to(self.id) if s.photo is not None]

    def options(self) -> list[str]:
        """The newest numbered list's options, in order."""
        for text in reversed(self.texts()):
            found = _NUMBERED.findall(text)
            if found:
                return [shown for _, shown in found]
        return []


@dataclass
class TelegramPerson(_Reader):
    server: FakeTelegramServer
    channel: str = "telegram"
    albums: int = 0

    def texts(self) -> list[str]:
        return [m["text"] for m in self.server.sent_messages(int(self.id)) if "text" in m]

    def _send_text(self, text: str) -> None:
        self.server.send_text(int(self.id), text)

    async def choose(self, label: str, count: int = 1) -> list[str]:
        """Press the button with this label on the newest message that has it."""
        press(self.server, int(self.id), label)
        self.actions += 1
        return await self.replies(count)

    async def send_photos(self, images: list[bytes], count: int = 1) -> list[str]:
        self.actions += 1
        self.albums += 1
        album = f"album-{self.id}-{self.albums}" if len(images) > 1 else None
        for data in images:
            self.server.send_photo(int(self.id), data, media_group_id=album)
        return await self.replies(count)

    def photos_received(self) -> list[dict]:
        return [m for m in self.server.sent_messages(int(self.id)) if "photo" in m]

    def options(self) -> list[str]:
        return last_buttons(self.server, int(self.id))


async def start_service(app, *, telegram: FakeTelegramServer | None = None, zalo: FakeZaloServer | None = None,
                        roles=None, webhook: bool = False):
    """The real bot process's parts (bot/app.py's Service) on the fake servers given, in this event loop, with
    its HTTP app on a free port (Zalo fetches a reviewer's photos from it). Reminders are not planned here
    (the clock is frozen): tests plan them."""
    from bot.app import Roles, Service
    from tests.test_webhook import free_port

    settings = app.settings
    settings.http_port = free_port()
    settings.public_base_url = f"http://127.0.0.1:{settings.http_port}"
    settings.telegram_bot_token = telegram.token if telegram else ""
    settings.telegram_api_url = telegram.url if telegram else settings.telegram_api_url
    settings.zalo_bot_token = zalo.token if zalo else ""
    settings.zalo_api_url = zalo.url if zalo else settings.zalo_api_url
    if webhook:
        settings.webhook_url = settings.public_base_url
        settings.zalo_webhook_secret = "zalo-webhook-secret-for-tests"
    service = Service(app, roles or Roles(plan=False), poll_timeout=1, sender_idle=0.05)
    await service.start()
    for fake in (f for f in (telegram, zalo) if f is not None):
        await fake.wait_for(lambda fake=fake: bool(fake.calls_named("setWebhook" if webhook else "getUpdates")),
                            what="the bot to be ready")
    return service
