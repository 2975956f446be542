"""Kill it on purpose: the bot process is SIGKILLed at 20 seeded random instants while cadres nominate with
albums, files and answers, and restarted each time. Nothing they sent may be lost or take effect twice.
The same on Zalo, in webhook mode (stored, then 200; Zalo's getUpdates hands an update out once, with no
offset, so polling cannot be lossless): photos chosen together instead of albums and files."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import sys
from dataclasses import dataclass, field

import pytest
from PIL import Image
from sqlalchemy import func
from sqlmodel import select

from bot.channels.typed import typed_text
from bot.channels.zalo import TEXT_LIMIT
from common.events import Reply, reply_from_json
from common.messages import t
from common.text import split_text
from storage.models import Case, CasePhoto, InboxUpdate
from tests.bot_process import ForkedBot, ForkServer
from tests.conftest import add_member, wait_until
from tests.fakes.telegram_server import Call, FakeTelegramServer
from tests.fakes.zalo_server import FakeZaloServer

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals"),
              pytest.mark.timeout(900)]  # twenty restarts: about 100 s on a quiet machine, several times that when loaded

KILLS = 20
PHASES = ("intake", "album", "work", "reply")  # where a kill falls: see Killer
CADRES = (8401, 8402, 8403, 8404)
REPLY_WAIT = 90.0  # seconds a cadre waits for an answer: a restart or two may come between
DESCRIPTION = "Bà Hạnh nấu cơm miễn phí cho bệnh nhân nghèo ở trạm y tế xã suốt hai năm."


def photo(tag: str) -> bytes:
    """A small JPEG whose bytes are its own (the tag is in its comment)."""
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), (len(tag) * 40 % 256, 90, 160)).save(buffer, "JPEG", comment=tag.encode())
    return buffer.getvalue()


@dataclass(frozen=True)
class Step:
    kind: str  # "text", "album", "file"
    replies: int
    text: str = ""
    photos: tuple[bytes, ...] = ()


def nomination(name: str) -> list[Step]:
    answers = ("ca nhan", name, "1975", "kinh", "bo qua", "1", "1", "1", DESCRIPTION, "hom nay")
    return [Step("text", 2, "/decu"), *(Step("text", 1, a) for a in answers),
            Step("album", 1, photos=tuple(photo(f"{name} a{i}") for i in range(3))),
            Step("file", 1, photos=(photo(f"{name} file"),)),
            Step("album", 1, photos=tuple(photo(f"{name} b{i}") for i in range(2))),
            *(Step("text", 1, a) for a in ("xong", "bo qua", "co", "gui"))]


class Killer:
    """Kills the bot at the next instant of the armed phase, then starts the one kept ready:
    intake   – just after getUpdates handed out updates (before or while they are stored);
    album    – within the album's window, its photos stored but not yet handled;
    work     – a few ms after a message arrived: reading, in the unit of work, or just after its commit;
    reply    – as the fake server takes a reply, before the bot hears it went (so it is sent again)."""

    def __init__(self, server: FakeTelegramServer | FakeZaloServer, bots: ForkServer, seed: int,
                 album_wait: float) -> None:
        self.server, self.bots = server, bots
        self.random = random.Random(seed)
        self.schedule = [(PHASES[i % len(PHASES)], self.random.random()) for i in range(KILLS)]
        self.random.shuffle(self.schedule)
        self.album_wait = album_wait
        self.phase: str | None = None
        self.kills: list[str] = []
        self.fired = asyncio.Event()
        self.bot: ForkedBot | None = None
        server.on_answer = self._on_answer
        server.on_webhook_post = self._on_post  # Zalo's webhook: the intake phase

    async def run(self) -> None:
        self.bot = await self.bots.start()
        for phase, share in self.schedule:
            self.fired.clear()
            self.phase, self.share = phase, share
            await self.fired.wait()
            self.phase = None
            self.kills.append(phase)
            self.bot.kill()
            await self.bot.exit_code
            self.bot = await self.bots.start()

    def sent(self, kind: str) -> None:
        """A cadre sent something: the moment for the album and work phases."""
        if self.phase == "album" and kind == "album":
            self._kill_later(self.share * self.album_wait * 0.8)
        elif self.phase == "work" and kind != "album":
            self._kill_later(0.001 + self.share * 0.03)

    def _on_post(self) -> None:
        if self.phase == "intake":
            self._kill_later(self.share * 0.005)

    def _on_answer(self, call: Call) -> None:
        if self.phase == "intake" and call.method == "getUpdates" and (call.response or {}).get("result"):
            self._kill_later(self.share * 0.005)
        elif self.phase == "reply" and call.method == "sendMessage" and self.share < 0.5:
            self._kill_now()
        elif self.phase == "reply" and call.method == "sendMessage":
            self.share = 0.0  # the next one, then

    def _kill_later(self, seconds: float) -> None:
        self.phase = None
        asyncio.get_running_loop().call_later(seconds, self._kill_now)

    def _kill_now(self) -> None:
        if self.bot is not None and not self.fired.is_set():
            self.bot.kill()
            self.phase = None
            self.fired.set()

    async def stop(self) -> None:
        """The last one stops as it would be stopped (SIGTERM): what is in hand is finished and marked."""
        if self.bot is not None and not self.bot.exited:
            assert await self.bot.terminate() == 0


@dataclass
class Cadre:
    server: FakeTelegramServer
    app: object
    id: int
    killer: Killer
    names: list[str] = field(default_factory=list)
    sent_updates: list[str] = field(default_factory=list)

    def send(self, step: Step, name: str) -> list[str]:
        """Send one step as the channel carries it; the inbox's keys of the updates it made."""
        if step.kind == "text":
            sent = [self.server.send_text(self.id, step.text)]
        elif step.kind == "file":
            sent = [self.server.send_document(self.id, step.photos[0], file_name="giay-khen.jpg",
                                              mime_type="image/jpeg")]
        else:
            album = f"{name}-{len(self.sent_updates)}"
            sent = [self.server.send_photo(self.id, data, media_group_id=album) for data in step.photos]
        return [str(update["update_id"]) for update in sent]

    def said(self) -> list[str]:
        return [m["text"] for m in self.server.sent_messages(self.id)]

    def drawn(self, reply: Reply) -> list[str]:
        """The messages a stored reply becomes on the channel."""
        return [reply.text]

    async def nominate(self, round_: int) -> None:
        """The whole nomination, each message sent once the bot has answered the one before."""
        name = f"Trần Thị Hạnh {self.id}.{round_}"
        self.names.append(name)
        for step in nomination(name):
            ids = self.send(step, name)
            self.sent_updates += ids
            self.killer.sent(step.kind)
            await wait_until(lambda ids=ids: self.answered(ids), REPLY_WAIT,
                             what=f"an answer to {step.kind} {step.text!r} of {self.id}")

    async def answered(self, update_keys: list[str]) -> bool:
        """Handled, and its replies sent (as the bot recorded it: the fake server has them too)."""
        async with self.app.db.session() as session:
            done = (await session.execute(select(func.count()).select_from(InboxUpdate).where(
                InboxUpdate.update_key.in_(update_keys), InboxUpdate.replied_at.is_not(None)))).scalar_one()
        return done == len(update_keys)


