"""Zalo: receiving (polling, the webhook and its secret), bad input of every kind, photos that arrive as URLs,
the signed links reviewers' photos are sent from, and the outbox's limits, retries and refusals."""

from __future__ import annotations

import io
import os
import time

import aiohttp
import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.channels.zalo import SECRET_HEADER, WEBHOOK_PATH, ZaloApi, ZaloChannel
from bot.media_links import MediaLinks
from common.events import Reply
from common.messages import t
from common.text import split_text
from scheduler.outbox import Message, OutboxSender, enqueue
from storage import repo
from storage.models import InboxUpdate, Outbox, Role
from tests.chat import image_bytes
from tests.cli import run_cli_async
from tests.conftest import add_member, new_invite, wait_until
from tests.fakes.telegram_server import Fault
from tests.people import ZaloPerson, start_service
from tests.test_telegram_e2e import DESCRIPTION


async def stored_updates(app) -> int:
    async with app.db.session() as session:
        return (await session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one()


async def draft_until(cadre: ZaloPerson, step: str) -> None:
    """Answer the nomination's questions, typed, until `step` is asked."""
    answers = {"kind": "1", "name": "Lê Văn Cường", "birth_year": "1980", "ethnicity": "kinh", "position": "bo qua",
               "address": "1", "field": "6", "movement": "khong ro", "description": DESCRIPTION, "when": "1"}
    await cadre.say("de cu", count=2)
    for key, answer in answers.items():
        if key == step:
            return
        await cadre.say(answer)


@pytest.fixture
async def webhook_zalo(zalo_server, app):
    service = await start_service(app, zalo=zalo_server, webhook=True)
    yield service
    await service.stop()


# ---- receiving
async def test_polling_deletes_the_webhook_first_and_asks_one_update_at_a_time(zalo_server, zalo_bot, app):
    assert zalo_server.calls_named("deleteWebhook") and zalo_server.calls_named("getMe")
    polls = zalo_server.calls_named("getUpdates")
    assert zalo_server.calls.index(zalo_server.calls_named("deleteWebhook")[0]) < zalo_server.calls.index(polls[0])
    assert polls[0].params == {"timeout": 1}
    stranger = ZaloPerson(zalo_server, "z-stranger")
    assert await stranger.say("xin chào") == [t("access.unregistered")]


async def test_webhook_mode_stores_each_update_before_answering_in_either_shape(zalo_server, webhook_zalo, app):
    [call] = zalo_server.calls_named("setWebhook")
    assert call.params == {"url": f"{app.settings.public_base_url}{WEBHOOK_PATH}",
                           "secret_token": app.settings.zalo_webhook_secret}
    await add_member(app, "z81", channel="zalo")
    cadre = ZaloPerson(zalo_server, "z81")
    assert (await cadre.say("/trogiup"))[0].startswith(t("help.title"))
    zalo_server.wrap_webhook = True  # {"ok": true, "result": update}: the same
    assert (await cadre.say("tro giup"))[0].startswith(t("help.title"))
    assert set(zalo_server.webhook_posts) == {200} and not zalo_server.calls_named("getUpdates")
    assert await stored_updates(app) == 2


@pytest.mark.parametrize("header", [None, "wrong-secret"])
async def test_a_wrong_or_missing_secret_gets_401_and_nothing_is_stored(zalo_server, webhook_zalo, app, header):
    update = zalo_server._update("message.text.received", "z82", "X", text="/trogiup")
    url = f"{app.settings.public_base_url}{WEBHOOK_PATH}"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=update, headers={SECRET_HEADER: header} if header else {}) as answer:
            assert answer.status == 401
    assert await stored_updates(app) == 0


