"""The web chat over HTTP: sign-in, cookies, CSRF, rate limits, uploads, what a browser fetches, and the same
conversation as on the other channels."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re

import aiohttp
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlmodel import select as select_models

from bot.channels.web import CSRF_HEADER, SESSION_COOKIE
from bot.intake import Worker
from common.messages import t
from storage import repo
from storage.models import Account, InboxUpdate, Role
from tests.chat import image_bytes
from tests.conftest import add_member, new_invite


class Browser:
    """A browser's view of the web chat: its cookies, its CSRF token, the messages it has fetched."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies for 127.0.0.1
        self.csrf = ""
        self.last = 0
        self.sent = 0

    async def close(self) -> None:
        await self.http.close()

    async def state(self) -> dict:
        async with self.http.get(self.base + "/chat/api/session") as answer:
            body = await answer.json()
        self.csrf = body["csrf"]
        return body

    async def post(self, path: str, body: dict, *, csrf: str | None = None, origin: str | None = None):
        headers = {CSRF_HEADER: self.csrf if csrf is None else csrf}
        if origin:
            headers["Origin"] = origin
        async with self.http.post(self.base + path, json=body, headers=headers) as answer:
            return answer.status, await answer.json()

    async def sign_in(self, code: str, name: str = "Người Dùng Web") -> tuple[int, dict]:
        await self.state()
        status, body = await self.post("/chat/api/signin", {"code": code, "name": name})
        if status == 200:
            self.csrf = body["csrf"]
        return status, body

    async def say(self, text: str, *, message_id: str | None = None) -> tuple[int, dict]:
        self.sent += 1
        return await self.post("/chat/api/send", {"id": message_id or f"message-{self.sent:04d}", "text": text})

    async def upload(self, *files: tuple[str, bytes], message_id: str = "upload-0001") -> tuple[int, dict]:
        form = aiohttp.FormData()
        form.add_field("id", message_id)
        for name, data in files:
            form.add_field("photo", data, filename=name, content_type="image/jpeg")
        async with self.http.post(self.base + "/chat/api/photos", data=form, headers={CSRF_HEADER: self.csrf}) as answer:
            return answer.status, await answer.json()

    async def fetch(self, wait: bool = False) -> tuple[int, list[dict]]:
        query = f"?since={self.last}" + ("&wait=1" if wait else "")
        async with self.http.get(self.base + "/chat/api/messages" + query) as answer:
            body = await answer.json()
        messages = body.get("messages", [])
        if messages:
            self.last = messages[-1]["id"]
        return answer.status, messages

    async def replies_until(self, text: str) -> list[dict]:
        """The bot's messages fetched (long polling) until one contains `text`."""
        seen: list[dict] = []
        async with asyncio.timeout(15):
            while not any(text in m["text"] for m in seen):
                status, messages = await self.fetch(wait=True)
                assert status == 200
                seen += [m for m in messages if not m["mine"]]
        return seen


@pytest.fixture
async def browsers(web_service):
    opened: list[Browser] = []

    def new() -> Browser:
        opened.append(Browser(web_service.base_url))
        return opened[-1]

    yield new
    for browser in opened:
        await browser.close()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def inbox_rows(app) -> int:
    async with app.db.session() as session:
        return (await session.execute(select(func.count()).select_from(InboxUpdate))).scalar_one()


async def test_a_wrong_code_signs_no_one_in(app, browsers):
    browser = browsers()
    status, body = await browser.sign_in("khong-phai-ma-moi-nao-ca")
    assert status == 401 and body["error"] == t("invite.unknown")
    assert SESSION_COOKIE not in {c.key for c in browser.http.cookie_jar}
    assert (await browser.state())["signed_in"] is False
    status, body = await browser.sign_in("khong-phai-ma-moi-nao-ca", name="")  # the code is what is wrong
    assert status == 401 and body["error"] == t("invite.unknown")
    status, body = await browser.sign_in("LK-2345-6789")  # a link code no one asked for, or used, or expired
    assert status == 401 and body["error"] == t("web.signin.link_refused")
    code = await new_invite(app)
    status, body = await browser.sign_in(code, name="")  # an invitation asks for the person's name
    assert status == 401 and body["error"] == t("web.signin.no_name")