class ZaloCadre(Cadre):
    """On Zalo: photos chosen together (one update each, within the burst window) stand for an album, and a
    file is one more photo."""

    server: FakeZaloServer

    def send(self, step: Step, name: str) -> list[str]:
        if step.kind == "text":
            sent = [self.server.send_text(self.id, step.text)]
        else:
            sent = [self.server.send_photo(self.id, data) for data in step.photos]
        return [f"{self.id}:{update['message']['message_id']}" for update in sent]

    def said(self) -> list[str]:
        return self.server.texts_to(self.id)

    def drawn(self, reply: Reply) -> list[str]:
        return split_text(typed_text(reply), TEXT_LIMIT)


async def test_sigkill_at_twenty_random_instants_loses_nothing_and_repeats_nothing(server, app, settings, tmp_path):
    for cadre_id in CADRES:
        await add_member(app, str(cadre_id), village="Thôn Đông")
    settings.album_wait_seconds = 0.4
    bots = await ForkServer(settings, server, tmp_path).open()
    killer = Killer(server, bots, seed=20261204, album_wait=0.4)
    await kill_while_nominating(app, killer, bots, [Cadre(server, app, cadre_id, killer) for cadre_id in CADRES])


async def test_sigkill_on_zalo_loses_nothing_and_repeats_nothing(zalo_server, app, settings, tmp_path):
    from tests.test_webhook import free_port

    for cadre_id in CADRES:
        await add_member(app, f"z{cadre_id}", village="Thôn Đông", channel="zalo")
    settings.album_wait_seconds = 0.4
    port = free_port()
    bots = await ForkServer(settings, zalo_server, tmp_path, ready_call="setWebhook", TELEGRAM_BOT_TOKEN="",
                            ZALO_BOT_TOKEN=zalo_server.token, ZALO_API_URL=zalo_server.url, HTTP_PORT=str(port),
                            WEBHOOK_URL=f"http://127.0.0.1:{port}", ZALO_WEBHOOK_SECRET="zalo-sigkill-secret").open()
    killer = Killer(zalo_server, bots, seed=20261206, album_wait=0.4)
    await kill_while_nominating(app, killer, bots,
                                [ZaloCadre(zalo_server, app, f"z{cadre_id}", killer) for cadre_id in CADRES])


