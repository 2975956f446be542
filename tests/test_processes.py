"""The bot as a process of its own: starting without Telegram, SIGTERM in the middle of an album."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from common.messages import t
from storage.models import InboxUpdate
from tests.bot_process import BotProcess
from tests.chat import image_bytes
from tests.conftest import add_member, wait_until
from tests.telegram_user import TelegramUser
from tests.test_intake import at_the_photo_step

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX signals"),
              pytest.mark.timeout(600)]  # processes start slowly on a loaded machine (bot_process.START_SECONDS)


async def open_updates(app) -> int:
    async with app.db.session() as session:
        return (await session.execute(select(func.count()).select_from(InboxUpdate)
                                      .where(InboxUpdate.replied_at.is_(None)))).scalar_one()


async def album_stored(app, album: str, parts: int) -> bool:
    async with app.db.session() as session:
        return (await session.execute(select(func.count()).select_from(InboxUpdate)
                                      .where(InboxUpdate.album == album))).scalar_one() == parts


async def test_sigterm_while_an_album_is_gathered_handles_it_before_exiting(server, app, settings, tmp_path):
    await add_member(app, "8301")
    settings.album_wait_seconds = 2.0  # a wide window, so SIGTERM surely falls inside it
    bot = await BotProcess(settings, server, tmp_path).start()
    try:
        cadre = TelegramUser(server, 8301)
        await at_the_photo_step(cadre)
        for colour in ("red", "green", "blue"):
            server.send_photo(cadre.id, image_bytes(colour), media_group_id="a-8301")
        await wait_until(lambda: album_stored(app, "a-8301", 3), what="the album to be stored")
        assert await bot.terminate() == 0
    finally:
        bot.kill()
    assert (await cadre.replies())[0]["text"].startswith(t("photos.received", added=3, total=3))
    assert await open_updates(app) == 0
    assert "Traceback" not in bot.log()


async def test_started_offline_it_says_so_in_one_line_and_stops_at_once(server, settings, tmp_path):
    bot = await BotProcess(settings, server, tmp_path, TELEGRAM_API_URL="http://127.0.0.1:9").start(
        wait_for_polling=False)  # nothing listens on port 9
    try:
        await wait_until(lambda: bot.log().count("Telegram unreachable") >= 2, 30, what="two tries, said")
        assert await bot.terminate(within=10) == 0
    finally:
        bot.kill()
    assert "Traceback" not in bot.log()


async def test_a_token_telegram_refuses_is_said_in_one_line(server, settings, tmp_path):
    bot = await BotProcess(settings, server, tmp_path, TELEGRAM_BOT_TOKEN="999:refused").start(
        wait_for_polling=False)
    try:
        await wait_until(lambda: "refuses TELEGRAM_BOT_TOKEN" in bot.log(), 30, what="the refusal, said")
        assert await bot.terminate(within=10) == 0
    finally:
        bot.kill()
    assert "Traceback" not in bot.log()


def test_a_worker_needs_postgresql(settings, tmp_path):
    import os
    import subprocess

    from tests.bot_process import ROOT

    if settings.database_url.startswith("postgres"):
        pytest.skip("the refusal is SQLite's")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "123:abc", "DATABASE_URL": settings.database_url,
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "worker"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "PostgreSQL" in done.stderr and "Traceback" not in done.stderr


def children_of(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
async def test_a_killed_bot_leaves_no_chart_worker_behind(zalo_server, settings, tmp_path):
    """SIGKILL (a crash, the OOM killer) must not leave the bot's chart worker running, orphaned."""
    bot = await BotProcess(settings, zalo_server, tmp_path, TELEGRAM_BOT_TOKEN="", ZALO_BOT_TOKEN=zalo_server.token,
                           ZALO_API_URL=zalo_server.url).start(wait_for_polling=False)
    try:
        await zalo_server.wait_for(lambda: bool(zalo_server.calls_named("getUpdates")), 60, what="polling")
        await wait_until(lambda: len(children_of(bot.process.pid)) >= 2, 30, what="the chart worker to start")
        workers = children_of(bot.process.pid)  # the chart worker and multiprocessing's resource tracker
    finally:
        bot.kill()
    await wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 15,
                     what="the chart worker to exit with the bot")
