"""The web chat adapter (`/chat`): a browser's messages into the inbox, the bot's replies kept for the browser.

- In: a typed text, a pressed button or a batch of photos is POSTed (with the session cookie and a CSRF
  token) and stored in the inbox under the browser's own id of the message, so a resend is stored once;
  photos are decoded and size-checked before anything is kept. The worker turns a stored row into an
  `Inbound` (`WebChannel.event_of`), as for Telegram.
- Out: `WebChannel.deliver` (the worker's replies, and the outbox's reminders and notices) writes each reply
  to the chat's messages (`webmessage`), then wakes the browsers waiting in this process; browsers served by
  another process find it within POLL_SECONDS. A browser gets them over a WebSocket (`/chat/ws?since=N`),
  or by long polling (`/chat/api/messages?since=N`) where WebSockets are blocked, always asking for what
  came after the last id it has: a browser that was offline gets what it missed.
- The page is plain HTML, CSS and JavaScript from `web_static/`, every word from the catalogue.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from bot.http import Route
from bot.intake import Intake
from bot.web_access import RateLimit, Refused, WebAccess
from common.clock import Clock
from common.delivery import TransientFailure
from common.events import Inbound, InboundKind, MediaRef, Reply, reply_from_json, reply_to_json
from common.messages import VI, t
from common.settings import Settings
from storage import web as store
from storage.db import Database, is_unavailable
from storage.inbox import Received
from storage.media import MediaStore, NotAnImage, inspect_image, resized_jpeg

log = logging.getLogger(__name__)

CHANNEL = store.CHANNEL
STATIC = Path(__file__).with_name("web_static")
STATIC_TYPES = {"chat.js": "application/javascript", "chat.css": "text/css", "icon.svg": "image/svg+xml"}
SESSION_COOKIE, BROWSER_COOKIE = "nt_session", "nt_browser"
CSRF_HEADER = "X-CSRF-Token"
POLL_SECONDS = 2.0  # how often a waiting browser's messages are looked at without a notice from this process
LONG_POLL_SECONDS = 20.0  # a long poll answers at the latest after this, empty
MAX_TEXT = 4000
MAX_PHOTOS = 10  # a nomination takes 1 to 10
PREVIEW_SIDE = 1280  # photos shown in the chat
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,36}")
_SHA = re.compile(r"[0-9a-f]{64}")
CHAT_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


class Notices:
    """Browsers of this process waiting for a chat's next message."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Future]] = {}

    def listen(self, chat_id: str) -> asyncio.Future:
        """Before looking at the messages: a message delivered meanwhile is not missed."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(chat_id, set()).add(future)
        return future

    def tell(self, chat_id: str) -> None:
        for future in self._waiting.pop(chat_id, ()):
            if not future.done():
                future.set_result(None)

    def forget(self, chat_id: str, future: asyncio.Future) -> None:
        waiting = self._waiting.get(chat_id)
        if waiting is not None:
            waiting.discard(future)
            if not waiting:
                del self._waiting[chat_id]
        future.cancel()


class WebChannel:
    """Stored web messages → `Inbound`, and `Reply` → the chat's kept messages (bot/intake.py's ChannelPort;
    also the outbox's Delivery, so reminders and notices reach people on the web)."""

    name = CHANNEL

    def __init__(self, db: Database, media: MediaStore, clock: Clock) -> None:
        self.db = db
        self.media = media
        self.clock = clock
        self.notices = Notices()

    def event_of(self, payloads: Sequence[dict[str, Any]]) -> Inbound | None:
        sent = payloads[0]
        base = dict(channel=CHANNEL, user_id=sent["user"], chat_id=sent["user"], display_name=sent.get("name", ""))
        if "photos" in sent:
            refs = tuple(MediaRef(p["sha256"], "document", p["size"], p["mime_type"], p["file_name"])
                         for p in sent["photos"])
            return Inbound(kind=InboundKind.MEDIA, media=refs, **base)
        if "choice" in sent:
            return Inbound(kind=InboundKind.CHOICE, choice=sent["choice"], **base)
        text = sent.get("text", "").strip()
        if text.startswith("/"):
            head, _, args = text.partition(" ")
            return Inbound(kind=InboundKind.COMMAND, command=head[1:].lower(), args=args.strip(), text=text, **base)
        return Inbound(kind=InboundKind.TEXT, text=text, **base)

    async def acknowledge(self, payloads: Sequence[dict[str, Any]]) -> None:
        return None  # the browser was answered when the message was stored

    async def fetch(self, ref: MediaRef) -> bytes:
        return await self.media.load(ref.file_id)  # checked and stored when uploaded

    async def deliver(self, chat_id: str, reply: Reply, once: str = "") -> None:
        """Kept for the browser; a reply sent again with its `once` key (a restart between its send and the mark
        that it was sent) is kept once. The key cannot be a browser's own message id (those have no colon)."""
        try:
            async with self.db.session() as session:
                await store.add_message(session, chat_id, reply_to_json(reply), self.clock.now(),
                                        client_key=once or None)
        except Exception as error:
            if is_unavailable(error):
                raise TransientFailure(repr(error), undelivered=True) from error
            raise
        self.notices.tell(chat_id)


