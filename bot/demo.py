"""The demo: a commune with a cadre, a secretary, an official and a few cases, created once on the database,
and what `nguoitot run` does without any channel token: the HTTP app (the web chat at /chat, the public page)
with codes that sign in as each demo person, beside the terminal chat (`nguoitot chat --role …`)."""

from __future__ import annotations

import asyncio
import io
import secrets
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TextIO

from PIL import Image, ImageDraw
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import Roles, Service, build_app
from bot.channels.terminal import CHANNEL, TerminalChat, TerminalDelivery
from common.settings import Settings
from common.text import fold
from storage import repo, web
from storage.communes import find_commune
from storage.db import Database
from storage.locks import AnotherProcess, sole_process
from storage.media import MediaStore
from storage.models import Account, Case, CaseEvent, Membership, Role

DEMO_COMMUNE = "00070"  # Phường Hoàn Kiếm, Hà Nội: any real commune would do
DEMO_VILLAGE = "Tổ dân phố số 1 (demo)"
DEMO_USER = "demo-cadre"  # the terminal chat's person, by role
DEMO_USERS = {Role.CADRE: DEMO_USER, Role.SECRETARY: "demo-secretary", Role.OFFICIAL: "demo-official"}
DEMO_NAMES = {Role.CADRE: "Cán bộ demo", Role.SECRETARY: "Thư ký demo", Role.OFFICIAL: "Lãnh đạo demo"}
ROLE_WORDS = {Role.CADRE: "cán bộ thôn", Role.SECRETARY: "thư ký Hội đồng Thi đua", Role.OFFICIAL: "lãnh đạo xã"}


@dataclass(frozen=True)
class DemoCase:
    name: str
    kind: str
    status: str
    consent: str
    field: str
    movement: str
    story: str
    colours: tuple[str, ...]


CASES = (
    DemoCase("Nguyễn Thị Hạnh", "ca_nhan", "approved", "yes", "Đời sống xã hội", "Người tốt, việc tốt",
             "Chị Hạnh nhặt được ví có 12 triệu đồng và giấy tờ ở chợ, đã mang đến công an phường để trả lại "
             "cho người đánh rơi.", ("#2e7d32", "#f9a825")),
    DemoCase("Chi hội Phụ nữ tổ dân phố số 1", "tap_the", "commended", "yes", "An sinh xã hội",
             "Vì người nghèo – không để ai bị bỏ lại phía sau",
             "Chi hội vận động hội viên góp 45 triệu đồng và 120 ngày công sửa lại nhà cho hai hộ nghèo trước "
             "mùa mưa bão.", ("#1565c0",)),
    DemoCase("Trần Văn Bình", "ca_nhan", "approved", "no", "Quốc phòng, an ninh", "Toàn dân bảo vệ an ninh Tổ quốc",
             "Anh Bình phát hiện và báo kịp thời một vụ trộm xe máy, giúp công an thu hồi tài sản.", ("#6a1b9a",)),
    DemoCase("Lê Thị Mai", "ca_nhan", "submitted", "not_asked", "Giáo dục và đào tạo", "Dạy tốt – học tốt",
             "Cô Mai mở lớp học miễn phí buổi tối cho 15 em học sinh có hoàn cảnh khó khăn trong tổ dân phố.",
             ("#ef6c00", "#00838f")),
)


@dataclass(frozen=True)
class DemoPeople:
    ids: dict[Role, int]


async def ensure_demo(db: Database, media: MediaStore | None, now: datetime) -> DemoPeople:
    """The demo commune, its three people (each with a web account first, so the bot's notices reach the
    browser, and a terminal account) and, once, its cases."""
    async with db.session() as session:
        commune = await repo.ensure_commune(session, find_commune(DEMO_COMMUNE))
        unit = await repo.ensure_unit(session, commune.code, "village", DEMO_VILLAGE)
        ids = {role: await _demo_person(session, role, commune.code, unit.id if role == Role.CADRE else None, now)
               for role in DEMO_USERS}
        seeded = (await repo.cases_by_nominator(session, ids[Role.CADRE], 1))[0]
        if media is not None and not seeded:
            await _demo_cases(session, media, commune.code, unit.id, ids, now)
    return DemoPeople(ids)


async def ensure_demo_cadre(db: Database, now: datetime) -> None:
    await ensure_demo(db, None, now)


async def _demo_person(session: AsyncSession, role: Role, commune: str, unit_id: int | None, now: datetime) -> int:
    user = DEMO_USERS[role]
    account = await repo.account_of(session, CHANNEL, user)
    if account is not None:
        return account.person_id
    chat = "wdemo" + secrets.token_hex(8)
    person = await repo.create_person(session, DEMO_NAMES[role], now, web.CHANNEL, chat, chat)
    session.add(Account(person_id=person.id, channel=CHANNEL, external_id=user, chat_id=user))
    session.add(Membership(person_id=person.id, role=role, commune_code=commune, unit_id=unit_id, created_at=now))
    return person.id


