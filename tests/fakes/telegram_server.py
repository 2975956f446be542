"""A fake Telegram Bot API server that judges every call by the official spec.

Why: the bot only ever talks to Telegram over HTTP, so the most honest test double is an HTTP server
that a real, unmodified aiogram ``Bot`` talks to.  A mock of aiogram would happily accept calls that
Telegram rejects; this server instead checks each call (and each update a test pushes) against the
machine-readable Bot API spec in ``../shared/telegram-bot-api/api.json`` and records every
disagreement in ``violations``, so a test only has to assert that list stays empty.

Typical use::

    server = FakeTelegramServer()
    await server.start()
    bot = Bot(server.token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.url)))
    server.send_text(42, "/start")
    reply = await server.next_reply(42)
    assert not server.violations
    await server.stop()
"""

# ruff: noqa: ASYNC109  -- wait_for(…, timeout=…) is the API tests are written against

from __future__ import annotations

import asyncio
import copy
import html
import io
import itertools
import json
import mimetypes
import re
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web
from PIL import Image

API_JSON: Path = Path(__file__).resolve().parents[2].parent / "shared" / "telegram-bot-api" / "api.json"

MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # getFile refuses bigger files, as the real Bot API does
MAX_UPLOAD_SIZE = 100 * 1024 * 1024
WEBHOOK_CONNECTIONS = 8  # connections the fake opens at once to a webhook (Telegram: up to max_connections)
PARSE_MODES = frozenset({"HTML", "Markdown", "MarkdownV2"})
HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "a", "code", "pre", "blockquote"}
)
HTML_NAMED_ENTITIES = frozenset({"&lt;", "&gt;", "&amp;", "&quot;"})

_RANGE_RE = re.compile(r"(\d+)-(\d+) (characters|bytes)")
_ITEMS_RE = re.compile(r"must include (\d+)-(\d+) items")
_CONST_RE = re.compile(r'(?:must be|always) "?([a-z_]+)"?')
_ONE_OF_RE = re.compile(r"(Exactly|At most) one of the fields other than (.+?) must be used")
_INT_RE = re.compile(r"-?\d+")
_COMMAND_RE = re.compile(r"[a-z0-9_]+")
_HTML_TOKEN_RE = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)(\s[^<>]*)?>|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);|[<>&]"
)
_HTML_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?>")
_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def require_api_json() -> Path:
    """Skip the calling test when the spec is absent: without it the fake has nothing to judge by."""
    if not API_JSON.is_file():
        import pytest

        pytest.skip(
            f"{API_JSON} (../shared/telegram-bot-api/api.json next to the repository) is absent, "
            "so Bot API end-to-end tests are skipped"
        )
    return API_JSON