async def test_bad_webhook_bodies_are_refused_and_a_batch_is_taken_apart(zalo_server, webhook_zalo, app, caplog):
    url = f"{app.settings.public_base_url}{WEBHOOK_PATH}"
    headers = {SECRET_HEADER: app.settings.zalo_webhook_secret}
    numeric = zalo_server._update("message.text.received", "z83", "X", text="hi")
    numeric["message"]["from"]["id"] = 83  # an id that is not a string
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data="not json", headers=headers) as answer:
            assert answer.status == 400
        async with session.post(url, json=numeric, headers=headers) as answer:
            assert answer.status == 400
        assert await stored_updates(app) == 0 and "refused: a Zalo update that is not as documented" in caplog.text
        batch = [zalo_server._update("message.text.received", chat, "X", text="/trogiup") for chat in ("z84", "z85")]
        async with session.post(url, json=batch, headers=headers) as answer:
            assert answer.status == 200  # one update is what the contract promises; each of two is kept
    assert await stored_updates(app) == 2 and "2 updates where one was expected" in caplog.text
    for chat in ("z84", "z85"):
        assert await zalo_server.wait_for_texts(chat, 1) == [t("access.unregistered")]


async def test_a_group_is_not_for_us(zalo_server, zalo_bot, app):
    group = zalo_server._update("message.text.received", "z86", "X", text="/trogiup")
    group["message"]["chat"] = {"id": "g1", "chat_type": "GROUP"}
    zalo_server.push_update(group)
    await ZaloPerson(zalo_server, "z87").say("xin chào")  # a round trip after it
    assert await stored_updates(app) == 1 and zalo_server.texts_to("g1") == []


# ---- bad input keeps what was entered
async def test_stickers_voice_unknown_events_and_long_text_mid_flow_keep_the_draft(zalo_server, zalo_bot, app,
                                                                                   caplog):
    await add_member(app, "z90", channel="zalo")
    cadre = ZaloPerson(zalo_server, "z90")
    await draft_until(cadre, "birth_year")
    for send, what in ((zalo_server.send_sticker, "sticker"), (zalo_server.send_voice, "voice"),
                       (zalo_server.send_unsupported, "other"),
                       (lambda chat: zalo_server.send_unsupported(chat, "message.location.received"), "other")):
        send(cadre.id)
        unsupported, prompt = await cadre.replies(2)
        assert unsupported == t("input.unsupported", what=t(f"input.unsupported.{what}"))
        assert prompt.startswith(t("nom.birth_year.prompt"))
    assert "unknown event 'message.location.received'" in caplog.text
    for answer in ("khong ro", "kinh", "bo qua", "1", "6", "khong ro"):  # birth year … movement
        await cadre.say(answer)
    too_long = ("Anh Cường sửa đường cho cả xóm. " * 120)[:3500]
    assert (await cadre.say(too_long))[0].startswith(t("invalid.text.too_long", max=3000, length=3500)[:30])
    story = "\n".join(f"Đoạn {i}: anh Cường sửa đường, dựng cầu cho trẻ em đi học." for i in range(45))
    assert len(story) > 2000
    await cadre.say(story)  # over 2,000 characters: taken whole
    await cadre.say("1")
    await cadre.send_photos([image_bytes()])
    await cadre.say("bo qua")
    zalo_server.send_text(cadre.id, "co")
    await zalo_server.wait_for(lambda: cadre.texts()[-1].endswith("3. ❌ Hủy"), what="the summary")
    parts = cadre.texts()[cadre.seen:]
    assert len(parts) == 2 and all(len(p) <= 2000 for p in parts)  # split at a line break, never cut
    assert story in "\n".join(parts) and "• Tên: Lê Văn Cường" in parts[0]


async def test_an_unknown_event_outside_a_flow_says_what_the_bot_understands(zalo_server, zalo_bot, app):
    await add_member(app, "z91", channel="zalo")
    zalo_server.send_unsupported("z91", "message.reaction.received")
    assert (await ZaloPerson(zalo_server, "z91").replies())[0] == t("unknown.text", hint=t("hint.cadre"))


