"""Fixtures: a fresh database per test on SQLite or PostgreSQL (NGUOITOT_TEST_DATABASE_URL), a frozen
clock, the application, and helpers to register people.

SQLite: the schema is migrated once into a template file, copied for each test.
PostgreSQL: each test run migrates its own schema once and empties the tables between tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import text
from sqlmodel import SQLModel

from bot.app import Roles, Service, build_app
from bot.channels.telegram_session import LeanSession
from bot.handlers.onboarding import create_invite
from common.clock import FrozenClock
from common.settings import Settings
from storage import repo
from storage.communes import find_commune
from storage.db import Database
from storage.models import Membership, Role
from tests.fakes.telegram_server import FakeTelegramServer, require_api_json
from tests.fakes.zalo_server import FakeZaloServer
from tests.people import start_service
from tests.telegram_user import RunningBot

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TEST_DATABASE_URL = os.environ.get("NGUOITOT_TEST_DATABASE_URL", "sqlite")
IS_POSTGRES = TEST_DATABASE_URL.startswith("postgres")
# Communes in two provinces, for scope tests: Hoàn Kiếm (Hà Nội) and Bến Thành (Hồ Chí Minh).
COMMUNE_A = "00070"
COMMUNE_B = "26743"


def pytest_report_header(config: pytest.Config) -> str:
    return f"nguoitot test database: {'PostgreSQL ' + TEST_DATABASE_URL if IS_POSTGRES else 'SQLite'}"


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory):
    """What each test's database is made from: a migrated SQLite file, or a migrated PostgreSQL schema."""
    if IS_POSTGRES:
        schema = f"nt_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        asyncio.run(_create_schema(schema))
        yield {"url": TEST_DATABASE_URL, "schema": schema}
        asyncio.run(_drop_schema(schema))
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        db = Database(f"sqlite:///{path}")
        asyncio.run(_migrate(db))
        yield {"path": path}


async def _migrate(db: Database) -> None:
    await db.upgrade()
    await db.dispose()


async def _create_schema(schema: str) -> None:
    admin = Database(TEST_DATABASE_URL)
    async with admin.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    await _migrate(Database(TEST_DATABASE_URL, schema=schema))


async def _drop_schema(schema: str) -> None:
    admin = Database(TEST_DATABASE_URL)
    async with admin.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await admin.dispose()


@pytest.fixture
async def settings(tmp_path: Path, database_template) -> Settings:
    if IS_POSTGRES:
        await _empty_tables(database_template["url"], database_template["schema"])
        url, schema = database_template["url"], database_template["schema"]
    else:
        path = tmp_path / "nguoitot.db"
        shutil.copy(database_template["path"], path)
        url, schema = f"sqlite:///{path}", ""
    return Settings(_env_file=None, database_url=url, database_schema=schema, media_dir=tmp_path / "media",
                    exports_dir=tmp_path / "exports", telegram_bot_token="", album_wait_seconds=0.3,
                    planner_process=False)  # tests/test_reminders_incremental.py runs the worker process


async def _empty_tables(url: str, schema: str) -> None:
    db = Database(url, schema=schema)
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await db.dispose()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 22, 9, 30, tzinfo=ZONE))


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock):
    application = await build_app(settings, clock=clock, migrate=False)
    async with application.db.session() as session:
        await repo.ensure_default_movements(session)
    yield application
    await application.close()


async def add_member(app, user_id: str, role: Role = Role.CADRE, *, commune: str = COMMUNE_A,
                     village: str | None = "Thôn Đông", name: str = "Cán bộ", channel: str = "telegram",
                     province: str | None = None) -> int:
    """Register a person directly (the invite path has its own tests); returns the person id."""
    now = app.core.clock.now()
    async with app.db.session() as session:
        official = find_commune(commune)
        await repo.ensure_commune(session, official)
        unit = await repo.ensure_unit(session, official.code, "village", village) if village else None
        account = await repo.account_of(session, channel, user_id)
        person_id = account.person_id if account else (
            await repo.create_person(session, name, now, channel, user_id, user_id)).id
        session.add(Membership(person_id=person_id, role=role, commune_code=None if province else official.code,
                               province_code=province, unit_id=unit.id if unit else None, created_at=now))
    return person_id


async def new_invite(app, role: Role = Role.CADRE, *, commune: str = COMMUNE_A, village: str | None = "Thôn Đông",
                     ttl: timedelta = timedelta(days=14)) -> str:
    async with app.db.session() as session:
        official = await repo.ensure_commune(session, find_commune(commune))
        unit = await repo.ensure_unit(session, official.code, "village", village) if village else None
        return await create_invite(session, role=role, now=app.core.clock.now(), ttl=ttl,
                                   commune_code=official.code, unit_id=unit.id if unit else None)


@pytest.fixture
async def server():
    """A fake Telegram Bot API server that checks every call against the official API."""
    require_api_json()
    fake = FakeTelegramServer()
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.violations == [], "the bot made calls the Bot API would refuse"
    assert fake.unanswered_callbacks() == []


@pytest.fixture
async def telegram_client(server):
    """A bare aiogram client on our lean session (bot/channels/telegram_session.py), talking to the fake server."""
    client = Bot(server.token, session=LeanSession(api=TelegramAPIServer.from_base(server.url)))
    yield client
    await client.session.close()


@pytest.fixture
async def bot(server, app):
    """The real bot (Telegram adapter, core, outbox sender) polling the fake server."""
    running = RunningBot(server, app, album_wait=0.3)
    await running.start(server)
    yield running
    await running.stop()


@pytest.fixture
async def zalo_server():
    """A fake Zalo Bot API server that checks every call against the documented contract."""
    fake = FakeZaloServer()
    await fake.start()
    yield fake
    await fake.stop()
    assert fake.violations == [], "the bot made calls the Zalo Bot API would refuse"


@pytest.fixture
async def zalo_bot(zalo_server, app):
    """The real bot on Zalo alone, polling the fake server."""
    service = await start_service(app, zalo=zalo_server)
    yield service
    await asyncio.wait_for(service.stop(), 15)


@pytest.fixture
async def both_bots(server, zalo_server, app):
    """The real bot serving Telegram and Zalo in one process, one database."""
    service = await start_service(app, telegram=server, zalo=zalo_server)
    yield service
    await asyncio.wait_for(service.stop(), 15)


@pytest.fixture
async def web_service(app):
    """The whole process as `nguoitot run` builds it, without Telegram: the HTTP app on a free port, the inbox
    worker, the outbox sender (notices reach the browser through it)."""
    app.settings.http_port = 0
    service = Service(app, Roles(receive=False, plan=False), sender_idle=0.2)
    await service.start()
    service.base_url = f"http://127.0.0.1:{service.http.port}"
    yield service
    await service.stop()


@pytest.fixture
async def browser():
    """Chromium driven by Playwright (tests/web_browser.py): Debian's build, never one Playwright downloads."""
    from playwright.async_api import async_playwright

    from tests.web_browser import FLAGS, chromium_path

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_path(), args=FLAGS, headless=True)
        yield launched
        await launched.close()


@pytest.fixture
def in_empty_folder(tmp_path, monkeypatch):
    """Run from an empty folder, so no developer .env is read by the command line."""
    monkeypatch.chdir(tmp_path)


async def wait_until(condition, seconds: float = 10.0, *, what: str = "") -> None:
    """Wait for a condition on state outside this event loop (a database another task or process writes, a
    file), checked every 20 ms; fails after `seconds`. `condition` may be sync or async."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                met = condition()
                if asyncio.iscoroutine(met):
                    met = await met
                if met:
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {seconds} s waiting for {what or condition}") from None