async def test_sign_in_sets_a_signed_httponly_lax_cookie_and_opens_the_chat(app, web_service, browsers):
    browser = browsers()
    status, body = await browser.sign_in(await new_invite(app), "Nguyễn Văn An")
    assert status == 200 and body["name"] == "Nguyễn Văn An"
    async with browser.http.get(web_service.base_url + "/chat/api/session") as answer:
        assert (await answer.json())["signed_in"] is True
    raw = None
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as plain:  # Set-Cookie as sent
        await plain.get(web_service.base_url + "/chat/api/session")
        state = await (await plain.get(web_service.base_url + "/chat/api/session")).json()
        async with plain.post(web_service.base_url + "/chat/api/signin", json={"code": await new_invite(app),
                                                                                 "name": "Lê Thị Bé"},
                              headers={CSRF_HEADER: state["csrf"]}) as answer:
            raw = answer.headers.getall("Set-Cookie")
    session_cookie = next(c for c in raw if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie and "Path=/chat" in session_cookie
    [welcome] = [m for m in (await browser.fetch())[1]]
    assert welcome["text"].startswith("Chào mừng Nguyễn Văn An!") and welcome["menu"][0] == t("menu.nominate")


async def test_a_forged_or_replayed_cookie_is_refused(app, web_service, browsers):
    browser = browsers()
    await browser.sign_in(await new_invite(app), "Phạm Thu")
    cookie = next(c for c in browser.http.cookie_jar if c.key == SESSION_COOKIE).value
    token, _, mac = cookie.rpartition(".")
    base = web_service.base_url + "/chat/api/session"
    async with aiohttp.ClientSession() as thief:
        for forged in (f"{token}.{'A' * len(mac)}", f"{token[:-2]}xy.{mac}", token):
            async with thief.get(base, headers={"Cookie": f"{SESSION_COOKIE}={forged}"}) as answer:
                assert (await answer.json())["signed_in"] is False
        async with thief.get(base, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}) as answer:
            assert (await answer.json())["signed_in"] is True  # the real one works…
        assert (await browser.post("/chat/api/signout", {}))[0] == 200
        async with thief.get(base, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}) as answer:
            assert (await answer.json())["signed_in"] is False  # …until signed out: replaying it signs no one in
        async with thief.post(web_service.base_url + "/chat/api/send", json={"id": "replayed-01", "text": "/hoso"},
                              headers={"Cookie": f"{SESSION_COOKIE}={cookie}",
                                       CSRF_HEADER: browser.csrf}) as answer:
            assert answer.status == 401
    assert await inbox_rows(app) == 0


async def test_every_state_changing_request_needs_the_csrf_token(app, web_service, browsers):
    browser = browsers()
    await browser.state()
    status, _ = await browser.post("/chat/api/signin", {"code": await new_invite(app), "name": "Ai Đó"}, csrf="")
    assert status == 403
    assert (await browser.sign_in(await new_invite(app), "Ai Đó"))[0] == 200
    for csrf in ("", "not-the-token"):
        status, body = await browser.post("/chat/api/send", {"id": "no-token-001", "text": "/hoso"}, csrf=csrf)
        assert status == 403 and body["error"] == t("web.csrf")
    status, _ = await browser.post("/chat/api/send", {"id": "cross-site-1", "text": "/hoso"},
                                   origin="https://evil.example")
    assert status == 403  # another site's page, even with a stolen token
    form = aiohttp.FormData()
    form.add_field("id", "upload-no-token")
    form.add_field("photo", image_bytes(), filename="a.jpg")
    async with browser.http.post(web_service.base_url + "/chat/api/photos", data=form) as answer:
        assert answer.status == 403
    assert (await browser.post("/chat/api/signout", {}, csrf=""))[0] == 403
    assert await inbox_rows(app) == 0
    assert (await browser.say("/hoso"))[0] == 200
    assert await inbox_rows(app) == 1


async def test_oversized_and_non_image_uploads_are_refused_before_anything_is_stored(app, web_service, browsers):
    browser = browsers()
    await browser.sign_in(await new_invite(app), "Cán Bộ Ảnh")
    web_service.web_chat.max_photo_bytes = 50_000  # MAX_PHOTO_BYTES, smaller for the test
    big = _png(Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3)))  # noise: no compression
    assert len(big) > 50_000
    status, body = await browser.upload(("good.jpg", image_bytes()), ("to-qua.png", big))
    assert status == 413 and body["error"] == t("photos.too_big", name="to-qua.png")
    status, body = await browser.upload(("quyet-dinh.pdf", b"%PDF-1.7 not a photo"))
    assert status == 415 and body["error"] == t("photos.not_image", name="quyet-dinh.pdf")
    status, body = await browser.upload(("hong.jpg", image_bytes()[:200]))  # a truncated JPEG
    assert status == 415
    assert await inbox_rows(app) == 0
    assert not [p for p in app.settings.media_dir.rglob("*") if p.is_file()]  # nothing kept


