"""A fake Zalo Bot Platform API, on 127.0.0.1, that follows the contract of the issue (the platform's public
documentation) and judges every call the bot makes by it.

- `POST /bot{token}/{method}` with a JSON body, answered `{"ok": true, "result": …}` or `{"ok": false,
  "error_code", "description"}`. Methods: getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo,
  sendMessage, sendPhoto, sendSticker, sendChatAction. Each call is recorded (`calls`) and checked: the method
  is known, its required fields are there and of the right type (ids are strings), no field it does not know
  (no buttons, no keyboards: Zalo has none), text of 1 to 2,000 characters, a photo sent by URL. Every
  disagreement goes to `violations`, which a test asserts stays empty, and is answered 400.
- Updates, as the documentation shapes them (`event_name`, string ids, `date` in milliseconds), are queued by
  the test (`send_text`, `send_photo`, …). `getUpdates` hands out one per call, with no offset, and 408 when
  none came within its `timeout`; with a webhook set, each is POSTed to it (the secret in
  X-Bot-Api-Secret-Token, `wrap_webhook` wraps it in `{ok, result}`), again until answered 2xx (a 4xx drops it).
- A photo a person sends is a URL this server serves (`/images/<id>`), which may fail, be slow, be missing, be
  no image; `sendPhoto` fetches the URL it is given, as Zalo does, and records what it got.
"""

# ruff: noqa: ASYNC109  -- wait_for(…, timeout=…) is the API tests are written against

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.telegram_server import ApiError, Call, Fault, inject_fault, too_many_requests

TEXT_LIMIT = 2000
# Each method's fields: name → (type, required). Nothing else is accepted.
METHODS: dict[str, dict[str, tuple[type, bool]]] = {
    "getMe": {},
    "getUpdates": {"timeout": (int, False)},
    "setWebhook": {"url": (str, True), "secret_token": (str, True)},
    "deleteWebhook": {},
    "getWebhookInfo": {},
    "sendMessage": {"chat_id": (str, True), "text": (str, True)},
    "sendPhoto": {"chat_id": (str, True), "photo": (str, True), "caption": (str, False)},
    "sendSticker": {"chat_id": (str, True), "sticker": (str, True)},
    "sendChatAction": {"chat_id": (str, True), "action": (str, True)},
}
BUTTON_FIELDS = ("reply_markup", "keyboard", "buttons", "inline_keyboard", "attachment")
EVENTS = ("message.text.received", "message.image.received", "message.sticker.received",
          "message.voice.received", "message.unsupported.received")


@dataclass
class Image:
    """A photo a person sent, as this server serves it at its URL."""

    data: bytes
    failures: int = 0  # requests answered 500 before one succeeds
    delay: float = 0.0  # seconds before answering (longer than the bot waits: a timeout)
    missing: bool = False  # 404
    requests: int = 0


@dataclass
class Sent:
    """A message the bot sent: a text, or a photo (with what fetching its URL gave)."""

    chat_id: str
    text: str = ""
    photo_url: str = ""
    photo: bytes | None = None  # the bytes behind the URL, as Zalo fetched them
    photo_status: int | None = None
    at: float = field(default_factory=time.monotonic)


