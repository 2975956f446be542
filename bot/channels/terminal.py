"""`nguoitot chat`: talk to the real core from a terminal as a demo cadre of a demo commune.

Choices are drawn as a numbered list (as on Zalo, which has no buttons); type the number or the
words. Attach a photo by typing its path (or `/anh <path>`). An export (/xuat) runs in the background as
elsewhere; the terminal runs on the server, so its files are shown by their paths there.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.channels.typed import typed_text
from bot.core import Core
from bot.exports import Links
from common.events import Inbound, InboundKind, MediaRef, Reply
from common.messages import t

CHANNEL = "terminal"
DEMO_USER = "demo-cadre"


def render(reply: Reply) -> str:
    """A reply as plain text: the choices become a numbered list."""
    lines = [t("terminal.photos", count=len(reply.photos))] if reply.photos else []
    lines.append(typed_text(reply, indent="  "))
    if reply.menu:
        lines.append("  [menu: " + " | ".join(reply.menu) + "]")
    return "\n".join(lines)


class TerminalDelivery:
    """What the bot sends on its own (a notice, a reminder) to the person at the terminal, printed between the
    lines of the chat: without it the demo's notices to someone who last wrote here failed unseen."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        self.write = write

    async def deliver(self, chat_id: str, reply: Reply, once: str = "") -> None:
        self.write(t("terminal.notice") + "\n" + render(reply))


class TerminalChat:
    def __init__(self, core: Core, user_id: str = DEMO_USER, name: str = "") -> None:
        self.core = core
        self.user_id = user_id
        self.name = name or t("terminal.demo_name")

    def to_inbound(self, line: str) -> Inbound:
        base = dict(channel=CHANNEL, user_id=self.user_id, chat_id=self.user_id, display_name=self.name)
        text = line.strip()
        path = _photo_path(text)
        if path is not None:
            ref = MediaRef(str(path), "document", path.stat().st_size, None, path.name)
            return Inbound(kind=InboundKind.MEDIA, media=(ref,), **base)
        if text.startswith("/"):
            head, _, args = text.partition(" ")
            return Inbound(kind=InboundKind.COMMAND, command=head[1:].lower(), args=args.strip(), text=text, **base)
        return Inbound(kind=InboundKind.TEXT, text=text, **base)

    async def say(self, line: str) -> list[Reply]:
        return await self.core.handle(self.to_inbound(line), fetch_file)

    async def run(self, stdin: TextIO = sys.stdin, write: Callable[[str], None] = print) -> bool:
        """Until /thoat (True) or the end of the input (False)."""
        self.core.exports.attach(CHANNEL, TerminalOutbound(write), Links(_local_path, "export.files_here"))
        write(t("terminal.intro"))
        for reply in await self.say("/start"):
            write(render(reply))
        lines = _reader(stdin)
        while True:
            line = await lines.get()
            if not line:
                return False
            if line.strip() in ("/thoat", "/exit"):
                return True
            if not line.strip():
                continue
            for reply in await self.say(line):
                write("\n" + render(reply))


class TerminalOutbound:
    """What a background job (an export) says in the terminal (common/outbound.py): each message printed as it
    comes; the files are not sent but named by their paths on this machine (kept until EXPORT_LINK_HOURS)."""

    file_limit = 0
    can_edit = False

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    async def post(self, chat_id: str, text: str) -> str:
        self.write("\n" + text)
        return ""

    async def edit(self, chat_id: str, handle: str, text: str) -> None:
        """Printed lines stay as they are."""

    async def busy(self, chat_id: str) -> None:
        """Nothing to show."""

    async def send(self, chat_id: str, reply: Reply) -> None:
        self.write("\n" + render(reply))


def _local_path(path: Path, expires: int) -> str:
    return str(path.resolve())


def _reader(stdin: TextIO) -> asyncio.Queue[str]:
    """Lines typed, read by a daemon thread: a process stopped by a signal does not wait for a line that may
    never come (asyncio's own worker threads are waited for at exit). "" at the end of the input."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        while True:
            line = stdin.readline()
            loop.call_soon_threadsafe(lines.put_nowait, line)
            if not line:
                return

    threading.Thread(target=read, name="terminal input", daemon=True).start()
    return lines


def _photo_path(text: str) -> Path | None:
    if text.startswith("/anh "):
        text = text[5:]
    elif text.startswith("/"):
        return None if not Path(text).is_file() else Path(text)
    try:
        candidate = Path(shlex.split(text)[0]).expanduser() if text else None
    except ValueError:
        return None
    return candidate if candidate is not None and candidate.is_file() else None


async def fetch_file(ref: MediaRef) -> bytes:
    return await asyncio.to_thread(Path(ref.file_id).read_bytes)