async def test_photo_urls_that_fail_time_out_are_no_image_or_too_big(zalo_server, zalo_bot, app, caplog):
    await add_member(app, "z92", channel="zalo")
    cadre = ZaloPerson(zalo_server, "z92")
    channel: ZaloChannel = zalo_bot.channels["zalo"]
    channel.fetch_timeout = aiohttp.ClientTimeout(total=0.3)
    await draft_until(cadre, "photos")
    await cadre.say("1")  # "Hôm nay": the photo step
    zalo_server.send_photo(cadre.id, image_bytes("red"), failures=2)  # fails twice, then comes: retried
    assert (await cadre.replies())[0].startswith(t("photos.received", added=1, total=1))
    for behaviour in ({"failures": 9}, {"delay": 2.0}, {"missing": True}):
        zalo_server.send_photo(cadre.id, image_bytes("blue"), **behaviour)
        assert (await cadre.replies())[0] == t("photos.fetch_failed_unnamed")
    zalo_server.send_photo(cadre.id, b"<html>not a photo</html>")
    assert (await cadre.replies())[0] == t("photos.not_image_unnamed")
    channel.max_photo_bytes = app.core.conversations.max_photo_bytes = 2000
    zalo_server.send_photo(cadre.id, noise_png())
    assert (await cadre.replies())[0] == t("photos.too_big_unnamed")
    async with app.db.session() as session:
        state = (await repo.conversation_of(session, (await repo.account_of(session, "zalo", "z92")).person_id)).state
    assert len(state["answers"]["photos"]) == 1 and state["answers"]["name"] == "Lê Văn Cường"  # nothing lost
    assert "photo download failed" in caplog.text


