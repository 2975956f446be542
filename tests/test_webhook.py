"""Webhook mode and the HTTP app: the secret, storing before answering, /healthz and /metrics."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bot.app import Roles
from bot.channels.telegram import ALLOWED_UPDATES, SECRET_HEADER, WEBHOOK_PATH
from bot.http import HttpApp
from common.messages import t
from storage.db import Database
from storage.models import InboxUpdate
from tests.conftest import add_member, wait_until
from tests.telegram_user import RunningBot, TelegramUser


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def webhook_bot(server, app):
    """The bot in webhook mode: the fake server POSTs updates to its HTTP app."""
    port = free_port()
    app.settings.http_port = port
    app.settings.webhook_url = f"http://127.0.0.1:{port}/"
    running = RunningBot(server, app, album_wait=0.3, roles=Roles(plan=False))
    await running.service.start()
    await server.wait_for(lambda: server.webhook is not None, what="setWebhook")
    yield running
    await running.stop()


async def stored_updates(app) -> int:
    async with app.db.session() as session:
        return (await session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one()


async def test_webhook_mode_sets_the_webhook_and_answers_through_it(server, app, webhook_bot):
    await add_member(app, "8101")
    [call] = server.calls_named("setWebhook")
    assert call.params["url"] == f"http://127.0.0.1:{app.settings.http_port}{WEBHOOK_PATH}"
    assert call.params["allowed_updates"] == ALLOWED_UPDATES and call.params["max_connections"] == 40
    secret = call.params["secret_token"]
    assert len(secret) >= 32 and secret != app.settings.telegram_bot_token
    cadre = TelegramUser(server, 8101)
    assert t("help.title") in await cadre.text("/trogiup")
    assert server.webhook_posts and set(server.webhook_posts) == {200}
    assert not server.calls_named("getUpdates")  # no polling while a webhook is set
    assert await stored_updates(app) == 1


@pytest.mark.parametrize("header", [None, "wrong-secret"])
async def test_a_wrong_or_missing_secret_gets_401_and_nothing_is_stored(server, app, webhook_bot, header):
    update = {"update_id": 9001, "message": {"message_id": 1, "date": 0, "chat": {"id": 8102, "type": "private"},
                                             "from": {"id": 8102, "is_bot": False, "first_name": "X"},
                                             "text": "/trogiup"}}
    headers = {SECRET_HEADER: header} if header else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{app.settings.http_port}{WEBHOOK_PATH}", json=update,
                                headers=headers) as answer:
            assert answer.status == 401
        secret = server.calls_named("setWebhook")[0].params["secret_token"]
        async with session.post(f"http://127.0.0.1:{app.settings.http_port}{WEBHOOK_PATH}", json=update,
                                headers={SECRET_HEADER: secret}) as answer:
            assert answer.status == 200
    assert await stored_updates(app) == 1  # only the one with the right secret
    await server.wait_for_messages(8102, 1)  # and it was handled: an unregistered person is told so


async def test_polling_deletes_the_webhook_first(server, app, bot):
    assert server.calls_named("deleteWebhook") and server.calls_named("getUpdates")
    first_poll = server.calls.index(server.calls_named("getUpdates")[0])
    assert server.calls.index(server.calls_named("deleteWebhook")[0]) < first_poll


async def test_health_and_metrics(server, app, webhook_bot):
    await add_member(app, "8103")
    await TelegramUser(server, 8103).say("/trogiup")
    base = f"http://127.0.0.1:{app.settings.http_port}"
    async with aiohttp.ClientSession() as session:
        async def health_now() -> dict:
            async with session.get(base + "/healthz") as answer:
                assert answer.status == 200
                return await answer.json()

        await wait_until(lambda: _backlog_gone(health_now), what="the reply to be marked sent")
        health = await health_now()
        async with session.get(base + "/metrics") as answer:
            assert answer.status == 200
            families = {f.name: f for f in text_string_to_metric_families(await answer.text())}
    assert health["database"] == "ok" and health["inbox_backlog"] == 0 and health["outbox_backlog"] == 0
    assert 0 <= health["last_update_age_seconds"] < 60
    received = {tuple(s.labels.values()): s.value for s in families["nguoitot_updates_received"].samples
                if s.name.endswith("_total")}
    assert received[("telegram", "message")] >= 1
    assert families["nguoitot_handling_seconds"].samples
    assert "nguoitot_inbox_backlog" in families and "nguoitot_outbox_backlog" in families


async def _backlog_gone(health_now) -> bool:
    return (await health_now())["inbox_backlog"] == 0


async def test_health_is_503_when_the_database_is_down(app):
    unreachable = Database("postgresql://nobody@127.0.0.1:9/nothing")  # nothing listens on port 9
    http = HttpApp(unreachable, app.core.clock, [], max_backlog_age=300)
    await http.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{http.port}/healthz") as answer:
                body = await answer.json()
                assert answer.status == 503 and body["database"] == "unreachable"
            async with session.get(f"http://127.0.0.1:{http.port}/metrics") as answer:
                assert answer.status == 200  # the counters are still there to read
    finally:
        await http.stop()
        await unreachable.dispose()
