"""The composition root: builds the application from settings (database, media store, clock, core), and
one process's running parts (`Service`): receiving, the inbox worker, reminders, the HTTP app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from bot import casework
from bot.channels.telegram import WEBHOOK_PATH, TelegramChannel, TelegramOutbound, TelegramReceiver, make_bot
from bot.channels.web import WebChannel, WebChat, WebOutbound, security_headers
from bot.channels.zalo import WEBHOOK_PATH as ZALO_WEBHOOK_PATH
from bot.channels.zalo import ZaloApi, ZaloChannel, ZaloOutbound, ZaloReceiver
from bot.core import Core
from bot.handlers import linking
from bot.http import HttpApp, Route
from bot.intake import ChannelPort, Intake, Worker
from bot.media_links import MediaLinks
from bot.public import PublicPage
from bot.web_access import WebAccess
from common.clock import Clock, SystemClock
from common.settings import Settings
from scheduler.service import ReminderService
from storage import repo
from storage.db import Database, is_unavailable
from storage.locks import AnotherProcess, Locks, locks_for, sole_process
from storage.media import FolderBackend, MediaStore
from storage.models import NEW_CASES

log = logging.getLogger("nguoitot")


@dataclass
class App:
    settings: Settings
    db: Database
    media: MediaStore
    core: Core

    async def close(self) -> None:
        await self.core.close()
        await self.db.dispose()


async def build_app(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> App:
    db = Database(settings.database_url, schema=settings.database_schema, connections=settings.database_connections)
    try:
        if migrate:
            await db.upgrade()
            async with db.session() as session:
                await repo.ensure_default_movements(session)
    except BaseException:
        await db.dispose()
        raise
    media = MediaStore(FolderBackend(settings.media_dir))
    core = Core(db, media, settings, clock or SystemClock(settings.zone))
    return App(settings, db, media, core)


@dataclass(frozen=True)
class Roles:
    """What a process does: `nguoitot run` everything, `worker` the inbox, `sender` the outbox."""

    receive: bool = True  # take updates from the channels (polling, or webhooks on the HTTP app)
    work: bool = True  # handle the inbox and send the replies
    plan: bool = True  # plan reminders (one process at a time)
    send: bool = True  # send the outbox (one process at a time)
    http: bool = True  # serve webhooks, the web chat, the public page, /healthz and /metrics


class Service:
    """One process's running parts, started and stopped together: Telegram, Zalo or both."""

    def __init__(self, app: App, roles: Roles = Roles(), *, locks: Locks | None = None, poll_timeout: int = 25,
                 sender_idle: float = 1.0) -> None:
        settings = app.settings
        self.app = app
        self.roles = roles
        self.locks = locks or locks_for(app.db)
        self.bot = make_bot(settings) if settings.telegram_bot_token else None
        self.zalo = ZaloApi(settings.zalo_bot_token, settings.zalo_api_url) if settings.zalo_bot_token else None
        self.channels: dict[str, ChannelPort] = make_channels(app, self.bot, self.zalo)
        exports = app.core.exports  # background exports post through the channels: documents on Telegram;
        if self.bot is not None:  # signed download links where there are none (Zalo with a public URL, the web)
            exports.attach("telegram", TelegramOutbound(self.channels["telegram"]))
        if self.zalo is not None and settings.media_base_url:
            exports.attach("zalo", ZaloOutbound(self.channels["zalo"]), exports.signed_links(settings.media_base_url))
        # The web chat: its replies are kept in the database for the browser, so every process can deliver them.
        self.web = WebChannel(app.db, app.media, app.core.clock)
        self.channels["web"] = self.web
        exports.attach("web", WebOutbound(self.web), exports.signed_links())  # relative to the page's own server
        self.access = WebAccess(app.db, settings, app.core.clock)
        self.access.person_codes.append(linking.person_of_code)  # a /lienket code signs a person in too
        self.worker = Worker(app.core, app.db, self.locks, self.channels, album_wait=settings.album_wait_seconds,
                             max_chats=settings.worker_chats) if roles.work else None
        self.intake = Intake(app.db, self.worker)
        self.receivers: dict[str, TelegramReceiver | ZaloReceiver] = {}
        routes: list[Route] = []
        if roles.receive and self.bot is not None:
            self.receivers["telegram"] = TelegramReceiver(
                self.bot, self.channels["telegram"], self.intake, self.locks, webhook_url=settings.webhook_url,
                webhook_secret=settings.telegram_webhook_secret, max_connections=settings.webhook_max_connections,
                poll_timeout=poll_timeout)
            if settings.webhook_url:
                routes.append(Route("POST", WEBHOOK_PATH, self.receivers["telegram"].webhook))
        if roles.receive and self.zalo is not None:
            zalo = self.receivers["zalo"] = ZaloReceiver(
                self.zalo, self.intake, webhook_url=settings.webhook_url, secret=settings.zalo_webhook_secret,
                album_wait=settings.album_wait_seconds, poll_timeout=poll_timeout)
            if zalo.webhook_url:
                routes.append(Route("POST", ZALO_WEBHOOK_PATH, zalo.webhook))
        links = getattr(self.channels.get("zalo"), "links", None)
        if links is not None:
            routes.append(links.route())
        self.reminders = ReminderService(app.db, settings, app.core.clock, self.channels, self.locks,
                                         plan=roles.plan, send=roles.send, sender_idle=sender_idle,
                                         refreshers={NEW_CASES: casework.current_digest}) \
            if roles.plan or roles.send else None
        self.web_chat = WebChat(self.web, self.access, self.intake, settings)
        routes += self.web_chat.routes()
        routes += PublicPage(app.db, app.media, app.core.clock, settings).routes()
        routes.append(exports.links.route())  # an export's files, by signed link
        self.http = HttpApp(app.db, app.core.clock, routes, max_backlog_age=settings.health_max_backlog_seconds,
                            middlewares=[security_headers(settings.frame_ancestors)]) if roles.http else None
        self._tasks: list[asyncio.Task] = []

    @property
    def receiver(self) -> TelegramReceiver | ZaloReceiver | None:
        """The Telegram receiver, else Zalo's."""
        return self.receivers.get("telegram") or self.receivers.get("zalo")

    async def start(self) -> None:
        settings = self.app.settings
        if self.worker is not None:  # the first /thongke then waits for no chart worker to start
            self._tasks.append(asyncio.create_task(self.app.core.charts.warm(), name="chart worker warm-up"))
        if self.http is not None:
            await self.access.prepare()  # the web session key, made once and shared through the database
            await self.http.start(settings.http_host, settings.http_port)
        if self.worker is not None:
            self._tasks.append(asyncio.create_task(self.worker.run(), name="inbox worker"))
        if self.worker is not None or self.http is not None:  # the processes that make or serve export files
            self._tasks.append(asyncio.create_task(self.app.core.exports.sweeping(), name="export sweep"))
        for name, receiver in self.receivers.items():
            self._tasks.append(asyncio.create_task(receiver.run(), name=f"{name} receiver"))
        if self.reminders is not None:
            self.reminders.start()

    async def stop(self) -> None:
        """Stop taking updates; let what is in hand finish (SHUTDOWN_GRACE_SECONDS); then close."""
        receiving = [t for t in self._tasks if t.get_name().endswith(" receiver")]
        await _cancelled(receiving)
        if self.worker is not None:
            await self.worker.stop(self.app.settings.shutdown_grace_seconds)
        await _cancelled(self._tasks)
        if self.reminders is not None:
            await self.reminders.stop()
        if self.http is not None:
            await self.http.stop()
        await self.locks.close()
        if self.bot is not None:
            await self.bot.session.close()
        if self.zalo is not None:
            await self.zalo.close()


