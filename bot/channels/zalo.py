"""The Zalo adapter (Zalo Bot Platform, over aiohttp): updates in (polling getUpdates, or a webhook) into the
inbox, stored updates → `Inbound`, `Reply` → Bot API calls.

The platform, as its public documentation describes it: `POST {ZALO_API_URL}/bot{token}/{method}` with a JSON
body, answered `{"ok": true, "result": …}` or `{"ok": false, "error_code", "description"}`. An update is
`{event_name, message: {from: {id, display_name}, chat: {id, chat_type}, message_id, date, text | photo_url +
caption}}`, ids are strings. `getUpdates` hands out one update per call, with no offset (408 when there is
none), so an update in flight when the process dies is lost: the webhook (stored, then 200) is the lossless
mode. There are no buttons or keyboards: choices are drawn as a numbered list (bot/channels/typed.py); text is
at most 2,000 characters; `sendPhoto` takes only a URL (bot/media_links.py); a photo a person sends arrives as
a URL of undocumented lifetime, fetched when its update is handled, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from bot.channels.retrying import retrying
from bot.channels.typed import typed_text
from bot.intake import Intake
from bot.media_links import MediaLinks
from common.delivery import Rejected, RetryLater, TransientFailure, Unreachable
from common.events import Inbound, InboundKind, MediaRef, Reply
from common.text import split_text
from storage.db import one_line
from storage.inbox import Received

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "zalo"
TEXT_LIMIT = 2000
POLL_TIMEOUT = 30  # seconds a getUpdates call waits for an update
SECRET_HEADER = "X-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/webhook/zalo"
NO_UPDATE = 408  # getUpdates' answer when nothing came within its timeout
CALL_TIMEOUT = 15.0
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=10)
# Event names, as the documentation lists them, and the kind each is stored as.
EVENTS = {"message.text.received": "text", "message.image.received": "image", "message.sticker.received": "sticker",
          "message.voice.received": "voice", "message.unsupported.received": "unsupported"}
_UNSUPPORTED = {"sticker": "sticker", "voice": "voice"}  # Inbound.unsupported; anything else is "other"


class ZaloError(Exception):
    def __init__(self, code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code, self.description, self.retry_after = code, description, retry_after


class BadUpdate(ValueError):
    """An update that breaks the documented shape: refused, and logged."""


class ZaloApi:
    """The Bot API over one aiohttp session (opened on first use, inside the running loop)."""

    def __init__(self, token: str, base_url: str) -> None:
        self.token = token
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def call(self, method: str, params: dict[str, Any] | None = None, *, wait: float = CALL_TIMEOUT) -> Any:
        """The call's result; ZaloError for an error answer (or one that is not the API's JSON)."""
        async with self.session.post(f"{self.base_url}/bot{self.token}/{method}", json=params or {},
                                     timeout=aiohttp.ClientTimeout(total=wait)) as answer:
            raw = await answer.read()
        try:
            body = json.loads(raw)
        except ValueError:
            raise ZaloError(answer.status, f"HTTP {answer.status}: {raw[:200]!r}") from None
        if not isinstance(body, dict) or body.get("ok") is not True:
            body = body if isinstance(body, dict) else {}
            retry = (body.get("parameters") or {}).get("retry_after")
            raise ZaloError(int(body.get("error_code") or answer.status), str(body.get("description") or ""),
                            float(retry) if isinstance(retry, int | float) else None)
        return body.get("result")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


# ---- updates in
def updates_in(body: Any) -> list[Any]:
    """A webhook's body (or getUpdates' result) as the updates it holds: one update, possibly wrapped in
    `{ok, result}`; a batch is taken apart, with a warning (one update is what the documentation promises)."""
    if isinstance(body, dict) and "event_name" not in body and "result" in body:
        body = body["result"]
    if isinstance(body, list):
        log.warning("Zalo: %d updates where one was expected; each is taken on its own", len(body))
        return body
    return [body]


def classify(update: Any) -> Received | None:
    """What the inbox needs to know of a raw update. None: not for us (a group: private chats only, as on
    Telegram). BadUpdate: not an update as documented (ids must be strings)."""
    message = update.get("message") if isinstance(update, dict) else None
    if not isinstance(message, dict) or not isinstance(update.get("event_name"), str):
        raise BadUpdate("no event_name or message")
    chat, sender = message.get("chat"), message.get("from")
    if not isinstance(chat, dict) or not isinstance(sender, dict):
        raise BadUpdate("no chat or sender")
    ids = (chat.get("id"), sender.get("id"), message.get("message_id"))
    if not all(isinstance(i, str) and i for i in ids):
        raise BadUpdate(f"ids must be non-empty strings: {[type(i).__name__ for i in ids]}")
    if str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
        return None  # groups would expose personal data
    kind = EVENTS.get(update["event_name"], "unknown")
    if kind == "unknown":
        log.warning("Zalo: unknown event %r from chat %s; the person is told what the bot understands",
                    update["event_name"][:60], chat["id"])
    key = f"{chat['id']}:{message['message_id']}"  # Zalo has no update id: the message is the update
    if len(key) > 64:
        key = hashlib.sha256(key.encode()).hexdigest()
    return Received(CHANNEL, key, chat["id"], kind, update)


class PhotoBursts:
    """Photos chosen together arrive as one update each: those that follow each other within `window` seconds
    (nothing else in between) share an album key, so the worker handles them as one event, one answer."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._last: dict[str, tuple[str, float]] = {}  # chat → (album key, when its last photo came)

    def album_for(self, item: Received) -> Received:
        now = time.monotonic()
        if item.kind != "image":
            self._last.pop(item.chat_id, None)
            return item
        last = self._last.get(item.chat_id)
        album = last[0] if last and now - last[1] <= self.window else f"zb:{item.update_key}"[:64]
        self._last[item.chat_id] = (album, now)
        if len(self._last) > 10_000:
            self._last = {c: v for c, v in self._last.items() if now - v[1] <= self.window}
        return Received(item.channel, item.update_key, item.chat_id, item.kind, item.payload, album)