async def _demo_cases(session: AsyncSession, media: MediaStore, commune: str, unit_id: int, ids: dict[Role, int],
                      now: datetime) -> None:
    for index, demo in enumerate(CASES):
        shas = []
        for n, colour in enumerate(demo.colours):
            info = await media.save(_picture(colour, n))
            await repo.record_media(session, [info.row()], now)
            shas.append(info.sha256)
        when = now - timedelta(days=20 - 3 * index)
        answers = {"kind": demo.kind, "name": demo.name, "address": f"{DEMO_VILLAGE}, Phường Hoàn Kiếm, Hà Nội",
                   "field": demo.field, "movement": demo.movement, "description": demo.story,
                   "when": {"start": when.date().isoformat(), "precision": "day", "label": f"{when:%d/%m/%Y}"},
                   "phone": "0912345678", "consent": demo.consent, "photo_count": len(shas)}
        if demo.kind == "ca_nhan":
            answers |= {"birth_year": 1980 + index, "ethnicity": "Kinh", "position": "Tiểu thương"}
        else:
            answers |= {"rep_name": "Phạm Thị Lan", "rep_role": "Chi hội trưởng"}
        number = await repo.next_case_number(session, now.year)
        commendation = {"form": "Giấy khen của Chủ tịch UBND phường", "decision": "15/QĐ-UBND",
                        "date": f"{now - timedelta(days=2):%d/%m/%Y}"} if demo.status == "commended" else {}
        case = Case(code=f"NT-{now.year}-{number:05d}", commune_code=commune, unit_id=unit_id,
                    nominator_id=ids[Role.CADRE], status="submitted", kind=demo.kind, name=demo.name,
                    name_key=fold(demo.name), field=demo.field, movement=demo.movement, answers=answers,
                    submitted_at=when, updated_at=when + timedelta(days=1), commendation=commendation)
        await repo.add_case(session, case, shas, ids[Role.CADRE])
        for step in ("approved", "commended")[: ("submitted", "approved", "commended").index(demo.status)]:
            session.add(CaseEvent(case_id=case.id, actor_id=ids[Role.SECRETARY], at=when + timedelta(days=1),
                                  from_status=case.status, to_status=step))
            case.status = step


def _picture(colour: str, variant: int) -> bytes:
    """A small drawn photo for a demo case: a sky, a sun, a house or a tree."""
    image = Image.new("RGB", (480, 360), "#cfe8fc")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 250, 480, 360), fill=colour)
    draw.ellipse((370, 30, 440, 100), fill="#fdd835")
    if variant % 2 == 0:
        draw.rectangle((120, 160, 280, 260), fill="#fff3e0", outline="#5d4037", width=4)
        draw.polygon([(100, 165), (200, 90), (300, 165)], fill="#c62828")
    else:
        draw.rectangle((215, 170, 240, 260), fill="#5d4037")
        draw.ellipse((160, 80, 300, 200), fill="#388e3c")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


class DemoCodes:
    """Codes printed at start that sign a browser in as a demo person, valid while this process runs
    (registered at WebAccess.person_codes, where link codes go too)."""

    def __init__(self, people: DemoPeople) -> None:
        self.by_code = {f"demo-{role.value}-{secrets.token_hex(3)}": person for role, person in people.ids.items()}
        self.by_role = {role: code for code, person in self.by_code.items()
                        for role, pid in people.ids.items() if pid == person}

    async def resolve(self, session: AsyncSession, code: str, now: datetime) -> int | None:
        return self.by_code.get(code.strip().lower())


async def run_demo(settings: Settings, role: Role = Role.CADRE, stdin: TextIO = sys.stdin,
                   write: Callable[[str], None] = print) -> int:
    """`nguoitot run` without a token: the web chat and the terminal chat on one demo commune, until Ctrl-C,
    SIGTERM or /thoat."""
    try:
        with sole_process(settings.database_url):
            return await _run_demo(settings, role, stdin, write)
    except AnotherProcess as error:
        write(str(error))
        return 1


async def _run_demo(settings: Settings, role: Role, stdin: TextIO, write: Callable[[str], None]) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    app = await build_app(settings)
    people = await ensure_demo(app.db, app.media, app.core.clock.now())
    service = Service(app, Roles(receive=False))
    service.channels[CHANNEL] = TerminalDelivery(write)  # the outbox delivers by this map: notices reach the terminal
    codes = DemoCodes(people)
    service.access.person_codes.append(codes.resolve)
    try:
        try:
            await service.start()
        except OSError as error:  # the port is taken: the terminal chat still works
            write(WEB_UNAVAILABLE.format(error=error, host=settings.http_host, port=settings.http_port))
        else:
            host = "127.0.0.1" if settings.http_host in ("0.0.0.0", "::", "") else settings.http_host
            base = f"http://{host}:{service.http.port}"
            write(WEB_READY.format(chat=f"{base}/chat", public=f"{base}/cong-khai/{DEMO_COMMUNE}",
                                   codes="\n".join(f"    {ROLE_WORDS[r]:<24} {codes.by_role[r]}" for r in DEMO_USERS)))
        chat = TerminalChat(app.core, DEMO_USERS[role], DEMO_NAMES[role])
        chatting = asyncio.create_task(chat.run(stdin, write))
        stopped = asyncio.create_task(stopping.wait())
        await asyncio.wait([chatting, stopped], return_when=asyncio.FIRST_COMPLETED)
        if chatting.done() and not chatting.result() and not stdin.isatty():
            await stopped  # no terminal (a service, a pipe that ended): keep serving the browser
        chatting.cancel()
        stopped.cancel()
    finally:
        await service.stop()
        await app.close()
    return 0


WEB_READY = """\
Trang chat trên trình duyệt (chạy thử, không cần Telegram):  {chat}
  Đăng nhập bằng một trong các mã demo (dùng được cho tới khi dừng lệnh này):
{codes}
  Trang công khai các gương đã duyệt:  {public}
Dưới đây là cuộc trò chuyện trên terminal (nguoitot chat). Dừng: Ctrl-C hoặc /thoat.
"""
WEB_UNAVAILABLE = "Chưa mở được trang chat trên trình duyệt ({error}; HTTP_HOST={host}, HTTP_PORT={port}): " \
                  "chỉ có cuộc trò chuyện trên terminal."