def make_channels(app: App, bot: Any, zalo: ZaloApi | None) -> dict[str, ChannelPort]:
    """The channels configured (a token each): what the worker replies through and the outbox delivers by.
    `bot`: aiogram's Bot, or None (only the Telegram adapter imports aiogram)."""
    settings = app.settings
    channels: dict[str, ChannelPort] = {}
    if bot is not None:
        channels["telegram"] = TelegramChannel(bot, app.media, settings.telegram_bot_username, db=app.db)
    if zalo is not None:
        links = MediaLinks.for_token(app.media, settings.media_base_url, settings.zalo_bot_token) \
            if settings.media_base_url else None
        channels["zalo"] = ZaloChannel(zalo, links, settings.max_photo_bytes)
    return channels


async def _cancelled(tasks: list[asyncio.Task]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def serve(settings: Settings, roles: Roles = Roles()) -> int:
    """Run until SIGTERM or SIGINT. A database that cannot be reached at start is said in one line and tried
    again with backoff."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        with sole_process(settings.database_url):
            return await _serve(settings, roles, stopping)
    except AnotherProcess as error:
        log.error("%s", error)
        return 1


async def _serve(settings: Settings, roles: Roles, stopping: asyncio.Event) -> int:
    app = await _built_when_reachable(settings, stopping)
    if app is None:
        return 0
    service = Service(app, roles)
    try:
        try:
            await service.start()
        except OSError as error:  # the HTTP port is taken, most likely
            log.error("cannot start: %s (HTTP_HOST=%s, HTTP_PORT=%s)", error, settings.http_host, settings.http_port)
            return 1
        settle_memory()
        app.db.start_checkpoints()
        log.info("running (%s) on %s", ", ".join(k for k, v in roles.__dict__.items() if v),
                 app.db.engine.url.render_as_string())
        await stopping.wait()
        log.info("stopping: finishing what is in hand (at most %.0f s)", settings.shutdown_grace_seconds)
    finally:
        await service.stop()
        await app.close()
    log.info("stopped")
    return 0


async def _built_when_reachable(settings: Settings, stopping: asyncio.Event) -> App | None:
    backoff = 1.0
    while not stopping.is_set():
        try:
            return await build_app(settings)
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.error("database unreachable (%s); trying again in %.0f s",
                      (str(error).splitlines() or ["?"])[0][:200], backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), backoff)
        backoff = min(backoff * 2, 60.0)
    return None


def configure_logging(level: str, zone: tzinfo = UTC, file: Path | None = None) -> None:
    """Log lines with the local time and its offset from UTC (TZ), to stderr or to a file."""
    handler: logging.Handler = logging.StreamHandler()
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(file, encoding="utf-8")
    handler.setFormatter(_ZonedFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", zone=zone))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)  # one line per update is too much
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


class _ZonedFormatter(logging.Formatter):
    def __init__(self, fmt: str, *, zone: tzinfo) -> None:
        super().__init__(fmt)
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        return datetime.fromtimestamp(record.created, self.zone).strftime("%Y-%m-%d %H:%M:%S%z")


def settle_memory() -> None:
    """Call once the process has started. What was built while starting (modules, aiogram's and
    pydantic's types, the spec of every statement) lives as long as the process; frozen, it is left
    out of the collector's full passes, which otherwise walked all of it and paused the bot for
    100-300 ms at a time under load."""
    gc.collect()
    gc.freeze()