def noise_png() -> bytes:
    """An image that does not compress: bigger than its pixels suggest."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (100, 100), os.urandom(30_000)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_photos_sent_in_one_go_get_one_answer(zalo_server, zalo_bot, app):
    await add_member(app, "z93", channel="zalo")
    cadre = ZaloPerson(zalo_server, "z93")
    await draft_until(cadre, "photos")
    await cadre.say("1")
    [ack] = await cadre.send_photos([image_bytes(c) for c in ("red", "green", "blue", "white")])
    assert ack.startswith(t("photos.received", added=4, total=4))
    await cadre.say("xong")  # still accepted
    assert cadre.texts()[-1].startswith(t("nom.phone.prompt"))


# ---- the signed links a reviewer's photos are sent from
async def test_signed_links_expire_and_cannot_be_forged(app):
    from bot.http import HttpApp

    data = image_bytes("red")
    info = await app.media.save(data)
    now = [time.time()]
    links = MediaLinks.for_token(app.media, "http://127.0.0.1", "token", now=lambda: now[0])
    http = HttpApp(app.db, app.core.clock, [links.route()], max_backlog_age=300)
    await http.start("127.0.0.1", 0)
    base = f"http://127.0.0.1:{http.port}"
    good = links.url(info.sha256).removeprefix("http://127.0.0.1")
    try:
        async with aiohttp.ClientSession() as session:
            async def status(path: str) -> int:
                async with session.get(base + path) as answer:
                    return answer.status if answer.status != 200 else (200 if await answer.read() == data else -1)

            assert await status(good) == 200
            assert await status(good.replace("&s=", "&s=0")) == 403  # forged
            assert await status(good.replace(info.sha256, "a" * 64)) == 403  # another photo, same signature
            assert await status(f"/media/{info.sha256}.jpg") == 403  # unsigned
            other = MediaLinks.for_token(app.media, "http://127.0.0.1", "another token").url(info.sha256)
            assert await status(other.removeprefix("http://127.0.0.1")) == 403  # another bot's secret
            missing = links.url("b" * 64).removeprefix("http://127.0.0.1")
            assert await status(missing) == 404
            now[0] += 601
            assert await status(good) == 403  # expired
    finally:
        await http.stop()


def test_texts_are_split_at_line_breaks_under_two_thousand_characters():
    text = "\n".join(f"{i}. Hồ sơ NT-2026-{i:05d} – Nguyễn Văn An – đã gửi (22/11)" for i in range(1, 80))
    parts = split_text(text, 2000)
    assert len(parts) > 1 and all(len(p) <= 2000 for p in parts) and "\n".join(parts) == text


# ---- what the bot sends on its own, through the outbox
async def zalo_message(app, chat: str, key: str, person_id: int) -> Message:
    now = app.core.clock.now()
    return Message(key, person_id, "zalo", chat, "test", Reply(f"Nhắc {key}"), now)


async def test_the_outbox_keeps_to_zalo_s_limits_and_retries(zalo_server, app):
    person_id = await add_member(app, "z95", channel="zalo")
    zalo_server.rate_limit(per_chat_per_second=1)
    zalo_server.queue_faults("sendMessage", Fault.server_error(), Fault.server_error())
    async with app.db.session() as session:
        await enqueue(session, [await zalo_message(app, "z95", f"k{i}", person_id) for i in range(3)],
                      app.core.clock.now())
    api = ZaloApi(zalo_server.token, zalo_server.url)
    rates = app.settings.channel_rates()
    assert rates["zalo"] == (10.0, 1.0)  # conservative: about one a second per chat
    sender = OutboxSender(app.db, app.core.clock, {"zalo": ZaloChannel(api, None, 1000)}, rate=1000, per_chat=1000,
                          channel_rates=rates)
    try:
        for _ in range(10):  # retries are due later: move the injected clock, not the real one
            await sender.run_until_idle()
            if len(zalo_server.sent_to("z95")) == 3:
                break
            app.core.clock.advance(seconds=60)
    finally:
        await api.close()
    sent = zalo_server.sent_to("z95")
    assert sorted(s.text for s in sent) == ["Nhắc k0", "Nhắc k1", "Nhắc k2"]  # each once, after two 5xx
    assert zalo_server.rejected_429 == 0  # the per-chat limit was kept, not hit
    assert all(b.at - a.at >= 0.9 for a, b in zip(sent, sent[1:], strict=False))


async def test_a_person_who_blocked_the_bot_on_zalo_is_marked_unreachable(zalo_server, app):
    person_id = await add_member(app, "z96", channel="zalo", name="Chị Mai")
    await add_member(app, "s96", role=Role.SECRETARY, village=None, channel="telegram")
    zalo_server.queue_faults("sendMessage", Fault.forbidden())
    async with app.db.session() as session:
        await enqueue(session, [await zalo_message(app, "z96", "blocked", person_id)], app.core.clock.now())
    api = ZaloApi(zalo_server.token, zalo_server.url)
    recorded = []

    class Telegram:
        async def deliver(self, chat_id: str, reply: Reply, once: str = "") -> None:
            recorded.append((chat_id, reply.text))

    try:
        await OutboxSender(app.db, app.core.clock, {"zalo": ZaloChannel(api, None, 1000), "telegram": Telegram()},
                           channel_rates=app.settings.channel_rates()).run_until_idle()
    finally:
        await api.close()
    async with app.db.session() as session:
        assert (await repo.account_of(session, "zalo", "z96")).unreachable_at is not None
        statuses = (await session.execute(select(Outbox.key, Outbox.status))).all()
    assert ("blocked", "unreachable") in statuses
    assert recorded == [("s96", t("remind.unreachable", name="Chị Mai"))]  # the secretary is told


# ---- the command line
async def test_invite_says_what_a_zalo_user_does(zalo_server, app, settings, monkeypatch, capsys, in_empty_folder):
    status, out, _ = await run_cli_async(["invite", "--role", "cadre", "--commune", "00070", "--village",
                                          "Thôn Đông"], settings, monkeypatch, capsys,
                                         ZALO_BOT_TOKEN=zalo_server.token, ZALO_API_URL=zalo_server.url)
    assert status == 0
    code = out.splitlines()[1].strip()
    assert f"Zalo: nhắn cho bot {zalo_server.bot_name} trên Zalo đúng mã này (hoặc /start {code})" in out
    assert "t.me" not in out  # Zalo alone: no Telegram link
    cadre = ZaloPerson(zalo_server, "z97")
    service = await start_service(app, zalo=zalo_server)
    try:
        assert (await cadre.say(f"/start {code}"))[0].startswith("Chào mừng")
    finally:
        await service.stop()


async def test_the_invite_code_works_on_zalo_as_sent(zalo_server, zalo_bot, app):
    code = await new_invite(app)
    assert (await ZaloPerson(zalo_server, "z98").say(f"  {code} "))[0].startswith("Chào mừng")
    assert (await ZaloPerson(zalo_server, "z99").say(code))[0] == t("invite.used")


async def test_unreachable_then_writing_again_clears_it(zalo_server, zalo_bot, app):
    await add_member(app, "z100", channel="zalo")
    async with app.db.session() as session:
        await repo.set_reachable(session, "zalo", "z100", app.core.clock.now())
    await ZaloPerson(zalo_server, "z100").say("/trogiup")

    async def reachable() -> bool:
        async with app.db.session() as session:
            return (await repo.account_of(session, "zalo", "z100")).unreachable_at is None

    await wait_until(reachable, what="the account to be reachable again")