async def kill_while_nominating(app, killer: Killer, bots: ForkServer, cadres: list[Cadre]) -> None:
    """The cadres nominate, again and again, until every kill of the schedule has fallen; then nothing may be
    lost or repeated: every update stored once and handled, every stored reply sent, every case once."""

    async def keep_nominating(cadre: Cadre) -> None:
        round_ = 0
        while not killing.done() or round_ == 0:
            round_ += 1
            await cadre.nominate(round_)

    killing = asyncio.create_task(killer.run())
    try:
        async with asyncio.timeout(600):
            await asyncio.gather(killing, *(keep_nominating(c) for c in cadres))
    finally:
        try:
            await killer.stop()
        finally:
            await bots.close()
    assert sorted(killer.kills) == sorted(phase for phase, _ in killer.schedule)

    async with app.db.session() as session:
        rows = (await session.exec(select(InboxUpdate).order_by(InboxUpdate.id))).all()
        cases = (await session.exec(select(Case))).all()
        photos = (await session.exec(select(CasePhoto).order_by(CasePhoto.case_id, CasePhoto.position))).all()
    for cadre in cadres:
        mine = [r for r in rows if r.chat_id == str(cadre.id)]
        # Every update stored once, handled, its replies sent (or it had none to send).
        assert sorted(r.update_key for r in mine) == sorted(cadre.sent_updates)
        still_open = [(r.id, r.update_key, r.kind, r.album, r.handled_at, r.replies) for r in mine
                      if r.handled_at is None or r.replied_at is None]
        assert not still_open, (still_open, killer.bot.log()[-3000:])
        owed = [text for r in mine for reply in r.replies for text in cadre.drawn(reply_from_json(reply))]
        said = cadre.said()
        assert _in_order(owed, said), f"cadre {cadre.id}: a stored reply was never sent"
        assert set(said) <= set(owed) and len(said) - len(owed) <= KILLS * 2  # repeats, only of what was owed
        print(f"cadre {cadre.id}: {len(cadre.names)} nominations, {len(mine)} updates, "
              f"{len(said) - len(owed)} replies repeated")
        assert t("error.unexpected") not in said and t("error.busy") not in said
        # Every nomination took effect once: its case, with its answers and its six photos, once.
        theirs = sorted((c for c in cases if c.name in cadre.names), key=lambda c: c.name)
        assert [c.name for c in theirs] == sorted(cadre.names)
        for case in theirs:
            assert str(case.answers["birth_year"]) == "1975" and case.answers["ethnicity"] == "Kinh"
            assert case.answers["position"] == t("nom.no_position")
            assert case.answers["photo_count"] == 6
            tags = [f"{case.name} a0", f"{case.name} a1", f"{case.name} a2", f"{case.name} file",
                    f"{case.name} b0", f"{case.name} b1"]
            assert [p.sha256 for p in photos if p.case_id == case.id] == [
                hashlib.sha256(photo(tag)).hexdigest() for tag in tags]
            assert all(app.media.backend.path(hashlib.sha256(photo(tag)).hexdigest()).exists() for tag in tags)


def _in_order(wanted: list[str], seen: list[str]) -> bool:
    """Whether `wanted` appears in `seen` in order (other messages, repeats, may stand between)."""
    remaining = iter(seen)
    return all(any(text == candidate for candidate in remaining) for text in wanted)