# --------------------------------------------------------------------------------------------------
# Spec validator
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part, kept as bytes so tests can compare what the bot uploaded."""

    name: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class _Field:
    name: str
    types: tuple[str, ...]
    required: bool
    description: str


def _fields_of(entry: dict[str, Any]) -> dict[str, _Field]:
    return {
        f["name"]: _Field(f["name"], tuple(f["types"]), bool(f["required"]), f.get("description", ""))
        for f in entry.get("fields", [])
    }


def _is_integer(value: Any, form: bool) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    return form and isinstance(value, str) and _INT_RE.fullmatch(value) is not None


def _is_float(value: Any, form: bool) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return True
    if not (form and isinstance(value, str)):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _is_boolean(value: Any, form: bool) -> bool:
    return isinstance(value, bool) or (form and value in ("true", "false"))


def _is_string(value: Any, form: bool) -> bool:
    return isinstance(value, str)


def _is_input_file(value: Any, form: bool) -> bool:
    return isinstance(value, UploadedFile | str)


_SCALAR_CHECKS: dict[str, Callable[[Any, bool], bool]] = {
    "Integer": _is_integer,
    "Float": _is_float,
    "Boolean": _is_boolean,
    "String": _is_string,
    "InputFile": _is_input_file,
}


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'…' if len(text) > 60 else ''}"


def _shape_matches(type_name: str, value: Any) -> bool:
    """Whether a value has the broad shape of a type; used to pick the most telling union error."""
    if type_name.startswith("Array of "):
        return isinstance(value, list)
    if type_name in _SCALAR_CHECKS:
        return not isinstance(value, dict | list)
    return isinstance(value, dict)


def visible_text(text: str, parse_mode: str | None) -> str:
    """Text as the user sees it after entity parsing (roughly, for Markdown), for length limits."""
    if parse_mode == "HTML":
        return html.unescape(_HTML_TAG_RE.sub("", text))
    if parse_mode in ("Markdown", "MarkdownV2"):
        text = _MD_LINK_RE.sub(r"\1", text)
        text = re.sub(r"(?<!\\)[*_~|`]", "", text)
        return re.sub(r"\\(.)", r"\1", text)
    return text


def html_problems(text: str) -> list[str]:
    """Problems Telegram would answer with "can't parse entities" (see "HTML style" in the docs)."""
    stack: list[str] = []
    for match in _HTML_TOKEN_RE.finditer(text):
        token = match.group(0)
        if token in ("<", ">", "&"):
            return [f"unescaped {token!r} at offset {match.start()} (use &lt; &gt; &amp;)"]
        if token.startswith("&"):
            if token not in HTML_NAMED_ENTITIES and not token.startswith("&#"):
                return [f"unsupported named entity {token} at offset {match.start()}"]
            continue
        closing, tag = match.group(1) == "/", match.group(2).lower()
        if tag not in HTML_TAGS and not tag.startswith("tg-"):
            return [f"unsupported tag <{tag}> at offset {match.start()}"]
        if not closing:
            stack.append(tag)
        elif not stack or stack.pop() != tag:
            return [f"unmatched end tag </{tag}> at offset {match.start()}"]
    return [f"unclosed tag <{stack[-1]}>"] if stack else []


class SpecValidator:
    """Checks Bot API calls and updates against ``api.json``; every check returns violation strings."""

    def __init__(self, api_json_path: Path = API_JSON) -> None:
        spec = json.loads(Path(api_json_path).read_text(encoding="utf-8"))
        self.version: str = spec.get("version", "?")
        self._methods = {name: _fields_of(entry) for name, entry in spec["methods"].items()}
        self._returns = {name: tuple(entry.get("returns", ())) for name, entry in spec["methods"].items()}
        self._method_names = {name.lower(): name for name in spec["methods"]}
        self._known_types = set(spec["types"])
        self._types = {name: _fields_of(t) for name, t in spec["types"].items() if "fields" in t}
        self._subtypes = {name: tuple(t["subtypes"]) for name, t in spec["types"].items() if "subtypes" in t}
        self._consts = {name: self._constants(t) for name, t in spec["types"].items() if t.get("subtype_of")}
        self._one_of = {name: r for name, t in spec["types"].items() if (r := self._one_of_rule(t))}

    @staticmethod
    def _constants(entry: dict[str, Any]) -> dict[str, str]:
        """Discriminator values of a subtype, e.g. BotCommandScopeChat.type "must be chat"."""
        found = {}
        for f in entry.get("fields", []):
            match = _CONST_RE.search(f.get("description", ""))
            if f["name"] in ("type", "status", "source") and match:
                found[f["name"]] = match.group(1)
        return found

    @staticmethod
    def _one_of_rule(entry: dict[str, Any]) -> tuple[str, frozenset[str]] | None:
        """E.g. InlineKeyboardButton: "Exactly one of the fields other than text, … must be used"."""
        match = _ONE_OF_RE.search(" ".join(entry.get("description", [])))
        if not match:
            return None
        names = re.split(r",\s*(?:and\s+)?|\s+and\s+", match.group(2))
        return match.group(1).lower(), frozenset(n.strip() for n in names)

    # ---- public API -------------------------------------------------------------------------------

    def method_name(self, method: str) -> str | None:
        """The spec's spelling of a method; Telegram method names are case-insensitive."""
        return self._method_names.get(method.lower())

    def returns(self, method: str) -> tuple[str, ...]:
        name = self.method_name(method)
        return self._returns[name] if name else ()

    def field_types(self, method: str) -> dict[str, tuple[str, ...]]:
        name = self.method_name(method)
        return {n: f.types for n, f in self._methods[name].items()} if name else {}

    def check_call(self, method: str, params: dict[str, Any]) -> list[str]:
        """Violations of one call; form-encoded scalars ("5", "true") are accepted at the top level."""
        name = self.method_name(method)
        if name is None:
            return [f"unknown method {method!r}"]
        return self._check_fields(name, self._methods[name], params, name, form=True)

    def check_update(self, update: dict[str, Any]) -> list[str]:
        """Violations of an Update a test wants to push, so tests cannot invent fields."""
        return self.check_object("Update", update)

    def check_object(self, type_name: str, value: Any) -> list[str]:
        """Strict (JSON-typed) check of an object, e.g. a Message the fake returns."""
        return self._check_value((type_name,), value, type_name, form=False)

    def check_value(self, types: tuple[str, ...] | list[str], value: Any, path: str = "result") -> list[str]:
        return self._check_value(tuple(types), value, path, form=False)

    # ---- recursion --------------------------------------------------------------------------------

    def _check_value(self, types: tuple[str, ...], value: Any, path: str, form: bool) -> list[str]:
        """A union passes if any member passes; otherwise report the closest member's errors."""
        results: list[tuple[str, list[str]]] = []
        for type_name in types:
            errors = self._check_type(type_name, value, path, form)
            if not errors:
                return []
            results.append((type_name, errors))
        if len(results) == 1:
            return results[0][1]
        shaped = [r for r in results if _shape_matches(r[0], value)]
        if shaped:
            return min(shaped, key=lambda r: len(r[1]))[1]
        return [f"{path}: expected {' or '.join(types)}, got {_describe(value)}"]

    def _check_type(self, type_name: str, value: Any, path: str, form: bool) -> list[str]:
        if type_name.startswith("Array of "):
            return self._check_array(type_name, value, path)
        if type_name in _SCALAR_CHECKS:
            ok = _SCALAR_CHECKS[type_name](value, form)
            return [] if ok else [f"{path}: expected {type_name}, got {_describe(value)}"]
        if type_name in self._subtypes:
            return self._check_value(self._candidates(type_name, value), value, path, form)
        if type_name == "KeyboardButton" and isinstance(value, str):
            return []  # "For simple text buttons, String can be used instead of this object"
        if type_name not in self._known_types:
            return [f"{path}: type {type_name} is not in the spec"]
        if not isinstance(value, dict):
            return [f"{path}: expected {type_name} object, got {_describe(value)}"]
        fields = self._types.get(type_name)
        if fields is None:
            return []  # a placeholder type without fields, e.g. CallbackGame
        return self._check_fields(type_name, fields, value, path, form=False)

    def _candidates(self, type_name: str, value: Any) -> tuple[str, ...]:
        """Subtypes whose discriminator ("type": "chat"…) fits the value, for precise error messages."""
        subtypes = self._subtypes[type_name]
        if not isinstance(value, dict):
            return subtypes
        fitting = tuple(
            t
            for t in subtypes
            if all(value.get(k) == v for k, v in self._consts.get(t, {}).items()) and self._consts.get(t)
        )
        return fitting or subtypes

    def _check_array(self, type_name: str, value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{path}: expected {type_name}, got {_describe(value)}"]
        inner = (type_name.removeprefix("Array of "),)
        return [
            e for i, item in enumerate(value) for e in self._check_value(inner, item, f"{path}[{i}]", False)
        ]

    def _check_fields(
        self, owner: str, fields: dict[str, _Field], obj: dict[str, Any], path: str, form: bool
    ) -> list[str]:
        errors = [
            f"{path}: missing required field {n!r}" for n, f in fields.items() if f.required and n not in obj
        ]
        for key, value in obj.items():
            spec_field = fields.get(key)
            if spec_field is None:
                errors.append(f"{path}.{key}: unknown field (not in {owner})")
                continue
            type_errors = self._check_value(spec_field.types, value, f"{path}.{key}", form)
            errors += type_errors or _field_rules(spec_field, value, obj, f"{path}.{key}")
        return errors + self._object_rules(owner, obj, path)

    def _object_rules(self, owner: str, obj: dict[str, Any], path: str) -> list[str]:
        errors = [
            f"{path}.{name}: must be {expected!r}, got {obj.get(name)!r}"
            for name, expected in self._consts.get(owner, {}).items()
            if name in obj and obj[name] != expected
        ]
        if owner in self._one_of:
            mode, free = self._one_of[owner]
            used = sorted(k for k in obj if k not in free)
            if len(used) > 1 or (mode == "exactly" and not used):
                errors.append(f"{path}: {mode} one of the optional action fields must be used, got {used}")
        if owner == "Update":
            payload = [k for k in obj if k != "update_id"]
            if len(payload) != 1:
                errors.append(f"{path}: an Update carries exactly one payload field, got {payload}")
        return errors


def _field_rules(spec_field: _Field, value: Any, obj: dict[str, Any], path: str) -> list[str]:
    """Limits and formats written in the field's description (lengths, item counts, HTML)."""
    desc, errors = spec_field.description, []
    parse_mode = obj.get("parse_mode") if "after entit" in desc else None
    if isinstance(value, str) and (match := _RANGE_RE.search(desc)):
        low, high, unit = int(match.group(1)), int(match.group(2)), match.group(3)
        size = len(value.encode()) if unit == "bytes" else len(visible_text(value, parse_mode))
        if not low <= size <= high:
            errors.append(f"{path}: {size} {unit}, the spec allows {low}-{high} {unit}")
    if isinstance(value, list) and (match := _ITEMS_RE.search(desc)):
        if not int(match.group(1)) <= len(value) <= int(match.group(2)):
            errors.append(f"{path}: {len(value)} items, the spec allows {match.group(0)[13:]}")
    if "only lowercase English letters, digits and underscores" in desc and isinstance(value, str):
        if not _COMMAND_RE.fullmatch(value):
            errors.append(f"{path}: {value!r} may contain only lowercase English letters, digits and _")
    if spec_field.name == "parse_mode" and value not in PARSE_MODES:
        errors.append(f"{path}: {value!r} is not one of {sorted(PARSE_MODES)}")
    if parse_mode == "HTML" and isinstance(value, str):
        errors += [f"{path}: can't parse entities: {p}" for p in html_problems(value)]
    return errors


@lru_cache(maxsize=4)
def load_validator(api_json_path: Path = API_JSON) -> SpecValidator:
    """One parsed spec per path per test session: parsing ~1 MB of JSON per test adds up."""
    return SpecValidator(api_json_path)


# --------------------------------------------------------------------------------------------------
# Records, faults and limits
# --------------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One API call as the server saw it; ``at`` is ``time.monotonic()`` on arrival."""

    method: str
    params: dict[str, Any]
    at: float
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int | None = None  # HTTP status of the answer, None while the call is being handled
    response: dict[str, Any] | None = None
    content_type: str = ""  # of the request's body


class ApiError(Exception):
    """An error answer of the Bot API (``ok: false``)."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


@dataclass(frozen=True)
class Fault:
    """A failure to inject into one call, to test how the bot copes with Telegram misbehaving."""

    kind: str
    retry_after: int = 0
    seconds: float = 0.0

    @classmethod
    def too_many(cls, retry_after: int) -> Fault:
        return cls("too_many", retry_after=retry_after)

    @classmethod
    def server_error(cls) -> Fault:
        return cls("server_error")

    @classmethod
    def timeout(cls, seconds: float) -> Fault:
        """Answer normally, but only after ``seconds`` (longer than the client waits = a timeout)."""
        return cls("timeout", seconds=seconds)

    @classmethod
    def forbidden(cls) -> Fault:
        return cls("forbidden")

    def error(self) -> ApiError | None:
        if self.kind == "too_many":
            return too_many_requests(self.retry_after)
        if self.kind == "server_error":
            return ApiError(500, "Internal Server Error")
        if self.kind == "forbidden":
            return ApiError(403, "Forbidden: bot was blocked by the user")
        return None


async def inject_fault(call: Call, queued: deque[Fault] | None,
                       fault_for: Callable[[str, dict[str, Any]], Fault | None] | None,
                       sleep: Callable[[float], Awaitable[None]]) -> None:
    """The next fault queued for the call's method, else what `fault_for` decides: raised as the API's error
    answer, or (a timeout) slept through before answering normally."""
    fault = queued.popleft() if queued else (fault_for(call.method, call.params) if fault_for else None)
    if fault is None:
        return
    if fault.kind == "timeout":
        await sleep(fault.seconds)
    elif (error := fault.error()) is not None:
        raise error


class _Window:
    """Sliding-window limiter: at most ``limit`` accepted calls per ``span`` seconds."""

    def __init__(self, per_second: float) -> None:
        self.limit, self.span = (int(per_second), 1.0) if per_second >= 1 else (1, 1.0 / per_second)
        self.stamps: deque[float] = deque()

    def full(self, now: float) -> bool:
        while self.stamps and now - self.stamps[0] >= self.span:
            self.stamps.popleft()
        return len(self.stamps) >= self.limit


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    size: int
    path: str


def _photo_variants(data: bytes) -> list[tuple[bytes, int, int]]:
    """Thumbnails from small to large and the original last, as Telegram lists PhotoSize."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            width, height = image.size
            variants = []
            for side in (90, 320, 800):
                if max(width, height) > side:
                    thumb = image.convert("RGB")
                    thumb.thumbnail((side, side))
                    buffer = io.BytesIO()
                    thumb.save(buffer, "JPEG")
                    variants.append((buffer.getvalue(), *thumb.size))
    except (OSError, ValueError, Image.DecompressionBombError):
        return [(data, 0, 0)]  # not an image: let the bot's own check find out
    return [*variants, (data, width, height)]


def _as_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and _INT_RE.fullmatch(value) else None


def _command_entity(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]


def _inline_markup(params: dict[str, Any]) -> dict[str, Any] | None:
    markup = params.get("reply_markup")
    return markup if isinstance(markup, dict) and "inline_keyboard" in markup else None


def _callback_datas(message: dict[str, Any]) -> set[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["callback_data"] for row in rows for b in row if "callback_data" in b}


def _is_rate_limited_method(method: str) -> bool:
    return method.startswith("send") and method != "sendChatAction"


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------

Handler = Callable[[Call], Awaitable[Any]]


class FakeTelegramServer:
    """Bot API over HTTP on 127.0.0.1, with helpers to play the user's side and to wait for replies."""

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        bot_username: str = "nguoitot_test_bot",
        validator: SpecValidator | None = None,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.validator = validator or load_validator()
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.rejected_429 = 0
        self.fault: Callable[[str, dict[str, Any]], Fault | None] | None = None
        self.on_answer: Callable[[Call], None] | None = None
        self.dropped_updates: list[dict[str, Any]] = []  # not in the poller's allowed_updates
        self.bot_user: dict[str, Any] = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Người Tốt (test)",
            "username": bot_username,
        }
        self._url: str | None = None
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._changed = asyncio.Event()
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._message_ids: dict[int, int] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._sent: list[dict[str, Any]] = []
        self._reply_cursor: dict[int, int] = {}
        self._files: dict[str, _StoredFile] = {}
        self._photo_sets: dict[str, list[dict[str, Any]]] = {}
        self._documents: dict[str, dict[str, Any]] = {}
        self._callbacks: dict[str, bool] = {}
        self._commands: dict[str, list[dict[str, Any]]] = {}
        self._queued_faults: dict[str, deque[Fault]] = {}
        self._global_window: _Window | None = None
        self._chat_rate: float | None = None
        self._chat_windows: dict[str, _Window] = {}
        self._retry_after = 1
        self.webhook: dict[str, Any] | None = None  # setWebhook's parameters while one is set
        self.webhook_connections = WEBHOOK_CONNECTIONS  # at most, whatever max_connections asks
        self.webhook_posts: list[int] = []  # the HTTP status of each delivery attempt to the webhook
        self._webhook_task: asyncio.Task | None = None
        self._handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendMediaGroup": self._send_media_group,
            "copyMessage": self._copy_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "getFile": self._get_file,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
        }

    # ---- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for ``TelegramAPIServer.from_base(url)``; known once the server is started."""
        if self._url is None:
            raise RuntimeError("FakeTelegramServer.start() has not been awaited")
        return self._url

    async def start(self) -> None:
        self._closing.clear()
        app = web.Application(client_max_size=MAX_UPLOAD_SIZE)
        app.router.add_get("/bot{token}/{method}", self._handle_api)
        app.router.add_post("/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self._url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Wake pending long polls and delayed answers first, so shutdown does not wait for them."""
        self._closing.set()
        self._signal()
        await self._stop_webhook()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ---- configuration ----------------------------------------------------------------------------

    def rate_limit(
        self, per_second: float | None = None, per_chat_per_second: float | None = None, retry_after: int = 1
    ) -> None:
        """Answer send* calls beyond these rates (sliding window) with 429; None switches a limit off."""
        self._global_window = _Window(per_second) if per_second else None
        self._chat_rate = per_chat_per_second or None
        self._chat_windows = {}
        self._retry_after = retry_after

    def queue_faults(self, method: str, *faults: Fault) -> None:
        """Inject ``faults`` into the next calls of ``method``, one each, before ``self.fault`` is asked."""
        name = self.validator.method_name(method) or method
        self._queued_faults.setdefault(name, deque()).extend(faults)

    # ---- HTTP -------------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        raw_method = request.match_info["method"]
        name = self.validator.method_name(raw_method) or raw_method
        params, files, problems = await self._read_params(request, name)
        call = Call(name, params, time.monotonic(), files, content_type=request.content_type)
        self.calls.append(call)
        self._signal()
        status, body = await self._answer(call, problems)
        call.status, call.response = status, body
        self._signal()
        if self.on_answer is not None:  # a test's hook, called before the bot hears the answer
            self.on_answer(call)
        return web.json_response(body, status=status)

    async def _answer(self, call: Call, problems: list[str]) -> tuple[int, dict[str, Any]]:
        problems = self.validator.check_call(call.method, call.params) + problems
        if problems:
            self.violations += problems
            return 400, ApiError(400, "Bad Request: " + "; ".join(problems)).body()
        try:
            await self._inject_fault(call)
            self._check_rate(call)
            result = await self._dispatch(call)
        except ApiError as error:
            self.rejected_429 += error.status == 429
            return error.status, error.body()
        if returns := self.validator.returns(call.method):
            self.violations += [
                f"fake bug in {call.method}: {p}" for p in self.validator.check_value(returns, result)
            ]
        return 200, {"ok": True, "result": result}

    async def _read_params(
        self, request: web.Request, method: str
    ) -> tuple[dict[str, Any], dict[str, UploadedFile], list[str]]:
        """Query string, urlencoded/multipart form or JSON body; JSON-encoded complex fields decoded."""
        params: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    return params, files, ["the request body is not valid JSON"]
                params.update(body if isinstance(body, dict) else {})
            else:
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        files[key] = UploadedFile(key, value.filename, value.content_type, value.file.read())
                    else:
                        params[key] = value
        types = self.validator.field_types(method)
        for key, value in params.items():
            if isinstance(value, str) and not set(types.get(key, ())) <= set(_SCALAR_CHECKS):
                params[key] = _try_json(value)
        return params, files, _attach_files(params, files, types)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        stored = next((f for f in self._files.values() if f.path == request.match_info["path"]), None)
        if stored is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _inject_fault(self, call: Call) -> None:
        await inject_fault(call, self._queued_faults.get(call.method), self.fault, self._sleep)

    def _check_rate(self, call: Call) -> None:
        if not _is_rate_limited_method(call.method):
            return
        now = time.monotonic()
        windows = [self._global_window] if self._global_window else []
        if self._chat_rate:
            chat = str(call.params.get("chat_id"))
            windows.append(self._chat_windows.setdefault(chat, _Window(self._chat_rate)))
        if any(w.full(now) for w in windows):
            raise too_many_requests(self._retry_after)
        for window in windows:
            window.stamps.append(now)

    async def _dispatch(self, call: Call) -> Any:
        handler = self._handlers.get(call.method)
        if handler is not None:
            return await handler(call)
        returns = self.validator.returns(call.method)
        if returns == ("Boolean",):
            return True
        if call.method.startswith("send") and returns == ("Message",):
            return self._bot_message(call, self._generic_content(call.params))
        self.violations.append(f"fake: {call.method} (returns {returns}) is not implemented by the fake")
        raise ApiError(400, f"Bad Request: the fake server does not implement {call.method}")

    # ---- waiting ----------------------------------------------------------------------------------

    def _signal(self) -> None:
        """Wake everyone waiting for a change; waiters take the event before checking their condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            pass

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, *, what: str = "") -> None:
        """Await ``predicate()``; re-checked on every call/update and every 0.1 s (for outside state)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            if predicate():
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    self._timeout_report(what or getattr(predicate, "__name__", ""), timeout)
                )
            try:
                await asyncio.wait_for(event.wait(), min(remaining, 0.1))
            except TimeoutError:
                pass

    def _timeout_report(self, what: str, timeout: float) -> str:
        lines = [f"timed out after {timeout} s waiting for {what or 'a condition'}; last calls:"]
        for call in self.calls[-6:]:
            shown = {k: v for k, v in call.params.items() if not isinstance(v, UploadedFile)}
            lines.append(f"  {call.method} -> {call.status}: {json.dumps(shown, ensure_ascii=False)[:200]}")
        if self.violations:
            lines.append(f"violations: {self.violations[-3:]}")
        return "\n".join(lines)

    async def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """All messages sent to ``chat_id`` once there are at least ``count`` of them."""
        await self.wait_for(
            lambda: len(self.sent_messages(chat_id)) >= count,
            timeout,
            what=f"{count} message(s) to chat {chat_id} (have {len(self.sent_messages(chat_id))})",
        )
        return self.sent_messages(chat_id)

    async def next_reply(self, chat_id: int, timeout: float = 10.0) -> dict[str, Any]:
        """The next message to ``chat_id`` not yet handed out by this method."""
        index = self._reply_cursor.get(chat_id, 0)
        messages = await self.wait_for_messages(chat_id, index + 1, timeout)
        self._reply_cursor[chat_id] = index + 1
        return messages[index]

    # ---- records ----------------------------------------------------------------------------------

    def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent, in order: the Message returned plus the call's params under "params"."""
        return [copy.deepcopy(m) for m in self._sent if chat_id is None or m["chat"]["id"] == chat_id]

    def calls_named(self, method: str) -> list[Call]:
        name = self.validator.method_name(method) or method
        return [c for c in self.calls if c.method == name]

    def current_message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """A message as it is now (after the bot's edits), or None if unknown or deleted."""
        message = self._messages.get((chat_id, message_id))
        return copy.deepcopy(message) if message else None

    def unanswered_callbacks(self) -> list[str]:
        """Callback query ids the bot never answered (the user's button would keep spinning)."""
        return [cid for cid, answered in self._callbacks.items() if not answered]

    # ---- the user's side: updates ---------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Validate and enqueue an Update (``update_id`` assigned if absent); invalid ones fail fast."""
        update = {"update_id": next(self._update_ids), **update}
        problems = self.validator.check_update(update)
        if problems:
            self.violations += [f"pushed update: {p}" for p in problems]
            raise AssertionError(f"update is not valid per the Bot API spec: {problems}")
        for kind in ("message", "edited_message"):
            if kind in update:
                message = update[kind]
                self._messages[(message["chat"]["id"], message["message_id"])] = copy.deepcopy(message)
        self._updates.append(update)
        self._signal()
        return copy.deepcopy(update)

    def user(self, user_id: int, first_name: str | None = None) -> dict[str, Any]:
        """The User object of a test user (remembered, so later updates reuse the name)."""
        known = self._users.setdefault(user_id, {"id": user_id, "is_bot": False, "first_name": "Test"})
        if first_name:
            known["first_name"] = first_name
        return dict(known)

    def new_user_message(
        self, user_id: int, *, first_name: str | None = None, message_id: int | None = None
    ) -> dict[str, Any]:
        """Skeleton of a user's message in their private chat; add content and ``push_update`` it."""
        sender = self.user(user_id, first_name)
        if message_id is None:
            message_id = self._next_message_id(user_id)
        else:
            self._message_ids[user_id] = max(self._message_ids.get(user_id, 0), message_id)
        return {
            "message_id": message_id,
            "from": sender,
            "chat": self._chat(user_id),
            "date": int(time.time()),
        }

    def send_text(
        self, user_id: int, text: str, *, first_name: str = "Test", message_id: int | None = None
    ) -> dict[str, Any]:
        message = self.new_user_message(user_id, first_name=first_name, message_id=message_id)
        message["text"] = text
        if entities := _command_entity(text):
            message["entities"] = entities
        return self.push_update({"message": message})

    def send_photo(
        self,
        user_id: int,
        image_bytes: bytes,
        *,
        media_group_id: str | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        message = self.new_user_message(user_id)
        message["photo"] = self._register_photo(image_bytes)
        return self.push_update({"message": _with_album(message, media_group_id, caption)})

    def send_document(
        self,
        user_id: int,
        data: bytes,
        *,
        file_name: str,
        mime_type: str,
        media_group_id: str | None = None,
        caption: str | None = None,
        file_size: int | None = None,
    ) -> dict[str, Any]:
        message = self.new_user_message(user_id)
        message["document"] = self._register_document(data, file_name, mime_type, file_size)
        return self.push_update({"message": _with_album(message, media_group_id, caption)})

    def send_sticker(self, user_id: int) -> dict[str, Any]:
        buffer = io.BytesIO()
        Image.new("RGBA", (512, 512), (255, 200, 0, 255)).save(buffer, "WEBP")
        file_id, unique_id = self.register_file(
            buffer.getvalue(), file_path=self._file_path("stickers", ".webp")
        )
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
            "file_size": len(buffer.getvalue()),
        }
        return self.push_update({"message": {**self.new_user_message(user_id), "sticker": sticker}})

    def send_voice(self, user_id: int, *, duration: int = 2) -> dict[str, Any]:
        data = b"OggS" + bytes(60)
        file_id, unique_id = self.register_file(data, file_path=self._file_path("voice", ".oga"))
        voice = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        return self.push_update({"message": {**self.new_user_message(user_id), "voice": voice}})

    def send_location(
        self, user_id: int, *, latitude: float = 21.0285, longitude: float = 105.8542
    ) -> dict[str, Any]:
        location = {"latitude": latitude, "longitude": longitude}
        return self.push_update({"message": {**self.new_user_message(user_id), "location": location}})

    def send_contact(
        self, user_id: int, *, phone_number: str = "+84901234567", first_name: str = "Test"
    ) -> dict[str, Any]:
        contact = {"phone_number": phone_number, "first_name": first_name, "user_id": user_id}
        return self.push_update({"message": {**self.new_user_message(user_id), "contact": contact}})

    def edit_text(self, user_id: int, message_id: int, new_text: str) -> dict[str, Any]:
        """The user edits one of their messages: an ``edited_message`` update."""
        original = self._messages.get((user_id, message_id))
        message = self.new_user_message(user_id, message_id=message_id)
        message["date"] = original["date"] if original else message["date"]
        message.update(text=new_text, edit_date=int(time.time()))
        if entities := _command_entity(new_text):
            message["entities"] = entities
        return self.push_update({"edited_message": message})

    def press(
        self, user_id: int, message: dict[str, Any], callback_data: str, *, strict: bool = True
    ) -> dict[str, Any]:
        """The user presses an inline button of a bot message, as it is now (after the bot's edits).

        ``strict`` demands that the button exists, so a test cannot press what the user cannot see.
        """
        message = {k: v for k, v in message.items() if k != "params"}
        message = self.current_message(message["chat"]["id"], message["message_id"]) or message
        if strict and callback_data not in _callback_datas(message):
            raise AssertionError(
                f"no button with callback_data {callback_data!r} in {_callback_datas(message)}"
            )
        query_id = str(next(self._ids) * 1000003)
        self._callbacks[query_id] = False
        query = {
            "id": query_id,
            "from": self.user(user_id),
            "chat_instance": f"ci{message['chat']['id']}",
            "message": message,
            "data": callback_data,
        }
        return self.push_update({"callback_query": query})

    # ---- files ------------------------------------------------------------------------------------

    def register_file(
        self, data: bytes, *, size_override: int | None = None, file_path: str | None = None
    ) -> tuple[str, str]:
        """Make bytes downloadable via getFile; ``size_override`` claims a size without sending it."""
        number = next(self._ids)
        file_id = f"BQACAgIAAx{number:05d}{secrets.token_hex(8)}"
        unique_id = f"AgAD{number:05d}"
        path = file_path or self._file_path("documents", ".bin")
        size = len(data) if size_override is None else size_override
        self._files[file_id] = _StoredFile(file_id, unique_id, data, size, path)
        return file_id, unique_id

    def _file_path(self, folder: str, suffix: str) -> str:
        return f"{folder}/file_{next(self._ids)}{suffix}"

    def _register_photo(
        self, data: bytes, variants: list[tuple[bytes, int, int]] | None = None
    ) -> list[dict[str, Any]]:
        sizes = []
        for variant, width, height in variants or _photo_variants(data):
            file_id, unique_id = self.register_file(variant, file_path=self._file_path("photos", ".jpg"))
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(variant),
                }
            )
        for size in sizes:
            self._photo_sets[size["file_id"]] = sizes
        return copy.deepcopy(sizes)

    def _register_document(
        self, data: bytes, file_name: str | None, mime_type: str | None, file_size: int | None = None
    ) -> dict[str, Any]:
        suffix = Path(file_name or "").suffix or ".bin"
        file_id, unique_id = self.register_file(
            data, size_override=file_size, file_path=self._file_path("documents", suffix)
        )
        document: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique_id}
        if file_name:
            document["file_name"] = file_name
        if mime_type:
            document["mime_type"] = mime_type
        document["file_size"] = self._files[file_id].size
        self._documents[file_id] = document
        return dict(document)

    # ---- the bot's side: method handlers ----------------------------------------------------------

    async def _get_me(self, call: Call) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, call: Call) -> list[dict[str, Any]]:
        """Long poll: answer at once if updates are queued, else wait up to ``timeout`` for a push."""
        if self.webhook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = _as_int(call.params.get("offset")) or 0
        limit = min(max(_as_int(call.params.get("limit")) or 100, 1), 100)
        deadline = time.monotonic() + float(_as_int(call.params.get("timeout")) or 0)
        self._confirm(offset)
        while True:
            event = self._changed
            ready = self._deliverable(call.params.get("allowed_updates"), limit)
            remaining = deadline - time.monotonic()
            if ready or remaining <= 0 or self._closing.is_set():
                return ready
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    def _confirm(self, offset: int) -> None:
        """getUpdates with an offset confirms (forgets) every update below it."""
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    def _deliverable(self, allowed: Any, limit: int) -> list[dict[str, Any]]:
        if isinstance(allowed, list) and allowed:
            kept = [u for u in self._updates if set(u) - {"update_id"} <= set(allowed)]
            self.dropped_updates += [u for u in self._updates if u not in kept]
            self._updates = kept
        return copy.deepcopy(self._updates[:limit])

    async def _delete_webhook(self, call: Call) -> bool:
        if call.params.get("drop_pending_updates") in (True, "true"):
            self._updates.clear()
        await self._stop_webhook()
        return True

    async def _get_webhook_info(self, call: Call) -> dict[str, Any]:
        url = self.webhook["url"] if self.webhook else ""
        return {"url": url, "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    async def _set_webhook(self, call: Call) -> bool:
        """Deliver updates by POSTing them to the URL, one at a time and in order, as Telegram does with
        one connection: an update leaves the queue only once the bot answered 2xx; others are retried."""
        await self._stop_webhook()
        secret = call.params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = dict(call.params)
        self._webhook_task = asyncio.create_task(self._deliver_to_webhook())
        return True

    async def _stop_webhook(self) -> None:
        self.webhook = None
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            await asyncio.gather(self._webhook_task, return_exceptions=True)
            self._webhook_task = None

    async def _deliver_to_webhook(self) -> None:
        """As many connections as max_connections (at most `webhook_connections` here), never two updates of one
        chat at once: a chat's updates arrive in order, others side by side."""
        import aiohttp

        webhook = self.webhook
        assert webhook is not None
        connections = min(int(webhook.get("max_connections") or 40), self.webhook_connections)
        in_flight: set[int] = set()
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(self._webhook_connection(session, webhook, in_flight) for _ in range(connections)))

    async def _webhook_connection(self, session: Any, webhook: dict[str, Any], in_flight: set[int]) -> None:
        import aiohttp

        headers = {"X-Telegram-Bot-Api-Secret-Token": str(webhook["secret_token"])} \
            if webhook.get("secret_token") else {}
        while not self._closing.is_set():
            event = self._changed
            update = self._next_for_webhook(webhook.get("allowed_updates"), in_flight)
            if update is None:
                await event.wait()
                continue
            in_flight.add(_chat_of(update))
            try:
                async with session.post(webhook["url"], json=update, headers=headers,
                                        timeout=aiohttp.ClientTimeout(total=10)) as answer:
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            finally:
                in_flight.discard(_chat_of(update))
            self.webhook_posts.append(status)
            if 200 <= status < 300:
                self._updates = [u for u in self._updates if u["update_id"] != update["update_id"]]
                self._signal()
            else:
                await self._sleep(0.05)  # Telegram waits longer before trying again

    def _next_for_webhook(self, allowed: Any, in_flight: set[int]) -> dict[str, Any] | None:
        busy = set(in_flight)
        for update in self._updates:
            if isinstance(allowed, list) and allowed and not set(update) - {"update_id"} <= set(allowed):
                continue  # not asked for: Telegram would not send it
            chat = _chat_of(update)
            if chat not in busy:
                return copy.deepcopy(update)
            busy.add(chat)  # its later updates wait for it too
        return None

    async def _send_message(self, call: Call) -> dict[str, Any]:
        text = visible_text(call.params["text"], call.params.get("parse_mode"))
        return self._bot_message(call, {"text": text})

    async def _send_photo(self, call: Call) -> dict[str, Any]:
        return self._bot_message(
            call, {"photo": await self._photo_of(call.params["photo"]), **self._caption(call.params)}
        )

    async def _send_document(self, call: Call) -> dict[str, Any]:
        document = self._document_of(call.params["document"])
        return self._bot_message(call, {"document": document, **self._caption(call.params)})

    async def _send_media_group(self, call: Call) -> list[dict[str, Any]]:
        group_id = str(next(self._ids) * 7919)
        messages = []
        for item in call.params["media"]:
            source = item["media"]
            if isinstance(source, str) and source.startswith("attach://"):
                source = call.files[source.removeprefix("attach://")]
            content: dict[str, Any] = {"media_group_id": group_id, **self._caption(item)}
            if item["type"] == "photo":
                content["photo"] = await self._photo_of(source)
            elif item["type"] == "document":
                content["document"] = self._document_of(source)
            messages.append(self._bot_message(call, content))
        return messages

    async def _copy_message(self, call: Call) -> dict[str, Any]:
        return {"message_id": self._bot_message(call, {})["message_id"]}

    async def _photo_of(self, source: UploadedFile | str) -> list[dict[str, Any]]:
        if isinstance(source, UploadedFile):  # thumbnails drawn off the loop, which the bot under test shares
            return self._register_photo(source.data, await asyncio.to_thread(_photo_variants, source.data))
        if source in self._photo_sets:
            return copy.deepcopy(self._photo_sets[source])
        if source in self._files:
            return self._register_photo(self._files[source].data)
        if source.startswith(("http://", "https://")):
            return self._register_photo(b"")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _document_of(self, source: UploadedFile | str) -> dict[str, Any]:
        if isinstance(source, UploadedFile):
            mime = source.content_type
            if mime == "application/octet-stream" and source.filename:
                mime = mimetypes.guess_type(source.filename)[0] or mime
            return self._register_document(source.data, source.filename, mime)
        if source in self._documents:
            return dict(self._documents[source])
        if source in self._files:
            stored = self._files[source]
            return {"file_id": source, "file_unique_id": stored.file_unique_id, "file_size": stored.size}
        if source.startswith(("http://", "https://")):
            return self._register_document(b"", Path(source).name or None, None)
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    @staticmethod
    def _caption(params: dict[str, Any]) -> dict[str, Any]:
        caption = params.get("caption")
        return {"caption": visible_text(caption, params.get("parse_mode"))} if caption else {}

    def _generic_content(self, params: dict[str, Any]) -> dict[str, Any]:
        """Content for send* methods without a dedicated handler: what can be built from params."""
        content = self._caption(params)
        if "latitude" in params and "longitude" in params:
            content["location"] = {
                "latitude": float(params["latitude"]),
                "longitude": float(params["longitude"]),
            }
        if "phone_number" in params:
            content["contact"] = {"phone_number": params["phone_number"], "first_name": params["first_name"]}
        return content

    async def _edit_message_text(self, call: Call) -> dict[str, Any] | bool:
        text = (
            visible_text(call.params["text"], call.params.get("parse_mode"))
            if "text" in call.params
            else None
        )
        return self._edit(call, {"text": text}, needs="text")

    async def _edit_message_caption(self, call: Call) -> dict[str, Any] | bool:
        return self._edit(call, {"caption": self._caption(call.params).get("caption")}, needs=None)

    async def _edit_message_reply_markup(self, call: Call) -> dict[str, Any] | bool:
        return self._edit(call, {}, needs=None)

    def _edit(self, call: Call, changes: dict[str, Any], needs: str | None) -> dict[str, Any] | bool:
        """Edit a stored bot message as Telegram does: missing reply_markup removes the keyboard."""
        if "inline_message_id" in call.params:
            return True
        key = self._message_key(call.params)
        current = self._messages.get(key)
        if current is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if current.get("from", {}).get("id") != self.bot_user["id"]:
            raise ApiError(400, "Bad Request: message can't be edited")
        if needs and needs not in current:
            raise ApiError(400, f"Bad Request: there is no {needs} in the message to edit")
        edited = {k: v for k, v in current.items() if k not in ("reply_markup", "edit_date")}
        edited.update({k: v for k, v in changes.items() if v is not None})
        if markup := _inline_markup(call.params):
            edited["reply_markup"] = markup
        if _same_content(edited, current):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message",
            )
        edited["edit_date"] = int(time.time())
        self._messages[key] = edited
        return copy.deepcopy(edited)

    async def _delete_message(self, call: Call) -> bool:
        if self._messages.pop(self._message_key(call.params), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _get_file(self, call: Call) -> dict[str, Any]:
        stored = self._files.get(call.params["file_id"])
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if stored.size > MAX_DOWNLOAD_SIZE:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.path,
        }

    async def _answer_callback_query(self, call: Call) -> bool:
        query_id = call.params["callback_query_id"]
        if self._callbacks.get(query_id) is not False:
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        self._callbacks[query_id] = True
        return True

    async def _set_my_commands(self, call: Call) -> bool:
        self._commands[_commands_key(call.params)] = call.params["commands"]
        return True

    async def _get_my_commands(self, call: Call) -> list[dict[str, Any]]:
        return copy.deepcopy(self._commands.get(_commands_key(call.params), []))

    async def _delete_my_commands(self, call: Call) -> bool:
        self._commands.pop(_commands_key(call.params), None)
        return True

    # ---- message bookkeeping ----------------------------------------------------------------------

    def _next_message_id(self, chat_id: int) -> int:
        """Message ids grow per chat and are shared by both sides, as in a real private chat."""
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            name = self._users.get(chat_id, {}).get("first_name", "Test")
            return {"id": chat_id, "type": "private", "first_name": name}
        return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}

    def _chat_id(self, params: dict[str, Any]) -> int:
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _message_key(self, params: dict[str, Any]) -> tuple[int, int]:
        return self._chat_id(params), _as_int(params.get("message_id")) or 0

    def _bot_message(self, call: Call, content: dict[str, Any]) -> dict[str, Any]:
        """Build, store and return a Message the bot sent, echoing an inline keyboard as Telegram does."""
        chat_id = self._chat_id(call.params)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": dict(self.bot_user),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **content,
        }
        if markup := _inline_markup(call.params):
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = copy.deepcopy(message)
        self._sent.append({**copy.deepcopy(message), "params": call.params})
        return message


