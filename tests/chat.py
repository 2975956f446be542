"""A person talking to the core directly (no channel): the service-level test driver."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image

from common.events import Inbound, InboundKind, MediaRef, Reply


def image_bytes(color: str = "red", size: tuple[int, int] = (64, 48), fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt)
    return buffer.getvalue()


@dataclass
class Chat:
    core: object
    user_id: str
    channel: str = "telegram"
    files: dict[str, bytes] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)
    fetch_failures: int = 0  # how many fetches fail before one succeeds

    async def _send(self, **kw) -> list[Reply]:
        event = Inbound(channel=self.channel, user_id=self.user_id, chat_id=self.user_id, display_name="Chị Lan",
                        **kw)
        replies = await self.core.handle(event, self.fetch)
        self.replies.extend(replies)
        return replies

    async def fetch(self, ref: MediaRef) -> bytes:
        if self.fetch_failures:
            self.fetch_failures -= 1
            raise ConnectionError("network down")
        return self.files[ref.file_id]

    async def say(self, text: str) -> list[Reply]:
        if text.startswith("/"):
            head, _, args = text.partition(" ")
            return await self._send(kind=InboundKind.COMMAND, command=head[1:], args=args, text=text)
        return await self._send(kind=InboundKind.TEXT, text=text)

    async def press(self, value: str) -> list[Reply]:
        return await self._send(kind=InboundKind.CHOICE, choice=value)

    async def press_label(self, label: str) -> list[Reply]:
        """Press the button with this label on the last reply that had buttons."""
        for reply in reversed(self.replies):
            if reply.choices:
                choice = next((c for c in reply.choices if c.label == label), None)
                assert choice is not None, f"no button {label!r} in {[c.label for c in reply.choices]}"
                return await self.press(choice.value)
        raise AssertionError("no reply with buttons yet")

    async def photos(self, *images: bytes, kind: str = "photo", names: tuple[str, ...] = (),
                     sizes: tuple[int | None, ...] = (), mime: str | None = None) -> list[Reply]:
        refs = []
        for i, data in enumerate(images):
            file_id = f"f{len(self.files)}"
            self.files[file_id] = data
            size = sizes[i] if i < len(sizes) else len(data)
            refs.append(MediaRef(file_id, kind, size, mime or ("image/jpeg" if kind == "photo" else None),
                                 names[i] if i < len(names) else "anh.jpg"))
        return await self._send(kind=InboundKind.MEDIA, media=tuple(refs))

    async def send(self, kind: InboundKind, **kw) -> list[Reply]:
        return await self._send(kind=kind, **kw)

    @property
    def last(self) -> str:
        return self.replies[-1].text

    def texts(self, replies: list[Reply]) -> str:
        return "\n".join(r.text for r in replies)