class ZaloChannel:
    """Stored updates → `Inbound`, and `Reply` → Bot API calls (bot/intake.py's ChannelPort; the outbox's
    Delivery)."""

    name = CHANNEL

    def __init__(self, api: ZaloApi, links: MediaLinks | None, max_photo_bytes: int) -> None:
        self.api = api
        self.links = links  # None: no public URL to send photos from (PUBLIC_BASE_URL)
        self.max_photo_bytes = max_photo_bytes
        self.fetch_timeout = FETCH_TIMEOUT

    # ---- inbound
    def event_of(self, payloads: Sequence[dict[str, Any]]) -> Inbound | None:
        messages = [p["message"] for p in payloads]
        first, kind = messages[0], EVENTS.get(payloads[0]["event_name"], "unknown")
        base = dict(channel=CHANNEL, user_id=first["from"]["id"], chat_id=first["chat"]["id"],
                    display_name=str(first["from"].get("display_name") or ""))
        if kind == "image":
            refs = tuple(MediaRef(_photo_url(m), "photo") for m in messages if _photo_url(m))
            caption = next((str(m["caption"]) for m in messages if m.get("caption")), "")
            if refs:
                return Inbound(kind=InboundKind.MEDIA, media=refs, text=caption, **base)
        if kind == "text" and isinstance(first.get("text"), str):
            text = first["text"]
            if text.startswith("/"):
                head, _, args = text.partition(" ")
                return Inbound(kind=InboundKind.COMMAND, command=head[1:].lower(), args=args.strip(), text=text,
                               **base)
            return Inbound(kind=InboundKind.TEXT, text=text, **base)
        return Inbound(kind=InboundKind.UNSUPPORTED, unsupported=_UNSUPPORTED.get(kind, "other"), **base)

    async def acknowledge(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Nothing to acknowledge on Zalo (no buttons to stop spinning)."""

    async def fetch(self, ref: MediaRef) -> bytes:
        """The photo behind a URL Zalo gave: at most MAX_PHOTO_BYTES + 1 bytes are read (more is "too big")."""
        if not ref.file_id.startswith(("https://", "http://")):
            raise ValueError("not a web address")
        async with self.api.session.get(ref.file_id, timeout=self.fetch_timeout) as answer:
            answer.raise_for_status()
            data = bytearray()
            async for chunk in answer.content.iter_chunked(256 * 1024):
                data += chunk
                if len(data) > self.max_photo_bytes:
                    break
        return bytes(data)

    # ---- outbound
    async def deliver(self, chat_id: str, reply: Reply, once: str = "") -> None:
        """One reply: its photos (by signed URL), then its text with the choices numbered, split at line breaks
        into messages of at most 2,000 characters. Failures of the text are common.delivery's outcomes; a photo
        that cannot be sent is logged and does not hold the text back."""
        if reply.photos:
            await self._send_photos(chat_id, reply.photos)
        if reply.documents:
            log.warning("Zalo cannot send files; %d document(s) for chat %s left out", len(reply.documents), chat_id)
        with delivery_outcomes():
            for chunk in split_text(typed_text(reply), TEXT_LIMIT):
                if chunk.strip():
                    await self.api.call("sendMessage", {"chat_id": chat_id, "text": chunk})

    async def _send_photos(self, chat_id: str, shas: tuple[str, ...]) -> None:
        if self.links is None:
            log.warning("Zalo: %d photo(s) for chat %s not sent: set PUBLIC_BASE_URL (or WEBHOOK_URL)", len(shas),
                        chat_id)
            return
        for sha in shas:
            try:
                await self.api.call("sendPhoto", {"chat_id": chat_id, "photo": self.links.url(sha)})
            except (ZaloError, aiohttp.ClientError, TimeoutError):
                log.exception("could not send photo %s to Zalo chat %s", sha, chat_id)


class ZaloOutbound:
    """What a background job (an export) says to a Zalo chat (common/outbound.py): Zalo sends no files and
    edits no message, so the job posts its progress anew now and then, and offers its files as links (text)."""

    file_limit = 0
    can_edit = False

    def __init__(self, channel: ZaloChannel) -> None:
        self.channel = channel

    async def post(self, chat_id: str, text: str) -> str:
        for chunk in split_text(text, TEXT_LIMIT):
            sent = await self.channel.api.call("sendMessage", {"chat_id": chat_id, "text": chunk})
        return str((sent or {}).get("message_id", ""))

    async def edit(self, chat_id: str, handle: str, text: str) -> None:
        """Zalo's Bot API has no way to edit a message."""

    async def busy(self, chat_id: str) -> None:
        """Nothing documented shows "sending a file" on Zalo."""

    async def send(self, chat_id: str, reply: Reply) -> None:
        await self.channel.deliver(chat_id, reply)


def _photo_url(message: dict[str, Any]) -> str:
    url = message.get("photo_url") or message.get("photo")
    return url if isinstance(url, str) else ""


@contextlib.contextmanager
def delivery_outcomes() -> Iterator[None]:
    """Bot API errors as the channel-neutral outcomes of common.delivery."""
    try:
        yield
    except ZaloError as error:
        if error.code == 429:
            raise RetryLater(error.retry_after or 1.0) from error
        if error.code in (403, 404):  # blocked the bot, or no such user
            raise Unreachable(error.description) from error
        if error.code >= 500 or error.code == 401:  # a 401 passes once the token is put right
            raise TransientFailure(str(error), undelivered=True) from error
        raise Rejected(str(error)) from error
    except (aiohttp.ClientError, TimeoutError) as error:
        raise TransientFailure(repr(error)) from error


class ZaloReceiver:
    """Takes updates from Zalo and stores them (bot/intake.py) before Zalo hears we have them: by webhook (with
    WEBHOOK_URL and ZALO_WEBHOOK_SECRET: answered 200 only once stored), else by polling getUpdates, each
    update stored before the next call. Start-up problems are said in one line and tried again with backoff."""

    def __init__(self, api: ZaloApi, intake: Intake, *, webhook_url: str = "", secret: str = "",
                 album_wait: float = 0.6, poll_timeout: int = POLL_TIMEOUT) -> None:
        self.api = api
        self.intake = intake
        self.webhook_url = webhook_url if secret else ""
        self.secret = secret
        self.poll_timeout = poll_timeout
        self.bursts = PhotoBursts(album_wait)
        self.ready = asyncio.Event()

    async def run(self) -> None:
        await self._retrying("start-up (getMe, webhook)", self._prepare)
        self.ready.set()
        if self.webhook_url:
            await asyncio.Event().wait()
        await self._poll()

    async def _prepare(self) -> None:
        me = await self.api.call("getMe")
        name = (me or {}).get("account_name") or (me or {}).get("display_name") or (me or {}).get("id") or "?"
        if self.webhook_url:
            await self.api.call("setWebhook", {"url": webhook_address(self.webhook_url), "secret_token": self.secret})
            log.info("Zalo: webhook at %s (bot %s)", webhook_address(self.webhook_url), name)
        else:
            await self.api.call("deleteWebhook")
            log.info("Zalo: receiving by polling getUpdates as %s (set WEBHOOK_URL and ZALO_WEBHOOK_SECRET for "
                     "the webhook, which loses nothing when the process dies)", name)

    async def _poll(self) -> None:
        while True:
            result = await self._retrying("getUpdates", self._next_update)
            received, _ = self._received(updates_in(result)) if result is not None else ([], 0)
            if received:
                await self._retrying("storing updates", lambda received=received: self.intake.receive(received))

    async def _next_update(self) -> Any:
        try:
            return await self.api.call("getUpdates", {"timeout": self.poll_timeout},
                                       wait=self.poll_timeout + 15)
        except ZaloError as error:
            if error.code == NO_UPDATE:
                return None
            raise

    def _received(self, updates: list[Any]) -> tuple[list[Received], int]:
        """The updates for us, each given its photo burst, and how many were refused (logged)."""
        received, refused = [], 0
        for update in updates:
            try:
                item = classify(update)
            except BadUpdate as bad:
                log.warning("refused: a Zalo update that is not as documented (%s): %s", bad,
                            json.dumps(update, ensure_ascii=False, default=str)[:300])
                refused += 1
                continue
            if item is not None:
                received.append(self.bursts.album_for(item))
        return received, refused

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /webhook/zalo: check the secret (constant time), store, then 200."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("Zalo webhook: wrong or missing secret from %s", request.remote)
            return web.Response(status=401, text="unauthorized")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        updates = updates_in(body)
        received, refused = self._received(updates)
        if refused == len(updates):
            return web.Response(status=400, text="not an update")
        try:
            await self.intake.receive(received)
        except Exception as error:  # not stored: Zalo must send it again
            log.warning("Zalo webhook: update not stored (%s)", one_line(error))
            return web.Response(status=503, text="try again")
        return web.Response(status=200)

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        return await retrying(what, attempt, _explained)


def _explained(error: Exception, what: str, backoff: float) -> float | None:
    """Zalo's errors in one line; the least wait they ask for (None: not Zalo's)."""
    if isinstance(error, ZaloError) and error.code == 401:
        log.error("Zalo refuses ZALO_BOT_TOKEN (401) at %s; check the token. Trying again in %.0f s", what, backoff)
    elif isinstance(error, ZaloError) and error.code == 429:
        log.warning("Zalo asks to wait at %s", what)
        return error.retry_after or 1.0
    elif isinstance(error, ZaloError):
        log.error("Zalo error at %s: %s. Trying again in %.0f s", what, error, backoff)
    elif isinstance(error, aiohttp.ClientError | TimeoutError | OSError):
        log.warning("Zalo unreachable at %s (%s). Trying again in %.0f s", what, one_line(error), backoff)
    else:
        return None
    return 0.0


def webhook_address(base_url: str) -> str:
    return base_url.rstrip("/") + WEBHOOK_PATH