def _chat_of(update: dict[str, Any]) -> int:
    body = next((v for k, v in update.items() if k != "update_id" and isinstance(v, dict)), {})
    chat = body.get("chat") or (body.get("message") or {}).get("chat") or body.get("from") or {}
    return int(chat.get("id", 0))


def _same_content(edited: dict[str, Any], current: dict[str, Any]) -> bool:
    keys = ("text", "caption", "reply_markup")
    return all(edited.get(k) == current.get(k) for k in keys)


def _commands_key(params: dict[str, Any]) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps([scope, params.get("language_code", "")], sort_keys=True)


def _with_album(message: dict[str, Any], media_group_id: str | None, caption: str | None) -> dict[str, Any]:
    if media_group_id is not None:
        message["media_group_id"] = media_group_id
    if caption is not None:
        message["caption"] = caption
    return message


def _try_json(value: str) -> Any:
    """Decode a JSON-encoded form value; left as the raw string (and then flagged) if it is not JSON."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _attach_references(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("attach://"):
        yield value.removeprefix("attach://")
    elif isinstance(value, dict):
        for item in value.values():
            yield from _attach_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _attach_references(item)


def _attach_files(
    params: dict[str, Any], files: dict[str, UploadedFile], types: dict[str, tuple[str, ...]]
) -> list[str]:
    """Resolve ``attach://name`` references; file parts nobody refers to become (unknown) fields."""
    problems, referenced = [], set()
    for key, value in list(params.items()):
        for name in _attach_references(value):
            referenced.add(name)
            if name not in files:
                problems.append(f"{key}: attach://{name} refers to no uploaded file part")
            elif value == f"attach://{name}" and "InputFile" in types.get(key, ()):
                params[key] = files[name]
    for name, part in files.items():
        if name not in referenced:
            params[name] = part
    return problems