async def test_the_conversation_over_the_web_is_the_core_with_photos_and_typed_choices(app, web_service, browsers):
    browser = browsers()
    await browser.sign_in(await new_invite(app), "Cán Bộ Web")
    await browser.fetch()
    await browser.say("de cu")  # words, without diacritics
    first = await browser.replies_until(t("nom.kind.prompt"))
    assert [c[0] for c in first[-1]["choices"]] == ["Cá nhân", "Tập thể", "Hộ gia đình"]
    await browser.say("2")  # a number answers a choice
    await browser.replies_until(t("nom.name.prompt.tap_the"))
    for text in ("Chi hội Phụ nữ thôn Đông", "bo qua", "1", "Tài chính, ngân hàng", "khong ro",
                 "Chi hội đã góp 20 triệu đồng sửa nhà cho hai hộ nghèo trong thôn.", "tuan truoc"):
        await browser.say(text)
    await browser.replies_until(t("nom.photos.prompt"))
    status, _ = await browser.upload(("mot.jpg", image_bytes("red")), ("hai.jpg", image_bytes("blue")))
    assert status == 200
    received = await browser.replies_until(t("photos.received", added=2, total=2))
    assert received[-1]["text"].startswith(t("photos.received", added=2, total=2))
    mine = [m for m in await _all(browser) if m["mine"] and m["photos"]]
    assert len(mine[-1]["photos"]) == 2  # the person's own photos show in their chat
    async with browser.http.get(web_service.base_url + mine[-1]["photos"][0]) as answer:
        assert answer.status == 200 and answer.content_type == "image/jpeg"


async def _all(browser: Browser) -> list[dict]:
    again = Browser(browser.base)
    again.http.cookie_jar.update_cookies({c.key: c.value for c in browser.http.cookie_jar})
    try:
        return (await again.fetch())[1]
    finally:
        await again.close()


async def test_a_resent_message_is_taken_once_and_a_new_browser_gets_what_it_missed(app, web_service, browsers):
    browser = browsers()
    await browser.sign_in(await new_invite(app), "Ngô Gửi Lại")
    for _ in range(3):  # the network failed after the server had it: the browser sends it again, same id
        assert (await browser.say("/hoso", message_id="same-message-01"))[0] == 200
    await browser.replies_until(t("cases.none"))
    assert await inbox_rows(app) == 1
    status, messages = await browser.fetch()
    assert status == 200 and messages == []  # nothing new after the last id it has
    other = browsers()  # the same person's phone, offline until now: it gets the history, in order
    other.http.cookie_jar.update_cookies({c.key: c.value for c in browser.http.cookie_jar})
    texts = [m["text"] for m in (await other.fetch())[1]]
    assert texts[0].startswith("Chào mừng") and texts[1:] == ["/hoso", t("cases.none")]


async def test_a_reply_sent_again_after_a_crash_is_shown_once(app, web_service, browsers):
    """A crash between sending a reply and marking it sent has the next process send it again: on the web sending
    is a write, and the reply's key (its inbox row, its place) keeps it once."""
    browser = browsers()
    await browser.sign_in(await new_invite(app), "Lý Một Lần")
    assert (await browser.say("/hoso"))[0] == 200
    await browser.replies_until(t("cases.none"))
    async with app.db.session() as session:  # as if the process had died before the mark landed
        row = (await session.exec(select_models(InboxUpdate).order_by(InboxUpdate.id.desc()))).first()
        row.replied_at = None
        session.add(row)
    key = (row.channel, row.chat_id)
    restarted = Worker(app.core, app.db, web_service.locks, web_service.channels, album_wait=0.1)
    await restarted._work_through(key, await restarted._open_rows(key))
    await restarted.stop(grace=10.0)  # its marks written
    async with app.db.session() as session:
        assert (await session.get(InboxUpdate, row.id)).replied_at is not None  # owed, sent, marked
    other = browsers()  # the same person's phone: everything the chat holds
    other.http.cookie_jar.update_cookies({c.key: c.value for c in browser.http.cookie_jar})
    assert [m["text"] for m in (await other.fetch())[1]][1:] == ["/hoso", t("cases.none")]


async def test_messages_arrive_over_the_websocket_and_after_a_reconnect(app, web_service, browsers):
    browser = browsers()
    await browser.sign_in(await new_invite(app), "Đinh Sóng")
    url = web_service.base_url.replace("http", "ws") + "/chat/ws?since=0"
    async with browser.http.ws_connect(url) as socket:
        welcome = await socket.receive_json(timeout=10)
        last = welcome["messages"][-1]["id"]
        await browser.say("/trogiup")
        pushed = []
        while not any(m["text"].startswith(t("help.title")) for m in pushed):
            pushed += (await socket.receive_json(timeout=10))["messages"]
    await browser.say("/hoso")  # while no socket is open
    async with browser.http.ws_connect(url.replace("since=0", f"since={pushed[-1]['id']}")) as socket:
        missed = []
        while not any(m["text"] == t("cases.none") for m in missed):
            missed += (await socket.receive_json(timeout=10))["messages"]
    assert all(m["id"] > last for m in pushed) and [m["text"] for m in missed][0] == "/hoso"
    async with aiohttp.ClientSession() as stranger:
        async with stranger.get(web_service.base_url + "/chat/api/messages?since=0") as answer:
            assert answer.status == 401