class FakeZaloServer:
    def __init__(self, token: str = "3201372705:zalo-test-token", bot_name: str = "Người Tốt (Zalo test)") -> None:
        self.token = token
        self.bot_name = bot_name
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.sent: list[Sent] = []
        self.on_answer: Callable[[Call], None] | None = None
        self.on_webhook_post: Callable[[], None] | None = None  # a test's hook, as an update is posted
        self.fault: Callable[[str, dict[str, Any]], Fault | None] | None = None
        self.wrap_webhook = False
        self.webhook: dict[str, Any] | None = None
        self.webhook_posts: list[int] = []  # the HTTP status of each delivery attempt to the webhook
        self.rejected_429 = 0
        self.images: dict[str, Image] = {}
        self._updates: deque[dict[str, Any]] = deque()
        self._message_ids = itertools.count(1)
        self._faults: dict[str, deque[Fault]] = {}
        self._chat_rate: float | None = None
        self._chat_sends: dict[str, deque[float]] = {}
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._delivering: asyncio.Task | None = None
        self._client: aiohttp.ClientSession | None = None

    # ---- lifecycle
    @property
    def url(self) -> str:
        assert self._url is not None, "start() first"
        return self._url

    async def start(self) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._handle_api)
        app.router.add_get("/images/{name}", self._serve_image)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._client = aiohttp.ClientSession()
        self._delivering = asyncio.create_task(self._deliver_to_webhook())

    async def stop(self) -> None:
        self._closing.set()
        self._signal()
        if self._delivering is not None:
            self._delivering.cancel()
            await asyncio.gather(self._delivering, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- configuration
    def rate_limit(self, per_chat_per_second: float | None) -> None:
        """Answer send* calls beyond this rate per chat (a sliding second) with 429."""
        self._chat_rate = per_chat_per_second

    def queue_faults(self, method: str, *faults: Fault) -> None:
        self._faults.setdefault(method, deque()).extend(faults)

    # ---- the person's side
    def _update(self, event: str, user_id: str, name: str, **content: Any) -> dict[str, Any]:
        message = {"from": {"id": user_id, "display_name": name, "is_bot": False},
                   "chat": {"id": user_id, "chat_type": "PRIVATE"},
                   "message_id": f"{next(self._message_ids):08d}{secrets.token_hex(8)}",
                   "date": int(time.time() * 1000), **content}
        return {"event_name": event, "message": message}

    def push_update(self, update: Any) -> Any:
        """Queue an update as it is given (a test's malformed one too): polled, or posted to the webhook."""
        self._updates.append(update)
        self._signal()
        return copy.deepcopy(update)

    def send_text(self, user_id: str, text: str, *, name: str = "Test") -> dict[str, Any]:
        return self.push_update(self._update("message.text.received", user_id, name, text=text))

    def image_url(self, data: bytes, **behaviour: Any) -> str:
        name = secrets.token_hex(8) + ".jpg"
        self.images[name] = Image(data, **behaviour)
        return f"{self.url}/images/{name}"

    def send_photo(self, user_id: str, data: bytes, *, caption: str | None = None, name: str = "Test",
                   **behaviour: Any) -> dict[str, Any]:
        content: dict[str, Any] = {"photo_url": self.image_url(data, **behaviour)}
        if caption:
            content["caption"] = caption
        return self.push_update(self._update("message.image.received", user_id, name, **content))

    def send_sticker(self, user_id: str) -> dict[str, Any]:
        return self.push_update(self._update("message.sticker.received", user_id, "Test",
                                             sticker="https://stickers.zalo.me/1.webp"))

    def send_voice(self, user_id: str) -> dict[str, Any]:
        return self.push_update(self._update("message.voice.received", user_id, "Test"))

    def send_unsupported(self, user_id: str, event: str = "message.unsupported.received") -> dict[str, Any]:
        return self.push_update(self._update(event, user_id, "Test"))

    # ---- what the bot sent
    def sent_to(self, chat_id: str) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    def texts_to(self, chat_id: str) -> list[str]:
        return [s.text for s in self.sent_to(chat_id) if not s.photo_url]

    def photos_to(self, chat_id: str) -> list[Sent]:
        return [s for s in self.sent_to(chat_id) if s.photo_url]

    def calls_named(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, *, what: str = "") -> None:
        """Await `predicate()`, checked on every call and update and every 0.1 s (for outside state)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() >= deadline:
                last = [f"{c.method} -> {c.status}: {json.dumps(c.params, ensure_ascii=False)[:160]}"
                        for c in self.calls[-6:]]
                raise AssertionError(f"timed out after {timeout} s waiting for {what or 'a condition'}; last calls:\n  "
                                     + "\n  ".join(last) + (f"\nviolations: {self.violations[-3:]}" if self.violations
                                                            else ""))
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), min(0.1, deadline - loop.time()))
            except TimeoutError:
                pass

    async def wait_for_texts(self, chat_id: str, count: int, timeout: float = 10.0) -> list[str]:
        await self.wait_for(lambda: len(self.texts_to(chat_id)) >= count, timeout,
                            what=f"{count} text(s) to Zalo chat {chat_id} (have {len(self.texts_to(chat_id))})")
        return self.texts_to(chat_id)

    # ---- HTTP
    def _signal(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        try:
            params = await request.json()
        except ValueError:
            params = None
        call = Call(method, params if isinstance(params, dict) else {}, time.monotonic(),
                    content_type=request.content_type)
        self.calls.append(call)
        self._signal()
        problems = self._check(method, params)
        if problems:
            self.violations += [f"{method}: {p}" for p in problems]
            status, body = 400, {"ok": False, "error_code": 400, "description": "; ".join(problems)}
        else:
            status, body = await self._answer(call)
        call.status, call.response = status, body
        self._signal()
        if self.on_answer is not None:  # a test's hook, called before the bot hears the answer
            self.on_answer(call)
        return web.json_response(body, status=status)

    def _check(self, method: str, params: Any) -> list[str]:
        fields = METHODS.get(method)
        if fields is None:
            return [f"unknown method {method}"]
        if not isinstance(params, dict):
            return ["the body is not a JSON object"]
        problems = [f"{name} is not allowed (Zalo has no buttons or keyboards)" for name in params
                    if name in BUTTON_FIELDS]
        problems += [f"unknown field {name}" for name in params if name not in fields and name not in BUTTON_FIELDS]
        for name, (kind, required) in fields.items():
            if name not in params:
                if required:
                    problems.append(f"{name} is required")
            elif not isinstance(params[name], kind) or isinstance(params[name], bool):
                problems.append(f"{name} must be {kind.__name__}, not {type(params[name]).__name__}")
        text = params.get("text")
        if isinstance(text, str) and not 1 <= len(text) <= TEXT_LIMIT:
            problems.append(f"text of {len(text)} characters (1 to {TEXT_LIMIT})")
        photo = params.get("photo")
        if method == "sendPhoto" and isinstance(photo, str) and not photo.startswith(("http://", "https://")):
            problems.append("photo must be a URL")
        if method == "getUpdates" and self.webhook is not None:
            problems.append("getUpdates while a webhook is set")
        return problems

    async def _answer(self, call: Call) -> tuple[int, dict[str, Any]]:
        try:
            await inject_fault(call, self._faults.get(call.method), self.fault, self._sleep)
            self._check_rate(call)
            result = await getattr(self, f"_{call.method}")(call.params)
        except ApiError as error:
            self.rejected_429 += error.status == 429
            return (200 if error.status == 408 else error.status), error.body()
        return 200, {"ok": True, "result": result}

    def _check_rate(self, call: Call) -> None:
        if not (self._chat_rate and call.method.startswith("send") and call.method != "sendChatAction"):
            return
        now = time.monotonic()
        window = self._chat_sends.setdefault(str(call.params.get("chat_id")), deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self._chat_rate:
            raise too_many_requests(1)
        window.append(now)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    # ---- methods
    async def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.token.split(":", 1)[0], "account_name": self.bot_name, "account_type": "BASIC",
                "can_join_groups": False}

    async def _getUpdates(self, params: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + min(float(params.get("timeout", 30)), 30.0)
        while not self._updates:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing.is_set():
                raise ApiError(408, "Request timeout")
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
        return self._updates.popleft()  # handed out: Zalo has no offset to confirm it by

    async def _setWebhook(self, params: dict[str, Any]) -> dict[str, Any]:
        if not 8 <= len(params["secret_token"]) <= 256:
            raise ApiError(400, "secret_token must be 8 to 256 characters")
        self.webhook = dict(params)
        self._signal()
        return {"url": params["url"]}

    async def _deleteWebhook(self, params: dict[str, Any]) -> dict[str, Any]:
        self.webhook = None
        return {"url": ""}

    async def _getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": (self.webhook or {}).get("url", ""), "updated_at": int(time.time() * 1000)}

    async def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(Sent(params["chat_id"], text=params["text"]))
        return self._message(params)

    async def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        """As Zalo does: fetch the URL; a URL that does not give an image is refused."""
        sent = Sent(params["chat_id"], text=params.get("caption", ""), photo_url=params["photo"])
        try:
            async with self._client.get(params["photo"], timeout=aiohttp.ClientTimeout(total=5)) as answer:
                sent.photo_status = answer.status
                sent.photo = await answer.read() if answer.status == 200 else None
        except (aiohttp.ClientError, TimeoutError):
            sent.photo_status = 0
        self.sent.append(sent)
        if sent.photo is None:
            raise ApiError(400, f"cannot fetch the photo (HTTP {sent.photo_status})")
        return self._message(params)

    async def _sendSticker(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._message(params)

    async def _sendChatAction(self, params: dict[str, Any]) -> bool:
        return True

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        self._signal()
        return {"message_id": secrets.token_hex(16), "date": int(time.time() * 1000)}

    # ---- photos people sent, and the webhook
    async def _serve_image(self, request: web.Request) -> web.Response:
        image = self.images.get(request.match_info["name"])
        if image is None or image.missing:
            return web.Response(status=404)
        image.requests += 1
        if image.delay:
            await self._sleep(image.delay)
        if image.requests <= image.failures:
            return web.Response(status=500)
        return web.Response(body=image.data, content_type="image/jpeg")

    async def _deliver_to_webhook(self) -> None:
        """Post each queued update to the webhook, in order, again until it is answered 2xx (a 4xx drops it)."""
        backoff = 0.05
        while True:
            if self.webhook is None or not self._updates:
                event = self._changed
                await event.wait()
                continue
            update = self._updates[0]
            body = {"ok": True, "result": update} if self.wrap_webhook else update
            if self.on_webhook_post is not None:
                self.on_webhook_post()
            try:
                async with self._client.post(self.webhook["url"], json=body, timeout=aiohttp.ClientTimeout(total=10),
                                             headers={"X-Bot-Api-Secret-Token": self.webhook["secret_token"]}
                                             ) as answer:
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            self.webhook_posts.append(status)
            self._signal()
            if status < 500 and status != 0:
                if self._updates and self._updates[0] is update:
                    self._updates.popleft()
                backoff = 0.05
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 0.5)