class WebOutbound:
    """What a background job (an export) says to a web chat (common/outbound.py): its messages are kept like
    any reply; a browser gets no files pushed, so the job offers them as links, drawn as links by the page.
    A kept message is not edited: the job posts its progress anew now and then."""

    file_limit = 0
    can_edit = False

    def __init__(self, channel: WebChannel) -> None:
        self.channel = channel

    async def post(self, chat_id: str, text: str) -> str:
        await self.channel.deliver(chat_id, Reply(text))
        return ""

    async def edit(self, chat_id: str, handle: str, text: str) -> None:
        """Kept messages are not edited."""

    async def busy(self, chat_id: str) -> None:
        """The page has no "sending a file" status."""

    async def send(self, chat_id: str, reply: Reply) -> None:
        await self.channel.deliver(chat_id, reply)


class WebChat:
    """The HTTP side of the web chat: the page, sign-in, sending, receiving, photos."""

    def __init__(self, channel: WebChannel, access: WebAccess, intake: Intake, settings: Settings) -> None:
        self.channel = channel
        self.access = access
        self.intake = intake
        self.settings = settings
        self.max_photo_bytes = settings.max_photo_bytes
        self.signin_by_ip = RateLimit(settings.web_signin_per_minute)
        self.signin_by_browser = RateLimit(settings.web_signin_per_minute)
        self.uploads_by_person = RateLimit(settings.web_uploads_per_minute)
        self.uploads_by_ip = RateLimit(settings.web_uploads_per_minute)
        self._page = _page()
        self._static = {name: (STATIC / name).read_bytes() for name in STATIC_TYPES}

    def routes(self) -> list[Route]:
        return [Route("GET", "/chat", self.page), Route("GET", "/chat/", self.page),
                Route("GET", "/chat/static/{name}", self.static),
                Route("GET", "/chat/api/session", self.session_state),
                Route("POST", "/chat/api/signin", self.sign_in), Route("POST", "/chat/api/signout", self.sign_out),
                Route("POST", "/chat/api/send", self.send), Route("POST", "/chat/api/photos", self.photos),
                Route("GET", "/chat/api/messages", self.messages), Route("GET", "/chat/ws", self.websocket),
                Route("GET", "/chat/photo/{sha}", self.photo),
                Route("GET", "/favicon.ico", self.icon)]  # browsers ask for it by themselves

    # ---- the page
    async def page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._page, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = self._static.get(name)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type=STATIC_TYPES[name], charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    async def icon(self, request: web.Request) -> web.Response:
        return web.Response(body=self._static["icon.svg"], content_type=STATIC_TYPES["icon.svg"],
                            headers={"Cache-Control": "max-age=86400"})

    # ---- signing in and out
    async def session_state(self, request: web.Request) -> web.Response:
        """Who this browser is, and the CSRF token for its next requests. A browser not signed in gets a
        browser cookie, whose token the sign-in's CSRF token is made from."""
        token = self._session_token(request)
        person = await self.access.who(token)
        if person is not None:
            return web.json_response({"signed_in": True, "name": person.name, "csrf": self.access.csrf_for(token)},
                                     headers=_private())
        browser = self.access.unsigned(request.cookies.get(BROWSER_COOKIE), "browser")
        new_browser = browser is None
        browser = browser or self.access.new_token()
        had_session = bool(request.cookies.get(SESSION_COOKIE))
        answer = web.json_response({"signed_in": False, "signed_out": had_session,
                                    "csrf": self.access.csrf_for(browser)}, headers=_private())
        if new_browser:
            self._set_cookie(request, answer, BROWSER_COOKIE, self.access.signed(browser, "browser"), "Strict")
        if had_session:
            answer.del_cookie(SESSION_COOKIE, path="/chat")
        return answer

    async def sign_in(self, request: web.Request) -> web.Response:
        browser = self.access.unsigned(request.cookies.get(BROWSER_COOKIE), "browser")
        if not self._same_origin(request) or not self.access.csrf_ok(browser, request.headers.get(CSRF_HEADER)):
            return _refused(403, t("web.csrf"))
        if not self.signin_by_ip.allow(self._client_ip(request)) or not self.signin_by_browser.allow(browser):
            return _refused(429, t("web.slow_down"))
        body = await _json_body(request)
        try:
            opened = await self.access.sign_in(str(body.get("code", ""))[:200], str(body.get("name", ""))[:100])
        except Refused as refused:
            return _refused(401, refused.text)
        answer = web.json_response({"signed_in": True, "name": opened.person.name, "csrf": opened.csrf},
                                   headers=_private())
        self._set_cookie(request, answer, SESSION_COOKIE, opened.cookie, "Lax",
                         max_age=int(self.access.lifetime.total_seconds()))
        answer.del_cookie(BROWSER_COOKIE, path="/chat")
        return answer

    async def sign_out(self, request: web.Request) -> web.Response:
        token = self._session_token(request)
        if not self._same_origin(request) or not self.access.csrf_ok(token, request.headers.get(CSRF_HEADER)):
            return _refused(403, t("web.csrf"))
        await self.access.sign_out(token)
        answer = web.json_response({"signed_in": False}, headers=_private())
        answer.del_cookie(SESSION_COOKIE, path="/chat")
        return answer

    # ---- in: texts, buttons, photos
    async def send(self, request: web.Request) -> web.Response:
        person, refusal = await self._checked(request)
        if refusal is not None:
            return refusal
        body = await _json_body(request)
        client_id, text, choice = str(body.get("id", "")), body.get("text"), body.get("choice")
        if not _CLIENT_ID.fullmatch(client_id) or not isinstance(text or choice, str):
            return _refused(400, t("web.bad_request"))
        if choice is not None:
            label = str(body.get("label") or "")[:200]
            payload, echo = {"choice": str(choice)[:64]}, {"text": label}
        else:
            text = text.strip()[:MAX_TEXT]
            if not text:
                return _refused(400, t("web.bad_request"))
            payload, echo = {"text": text}, {"text": text}
        return await self._receive(person, client_id, payload, echo, "choice" if choice is not None else "text")

    async def photos(self, request: web.Request) -> web.Response:
        """Several photos at once (multipart): each is read up to the size limit and decoded before anything
        is kept; one that is too big or not an image refuses the batch, naming it."""
        person, refusal = await self._checked(request)
        if refusal is not None:
            return refusal
        if not self.uploads_by_person.allow(str(person.person_id)) \
                or not self.uploads_by_ip.allow(self._client_ip(request)):
            return _refused(429, t("web.slow_down"))
        try:
            reader = await request.multipart()
        except (AssertionError, ValueError, KeyError):
            return _refused(400, t("web.bad_request"))
        client_id, files = "", []
        while (part := await reader.next()) is not None:
            if part.name == "id":
                client_id = (await part.text())[:64]
            elif part.name == "photo":
                name = (part.filename or t("photos.unnamed"))[:100]
                if len(files) == MAX_PHOTOS:
                    return _refused(413, t("web.too_many_photos", max=MAX_PHOTOS))
                data = await _read_limited(part, self.max_photo_bytes)
                if data is None:
                    return _refused(413, t("photos.too_big", name=name))
                files.append((name, data))
        if not _CLIENT_ID.fullmatch(client_id) or not files:
            return _refused(400, t("web.bad_request"))
        photos = []
        for name, data in files:
            try:
                info = await asyncio.to_thread(inspect_image, data)
            except NotAnImage:
                return _refused(415, t("photos.not_image", name=name))
            photos.append((name, info, data))
        for _, info, data in photos:
            await self.channel.media.backend.put(info.sha256, data)
        payload = {"photos": [{"sha256": info.sha256, "size": info.size, "mime_type": info.mime_type,
                               "file_name": name} for name, info, _ in photos]}
        return await self._receive(person, client_id, payload, {"photos": [i.sha256 for _, i, _ in photos]},
                                   "photos")

    async def _receive(self, person: store.SignedIn, client_id: str, payload: dict, echo: dict,
                       kind: str) -> web.Response:
        """The person's message shown in their chat, then stored in the inbox for the worker (stored before
        the browser hears it arrived: a resend with the same id is stored once)."""
        received = Received(CHANNEL, f"{person.chat_id}:{client_id}", person.chat_id, kind,
                            {"user": person.chat_id, "name": person.name, **payload})
        try:
            async with self.channel.db.session() as session:
                await store.add_message(session, person.chat_id, echo, self.channel.clock.now(), mine=True,
                                        client_key=client_id)
            self.channel.notices.tell(person.chat_id)
            await self.intake.receive([received])
        except Exception as error:
            if not is_unavailable(error):
                raise
            log.warning("web: a message of %s not stored (%s)", person.chat_id, error)
            return _refused(503, t("web.try_again"))
        return web.json_response({"ok": True}, headers=_private())

    # ---- out: messages
    async def messages(self, request: web.Request) -> web.Response:
        """Long polling, where WebSockets are blocked: what came after `since`, at once or within
        LONG_POLL_SECONDS."""
        person = await self.access.who(self._session_token(request))
        if person is None:
            return web.json_response({"signed_out": True}, status=401, headers=_private())
        since = _int(request.query.get("since"))
        deadline = asyncio.get_running_loop().time() + (LONG_POLL_SECONDS if request.query.get("wait") else 0)
        while True:
            heard = self.channel.notices.listen(person.chat_id)
            try:
                rows = await self._rows(person.chat_id, since)
                left = deadline - asyncio.get_running_loop().time()
                if rows or left <= 0:
                    return web.json_response({"messages": [view(row) for row in rows]}, headers=_private())
                await asyncio.wait([heard], timeout=min(POLL_SECONDS, left))
            finally:
                self.channel.notices.forget(person.chat_id, heard)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """Pushes what came after `since`, then each new message as it is delivered; the session is checked
        at every look, so a revoked or signed-out browser is told at once and closed."""
        token = self._session_token(request)
        person = await self.access.who(token)
        if person is None or not self._same_origin(request):
            return web.json_response({"signed_out": True}, status=401, headers=_private())
        socket = web.WebSocketResponse(heartbeat=25.0, max_msg_size=4096)
        await socket.prepare(request)
        since = _int(request.query.get("since"))
        closed = asyncio.create_task(_until_closed(socket))
        first = True  # the first frame goes even when empty: the browser knows the socket works
        try:
            while not closed.done():
                heard = self.channel.notices.listen(person.chat_id)
                try:
                    rows = await self._rows(person.chat_id, since)
                    if rows or first:
                        await socket.send_json({"messages": [view(row) for row in rows]})
                        since, first = rows[-1].id if rows else since, False
                    await asyncio.wait([heard, closed], timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    self.channel.notices.forget(person.chat_id, heard)
                if not closed.done() and await self.access.who(token) is None:
                    await socket.send_json({"signed_out": True})
                    break
        except (ConnectionResetError, RuntimeError):
            pass  # the browser went away mid-send
        finally:
            closed.cancel()
            await socket.close()
        return socket

    async def _rows(self, chat_id: str, since: int) -> list:
        async with self.channel.db.reading() as reading:
            return await store.messages_since(reading, chat_id, since)

    async def photo(self, request: web.Request) -> web.Response:
        """A photo of a chat (a case's, the person's own, a chart), for a signed-in person; resized for phones.
        Photos are named by SHA-256, which no one guesses."""
        sha = request.match_info["sha"]
        if not _SHA.fullmatch(sha) or await self.access.who(self._session_token(request)) is None:
            raise web.HTTPNotFound()
        try:
            data = await self.channel.media.load(sha)
        except OSError:
            raise web.HTTPNotFound() from None
        body = await asyncio.to_thread(resized_jpeg, data, PREVIEW_SIDE)
        return web.Response(body=body, content_type="image/jpeg",
                            headers={"Cache-Control": "private, max-age=604800, immutable"})

    # ---- checks
    async def _checked(self, request: web.Request) -> tuple[store.SignedIn | None, web.Response | None]:
        """A state-changing request: same origin, signed in, and the CSRF token of this session."""
        token = self._session_token(request)
        if not self._same_origin(request) or not self.access.csrf_ok(token, request.headers.get(CSRF_HEADER)):
            return None, _refused(403, t("web.csrf"))
        person = await self.access.who(token)
        if person is None:
            return None, web.json_response({"signed_out": True, "error": t("web.signed_out")}, status=401,
                                           headers=_private())
        return person, None

    def _session_token(self, request: web.Request) -> str | None:
        return self.access.unsigned(request.cookies.get(SESSION_COOKIE), "session")

    def _client_ip(self, request: web.Request) -> str:
        if self.settings.web_trust_forwarded:
            forwarded = request.headers.get("X-Forwarded-For", "")
            if forwarded:
                return forwarded.split(",")[-1].strip()
        return request.remote or ""

    def _same_origin(self, request: web.Request) -> bool:
        """Browsers name the page a request comes from; another site's page may not act for the person."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser's cross-site request (those carry Origin); the CSRF token still counts
        host = request.headers.get("X-Forwarded-Host") if self.settings.web_trust_forwarded else None
        return origin.partition("://")[2].rstrip("/") == (host or request.host)

    def _set_cookie(self, request: web.Request, response: web.Response, name: str, value: str, same_site: str,
                    max_age: int | None = None) -> None:
        secure = request.secure or (self.settings.web_trust_forwarded
                                    and request.headers.get("X-Forwarded-Proto") == "https")
        response.set_cookie(name, value, path="/chat", httponly=True, samesite=same_site, secure=secure,
                            max_age=max_age)


def view(row: Any) -> dict[str, Any]:
    """A kept message as the page draws it."""
    payload = row.payload
    if row.mine:
        return {"id": row.id, "mine": True, "client": row.client_key, "text": payload.get("text", ""),
                "photos": [f"/chat/photo/{sha}" for sha in payload.get("photos", ())]}
    reply = reply_from_json(payload)
    text = reply.text + ("\n" + t("web.invite", code=reply.invite) if reply.invite else "")
    return {"id": row.id, "mine": False, "text": text, "choices": [[c.label, c.value] for c in reply.choices],
            "columns": reply.columns, "menu": list(reply.menu) if reply.menu is not None else None,
            "commands": [list(c) for c in reply.commands] if reply.commands is not None else None,
            "photos": [f"/chat/photo/{sha}" for sha in reply.photos],
            "links": [[label, url] for label, url in reply.links]}


def security_headers(frame_ancestors: str) -> Any:
    """Headers of every page the app serves to browsers: a CSP without inline script, no MIME sniffing, and
    frames only where allowed (the public page: FRAME_ANCESTORS; the chat: nowhere)."""
    public_csp = ("default-src 'none'; img-src 'self'; style-src 'self'; base-uri 'none'; form-action 'none'; "
                  f"frame-ancestors {_sources(frame_ancestors)}")

    @web.middleware
    async def middleware(request: web.Request, handler):
        try:
            response = await handler(request)
        except web.HTTPException as error:
            response = error
        path = request.path
        if path.startswith("/chat") or path.startswith("/cong-khai"):
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
            if path.startswith("/chat"):
                response.headers["Content-Security-Policy"] = CHAT_CSP
                response.headers["X-Frame-Options"] = "DENY"
            else:
                response.headers["Content-Security-Policy"] = public_csp
        if isinstance(response, web.HTTPException):
            raise response
        return response

    return middleware


def _sources(setting: str) -> str:
    """FRAME_ANCESTORS as CSP sources: the keywords self and none quoted, origins as they are."""
    words = [w.strip("'\"") for w in setting.split()] or ["none"]
    return " ".join(f"'{w}'" if w in ("self", "none") else w for w in words)


def _page() -> bytes:
    """chat.html with the catalogue's words (web.*), escaped; the script's words as JSON in an attribute."""
    texts = {key[len("web."):].replace(".", "_"): value for key, value in VI.items() if key.startswith("web.")}
    template = string.Template((STATIC / "chat.html").read_text(encoding="utf-8"))
    island = json.dumps({k: v for k, v in texts.items() if k.startswith("js_")}, ensure_ascii=False)
    return template.substitute({k: html.escape(v) for k, v in texts.items()},
                               texts=html.escape(island)).encode()


async def _read_limited(part: Any, limit: int) -> bytes | None:
    """A part's bytes, or None as soon as it passes `limit` (nothing more is read into memory)."""
    chunks, size = [], 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _json_body(request: web.Request) -> dict:
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        body = await request.json()
        if isinstance(body, dict):
            return body
    return {}


async def _until_closed(socket: web.WebSocketResponse) -> None:
    async for message in socket:  # the browser sends nothing we need; this notices it leaving
        if message.type == WSMsgType.ERROR:
            return


def _refused(status: int, text: str) -> web.Response:
    return web.json_response({"error": text}, status=status, headers=_private())


def _private() -> dict[str, str]:
    return {"Cache-Control": "no-store"}


def _int(text: str | None) -> int:
    try:
        return max(0, int(text or 0))
    except ValueError:
        return 0