async def test_sessions_expire_and_a_revoked_person_is_signed_out(app, web_service, browsers, clock):
    secretary = await add_member(app, "sec-1", role=Role.SECRETARY, village=None)
    browser = browsers()
    await browser.sign_in(await new_invite(app), "Vũ Thu Hồi")
    url = web_service.base_url.replace("http", "ws") + "/chat/ws?since=0"
    async with browser.http.ws_connect(url) as socket:
        await socket.receive_json(timeout=10)
        async with app.db.session() as session:
            [account] = (await session.exec(select_models(Account).where(Account.channel == "web"))).all()
            assert await repo.revoke_memberships(session, account.person_id, "00070", clock.now())
        told = await socket.receive_json(timeout=10)
        assert told == {"signed_out": True}
    assert (await browser.state())["signed_in"] is False
    assert secretary  # the person who revoked: still there

    later = browsers()
    await later.sign_in(await new_invite(app), "Hà Hết Hạn")
    assert (await later.state())["signed_in"] is True
    clock.advance(days=app.settings.web_session_days + 1)
    state = await later.state()
    assert state["signed_in"] is False and state["signed_out"] is True


async def test_sign_in_attempts_are_rate_limited_per_address(app, browsers):
    browser = browsers()
    answers = [(await browser.sign_in(f"doan-ma-{n:02d}-aaaaaaaaaaaa"))[0] for n in range(12)]
    assert answers[:app.settings.web_signin_per_minute] == [401] * app.settings.web_signin_per_minute
    assert answers[-1] == 429
    other = browsers()  # a new browser from the same address is limited too
    assert (await other.sign_in(await new_invite(app), "Khác"))[0] == 429


async def test_security_headers(app, web_service, browsers):
    async with aiohttp.ClientSession() as plain:
        async with plain.get(web_service.base_url + "/chat") as answer:
            csp = answer.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
            assert answer.headers["X-Content-Type-Options"] == "nosniff"
            page = await answer.text()
            assert "<script>" not in page and "onclick" not in page  # no inline script for the CSP to allow
        async with plain.get(web_service.base_url + "/cong-khai/00070") as answer:
            assert "frame-ancestors 'self'" in answer.headers["Content-Security-Policy"]
        for name in ("chat.js", "chat.css"):
            async with plain.get(web_service.base_url + f"/chat/static/{name}") as answer:
                assert answer.status == 200
                assert re.findall(r"https?://", await answer.text()) == []  # nothing from another server


async def test_a_draft_started_on_telegram_is_finished_on_the_web(app, web_service, browsers):
    """The same person on two channels shares one conversation: here signed in on the web with a code that
    names them (the seam a /lienket link code uses)."""
    from tests.chat import Chat

    person = await add_member(app, "7777", name="Chị Hai")
    telegram = Chat(app.core, "7777")
    await telegram.say("/decu")
    await telegram.press_label("Cá nhân")
    await telegram.say("Đặng Thị Tư")

    async def link_code(session, code, now):
        return person if code == "ma-lien-ket-thu" else None

    web_service.access.person_codes.append(link_code)
    browser = browsers()
    status, _ = await browser.sign_in("ma-lien-ket-thu")
    assert status == 200
    await browser.say("1970")
    replies = await browser.replies_until(t("nom.ethnicity.prompt"))
    assert replies[0]["text"] == t("welcome.back", name="Chị Hai", hint=t("hint.cadre"))


def test_message_views_are_plain_json():
    from types import SimpleNamespace

    from bot.channels.web import view
    from common.events import Choice, Reply, reply_to_json

    row = SimpleNamespace(id=7, mine=False, client_key=None, payload=reply_to_json(
        Reply("Chọn:", (Choice("Có", "consent:yes"),), columns=3, photos=("a" * 64,), invite="MA")))
    drawn = view(row)
    assert json.loads(json.dumps(drawn)) == drawn
    assert drawn["choices"] == [["Có", "consent:yes"]] and drawn["photos"] == [f"/chat/photo/{'a' * 64}"]
    assert drawn["text"].endswith(t("web.invite", code="MA")) and drawn["menu"] is None
