"""The Telegram adapter (aiogram 3): updates in (long polling or a webhook) into the inbox, stored updates
→ `Inbound`, `Reply` → Bot API calls.

The only module that imports aiogram. Updates are stored raw, as Telegram sent them, and parsed with
aiogram's types when handled (bot/intake.py, which also gathers an album's photos into one event).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import Any, TypeVar

from aiogram import Bot, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetUpdates
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from aiohttp import web
from PIL import Image

from bot.channels.retrying import retrying
from bot.channels.telegram_session import LeanSession
from bot.channels.typed import link_lines
from bot.handlers.registry import public_commands
from bot.intake import Intake
from common.delivery import Rejected, RetryLater, TransientFailure, Unreachable
from common.events import Choice, Inbound, InboundKind, MediaRef, Reply
from common.messages import t
from common.settings import TELEGRAM_API_DEFAULT, Settings
from common.text import split_text
from storage import repo
from storage.db import Database, one_line
from storage.inbox import Received
from storage.locks import Locks
from storage.media import MediaStore

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "telegram"
TEXT_LIMIT = 4096
POLL_TIMEOUT = 25  # seconds a long poll waits for updates
POLLER_ROLE = "receiver:telegram"  # storage/locks.py: the one process that polls
ROLE_WAIT = 15.0  # seconds between tries to take the poller role from a process that may have died
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/webhook/telegram"
# aiogram asks pydantic for Response[T] on every call, and pydantic caches that class weakly: once
# collected, it is rebuilt (about 0.4 ms) on the next call, a tenth of the bot's CPU when polling.
# Holding the ones we use keeps pydantic's cache warm.
_RESPONSE_TYPES = tuple(Response[m.__returning__] for m in (
    methods.GetUpdates, methods.SendMessage, methods.SendPhoto, methods.SendMediaGroup, methods.GetFile,
    methods.AnswerCallbackQuery, methods.SetMyCommands, methods.DeleteMyCommands, methods.GetMe,
    methods.DeleteWebhook, methods.SetWebhook, methods.SendDocument, methods.EditMessageText,
    methods.SendChatAction))
FILE_LIMIT = 50 * 1024 * 1024  # the Bot API's limit for files a bot uploads
_UNSUPPORTED_FIELDS = ("sticker", "voice", "video", "video_note", "audio", "location", "contact", "venue",
                       "animation", "poll", "dice")


def make_bot(settings: Settings) -> Bot:
    session = LeanSession()
    if settings.telegram_api_url.rstrip("/") != TELEGRAM_API_DEFAULT:
        session = LeanSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(settings.telegram_bot_token, session=session, default=DefaultBotProperties(parse_mode=None))


ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


def classify(update: dict[str, Any]) -> Received | None:
    """What the inbox needs to know of a raw update: its chat and album. None: not for us (a group, a
    channel post, a kind we did not ask for); it is acknowledged and forgotten."""
    for kind in ALLOWED_UPDATES:
        body = update.get(kind)
        if body is not None:
            break
    else:
        return None
    if kind == "callback_query":
        chat = (body.get("message") or {}).get("chat") or {"id": body["from"]["id"], "type": "private"}
    else:
        chat = body.get("chat") or {}
    if chat.get("type") != "private":  # the bot works in private chats only; groups would expose personal data
        return None
    album = body.get("media_group_id") if kind == "message" else None
    return Received(CHANNEL, str(update["update_id"]), str(chat["id"]), kind, update, album)


class TelegramChannel:
    """Stored updates → `Inbound` events, and `Reply` → Bot API calls (bot/intake.py's ChannelPort; also the
    outbox's Delivery)."""

    name = CHANNEL

    def __init__(self, bot: Bot, media: MediaStore | None = None, username: str = "", timeout: float = 15.0,
                 db: Database | None = None) -> None:
        self.bot = bot
        self.media = media
        self.db = db  # where Telegram's ids of the photos it was sent are kept (None: every photo uploaded)
        self.username = username  # for invite links; asked from Telegram at start-up when not configured
        self.timeout = timeout

    # ---- inbound
    def event_of(self, payloads: Sequence[dict[str, Any]]) -> Inbound | None:
        updates = [Update.model_validate(payload, context={"bot": self.bot}) for payload in payloads]
        first = updates[0]
        if first.message is not None:
            if len(updates) > 1:
                return _album_event(updates)
            return replace(to_inbound(first.message), sequence=first.update_id)
        if first.edited_message is not None and first.edited_message.from_user is not None:
            return _base(first.edited_message, InboundKind.EDITED)
        if first.callback_query is not None:
            return _choice_event(first.callback_query, first.update_id)
        if first.my_chat_member is not None:
            member = first.my_chat_member
            blocked = member.new_chat_member.status in ("kicked", "left")
            return Inbound(channel=CHANNEL, user_id=str(member.from_user.id), chat_id=str(member.chat.id),
                           kind=InboundKind.BLOCKED if blocked else InboundKind.UNBLOCKED)
        return None

    async def acknowledge(self, payloads: Sequence[dict[str, Any]]) -> None:
        query = payloads[0].get("callback_query")
        if query is None:
            return
        try:
            await self.bot.answer_callback_query(query["id"])  # stop the button's spinner
        except TelegramAPIError:  # "query is too old" after downtime: the press still counts
            log.info("could not answer callback query %s", query["id"])

    async def fetch(self, ref: MediaRef) -> bytes:
        file = await self.bot.get_file(ref.file_id)
        if file.file_path is None:
            raise TelegramAPIError(method=None, message="file has no path")  # type: ignore[arg-type]
        buffer = io.BytesIO()
        await self.bot.download_file(file.file_path, destination=buffer, timeout=60)
        return buffer.getvalue()

    # ---- outbound
    async def deliver(self, chat_id: str, reply: Reply, once: str = "") -> None:
        """One reply: the person's command menu, the photos, then the text (split at line breaks) with its
        buttons. Failures of the text are common.delivery's outcomes; a menu or a photo that cannot be
        sent is logged and does not hold the text back."""
        chat = int(chat_id)
        if reply.commands is not None:
            await self._set_commands(chat, reply.commands)
        if reply.photos and self.media is not None:
            await self._send_photos(chat, reply.photos)
        chunks = split_text(with_invite(reply, self.username), TEXT_LIMIT)
        with delivery_outcomes():
            if reply.documents:  # the files first, then the text that sums them up
                await _documents(self.bot, chat, reply.documents)
            for i, chunk in enumerate(chunks):
                await self.bot.send_message(chat, chunk, request_timeout=int(self.timeout),
                                            reply_markup=markup(reply) if i == len(chunks) - 1 else None)

    async def _send_photos(self, chat_id: int, shas: tuple[str, ...], *, reuse: bool = True) -> None:
        """A case's photos as an album; one that is missing or cannot be drawn does not hold back the others.
        A photo Telegram was sent once goes again by its file_id (nothing drawn, nothing uploaded); the others
        are drawn in the media store's worker process (never on the event loop) and uploaded, and their ids
        kept. An id Telegram no longer knows (another bot's token) is forgotten and the photos uploaded."""
        known = await self._known_files(shas) if reuse else {}
        items: list[tuple[str, str | BufferedInputFile]] = []
        for sha in shas:
            if sha in known:
                items.append((sha, known[sha]))
                continue
            try:
                drawn = await self.media.preview(sha)
                items.append((sha, BufferedInputFile(drawn, filename=f"anh-{len(items) + 1}.jpg")))
            except (OSError, ValueError, Image.DecompressionBombError):
                log.exception("could not draw photo %s for chat %s", sha, chat_id)
        if not items:
            return
        try:
            file_ids = await _album(self.bot, chat_id, [source for _, source in items])
        except TelegramBadRequest:
            if not known:
                log.exception("could not send the photos of a case to chat %s", chat_id)
                return
            log.warning("Telegram refused the stored ids of photos for chat %s: uploading them again", chat_id)
            await self._files(repo.forget_sent_files, list(known))
            await self._send_photos(chat_id, shas, reuse=False)
            return
        except TelegramAPIError:
            log.exception("could not send the photos of a case to chat %s", chat_id)
            return
        learned = {sha: file_id for (sha, source), file_id in zip(items, file_ids, strict=False)
                   if not isinstance(source, str) and file_id}
        if learned:
            await self._files(repo.remember_sent_files, learned, datetime.now(UTC))

    async def _known_files(self, shas: tuple[str, ...]) -> dict[str, str]:
        return await self._files(repo.sent_file_ids, list(shas)) or {}

    async def _files(self, action: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """A read or write of the photos' ids; the photos go (uploaded) even if the database cannot say."""
        if self.db is None:
            return None
        try:
            async with self.db.session() as session:
                return await action(session, CHANNEL, *args)
        except Exception:
            log.exception("the ids of sent photos could not be read or kept")
            return None

    async def _set_commands(self, chat_id: int, commands: tuple[tuple[str, str], ...]) -> None:
        scope = BotCommandScopeChat(chat_id=chat_id)
        try:
            if commands:
                await self.bot.set_my_commands([BotCommand(command=c, description=d) for c, d in commands],
                                               scope=scope)
            else:
                await self.bot.delete_my_commands(scope=scope)
        except TelegramAPIError:
            log.exception("could not set the command menu of chat %s", chat_id)


@contextlib.contextmanager
def delivery_outcomes() -> Iterator[None]:
    """Bot API errors as the channel-neutral outcomes of common.delivery."""
    try:
        yield
    except TelegramRetryAfter as error:
        raise RetryLater(error.retry_after) from error
    except TelegramForbiddenError as error:
        raise Unreachable(error.message) from error
    except TelegramBadRequest as error:
        if "chat not found" in error.message.lower():
            raise Unreachable(error.message) from error
        raise Rejected(error.message) from error
    except TelegramServerError as error:
        raise TransientFailure(repr(error), undelivered=True) from error
    except (TelegramNetworkError, TimeoutError) as error:
        raise TransientFailure(repr(error)) from error


class TelegramReceiver:
    """Takes updates from Telegram, by long polling or by webhook, and stores them (bot/intake.py) before
    Telegram hears we have them: polling moves its offset past an update only once it is stored; a
    webhook answers 200 only once it is stored. Start-up problems (no network, a token Telegram refuses)
    are said in one line and tried again with backoff, for as long as the process runs."""

    def __init__(self, bot: Bot, channel: TelegramChannel, intake: Intake, locks: Locks, *, webhook_url: str = "",
                 webhook_secret: str = "", max_connections: int = 40, poll_timeout: int = POLL_TIMEOUT) -> None:
        self.bot = bot
        self.channel = channel
        self.intake = intake
        self.locks = locks
        self.webhook_url = webhook_url
        self.secret = webhook_secret or derived_secret(bot.token)
        self.max_connections = max_connections
        self.poll_timeout = poll_timeout
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Until cancelled: get ready, then poll (or, with a webhook, wait: the HTTP app receives)."""
        await self._retrying("start-up (getMe, webhook)", self._prepare)
        self.ready.set()
        if self.webhook_url:
            await asyncio.Event().wait()
        await self._poll()

    async def _prepare(self) -> None:
        if not self.channel.username:
            self.channel.username = (await self.bot.me()).username or ""
        # Everyone's menu before registration; each person then gets their roles' menu.
        await self.bot.set_my_commands([BotCommand(command=c, description=d) for c, d in public_commands()])
        if self.webhook_url:
            await self.bot.set_webhook(webhook_address(self.webhook_url), secret_token=self.secret,
                                       allowed_updates=ALLOWED_UPDATES, max_connections=self.max_connections)
            log.info("Telegram: webhook at %s", webhook_address(self.webhook_url))
        else:
            await self.bot.delete_webhook()
            log.info("Telegram: receiving by long polling as @%s", self.channel.username)

    async def _poll(self) -> None:
        """Poll while this process holds the receiver role: one process at a time (Telegram allows one
        getUpdates at a time anyway), so its worker may take what it stores without reading it back."""
        while True:
            if not await self.locks.hold(POLLER_ROLE):
                log.info("Telegram: another process receives the updates; this one waits to take over")
                await self._role_freed()
            self._alone(True)
            try:
                await self._poll_while_holding()
            finally:
                self._alone(False)

    async def _role_freed(self) -> None:
        """Another process's death frees the role: nothing here to be told of it, so ask again now and then."""
        for _ in itertools.count():
            await asyncio.sleep(ROLE_WAIT)
            if await self.locks.hold(POLLER_ROLE):
                return

    def _alone(self, alone: bool) -> None:
        if self.intake.worker is not None:
            self.intake.worker.receives_alone(CHANNEL, alone)

    async def _poll_while_holding(self) -> None:
        offset: int | None = None
        while await self.locks.hold(POLLER_ROLE):  # in memory while held; lost with the lock connection
            updates = await self._retrying("getUpdates", lambda offset=offset: self.bot(GetUpdates(
                offset=offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES),
                request_timeout=self.poll_timeout + 15))
            if not updates:
                continue
            received = [item for item in map(classify, updates) if item is not None]
            await self._retrying("storing updates", lambda received=received: self.intake.receive(received))
            offset = updates[-1]["update_id"] + 1  # confirmed to Telegram by the next call, once stored

    async def webhook(self, request: web.Request) -> web.Response:
        """POST /webhook/telegram: check the secret (constant time), store, then 200."""
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return web.Response(status=401, text="unauthorized")
        try:
            update = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        received = classify(update)
        if received is not None:
            try:
                await self.intake.receive([received])
            except Exception as error:  # not stored: Telegram must send it again
                log.warning("Telegram webhook: update %s not stored (%s)", update["update_id"], one_line(error))
                return web.Response(status=503, text="try again")
        return web.Response(status=200)

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        return await retrying(what, attempt, _explained)


def _explained(error: Exception, what: str, backoff: float) -> float | None:
    """Telegram's errors in one line; the least wait they ask for (None: not Telegram's)."""
    if isinstance(error, TelegramUnauthorizedError):
        log.error("Telegram refuses TELEGRAM_BOT_TOKEN (401 Unauthorized) at %s; check the token. "
                  "Trying again in %.0f s", what, backoff)
    elif isinstance(error, TelegramConflictError):
        log.error("Telegram: %s (another process receives this bot's updates?). Trying again in %.0f s",
                  one_line(error), backoff)
    elif isinstance(error, TelegramRetryAfter):
        log.warning("Telegram asks to wait %s s at %s", error.retry_after, what)
        return float(error.retry_after)
    elif isinstance(error, TelegramNetworkError | TelegramServerError | TimeoutError | OSError):
        log.warning("Telegram unreachable at %s (%s). Trying again in %.0f s", what, one_line(error), backoff)
    elif isinstance(error, TelegramAPIError):
        log.error("Telegram error at %s: %s. Trying again in %.0f s", what, one_line(error), backoff)
    else:
        return None
    return 0.0


def webhook_address(base_url: str) -> str:
    return base_url.rstrip("/") + WEBHOOK_PATH


def derived_secret(token: str) -> str:
    """The webhook's secret when none is configured: the same in every process of this bot (so several
    behind one load balancer agree), and not to be guessed without the token. Telegram allows A-Z, a-z,
    0-9, _ and -, up to 256 characters."""
    return hmac.new(token.encode(), b"nguoitot webhook", hashlib.sha256).hexdigest()


def invite_link(username: str, code: str) -> str:
    return f"https://t.me/{username or t('invite.bot_placeholder')}?start={code}"


def with_invite(reply: Reply, username: str) -> str:
    """The reply's text, for an invite code the deep link that redeems it, and its links (Telegram makes the
    addresses openable; exports send documents here, so links are rare)."""
    lines = [reply.text]
    if reply.invite:
        lines.append(t("invite.link", link=invite_link(username, reply.invite)))
    return "\n".join(lines + link_lines(reply))


class TelegramOutbound:
    """What a background job (an export) says to a chat: a progress message it edits, the "sending a file"
    status, and its files (common/outbound.py)."""

    file_limit = FILE_LIMIT
    can_edit = True

    def __init__(self, channel: TelegramChannel) -> None:
        self.channel = channel

    async def post(self, chat_id: str, text: str) -> str:
        sent = await _with_one_retry(partial(self.channel.bot, SendMessageRead(chat_id=int(chat_id), text=text)))
        return str(sent.message_id)

    async def edit(self, chat_id: str, handle: str, text: str) -> None:
        try:
            await _with_one_retry(partial(self.channel.bot.edit_message_text, text, chat_id=int(chat_id),
                                          message_id=int(handle)))
        except TelegramBadRequest as error:
            if "not modified" not in error.message:
                raise

    async def busy(self, chat_id: str) -> None:
        await self.channel.bot.send_chat_action(int(chat_id), "upload_document")

    async def send(self, chat_id: str, reply: Reply) -> None:
        await self.channel.deliver(chat_id, reply)


class SendMessageRead(methods.SendMessage):
    """sendMessage whose answer is read (the message id, to edit it): the lean session parses it in full."""


async def _documents(bot: Bot, chat_id: int, paths: tuple[str, ...]) -> None:
    """Each file as a document, streamed from disk. A failure is logged and raised: the export then says
    that not every file arrived, and keeps them until the retention."""
    for path in paths:
        try:
            await bot.send_chat_action(chat_id, "upload_document")
            await _with_one_retry(partial(bot.send_document, chat_id, FSInputFile(path)))
        except (TelegramAPIError, OSError):
            log.exception("could not send the document %s to chat %s", path, chat_id)
            raise


async def _with_one_retry(send: Callable[[], Awaitable[object]]) -> object:
    """Send; if Telegram asks us to slow down (a busy reminder hour), wait as told and send once more."""
    try:
        return await send()
    except TelegramRetryAfter as error:
        await asyncio.sleep(min(error.retry_after, 30))
        return await send()


class SendPhotoRead(methods.SendPhoto):
    """sendPhoto whose answer is read (the photo's file_id, to send it again by id)."""


class SendMediaGroupRead(methods.SendMediaGroup):
    """sendMediaGroup whose answer is read (each photo's file_id)."""


async def _album(bot: Bot, chat_id: int, photos: list[str | BufferedInputFile]) -> list[str | None]:
    """Send the photos (an upload, or Telegram's file_id of one sent before); returns, in order, Telegram's
    file_id of each (its largest size)."""
    sent: list[Message] = []
    for start in range(0, len(photos), 10):  # an album holds 2 to 10
        group = photos[start:start + 10]
        if len(group) == 1:
            sent.append(await bot(SendPhotoRead(chat_id=chat_id, photo=group[0])))
        else:
            sent += await bot(SendMediaGroupRead(chat_id=chat_id, media=[InputMediaPhoto(media=f) for f in group]))
    return [message.photo[-1].file_id if message.photo else None for message in sent]


def _base(message: Message, kind: InboundKind) -> Inbound:
    user = message.from_user
    return Inbound(channel=CHANNEL, user_id=str(user.id) if user else "", chat_id=str(message.chat.id), kind=kind,
                   display_name=user.full_name if user else "")


def to_inbound(message: Message) -> Inbound:
    text = message.text or ""
    if text.startswith("/"):
        head, _, args = text.partition(" ")
        command = head[1:].split("@", 1)[0].lower()
        return replace(_base(message, InboundKind.COMMAND), command=command, args=args.strip(), text=text)
    refs = _media_refs(message)
    if refs:
        return replace(_base(message, InboundKind.MEDIA), media=refs, text=message.caption or "")
    if message.text is not None:
        return replace(_base(message, InboundKind.TEXT), text=text)
    what = next((f for f in _UNSUPPORTED_FIELDS if getattr(message, f, None) is not None), "other")
    if what == "video_note":
        what = "video"
    if what == "audio":
        what = "voice"
    return replace(_base(message, InboundKind.UNSUPPORTED), unsupported=what)


def _media_refs(message: Message) -> tuple[MediaRef, ...]:
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return (MediaRef(largest.file_id, "photo", largest.file_size, "image/jpeg", ""),)  # unnamed
    if message.document:
        doc = message.document
        return (MediaRef(doc.file_id, "document", doc.file_size, doc.mime_type, doc.file_name),)
    return ()


def markup(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    return _markup(reply.choices, reply.columns, reply.menu)


@lru_cache(maxsize=1024)  # a step's buttons repeat for everyone: built once, never changed after
def _markup(choices: tuple[Choice, ...], columns: int, menu: tuple[str, ...] | None,
            ) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    if choices:
        columns = max(1, columns)
        buttons = [InlineKeyboardButton(text=c.label, callback_data=c.value) for c in choices]
        rows = [buttons[i:i + columns] for i in range(0, len(buttons), columns)]
        return InlineKeyboardMarkup(inline_keyboard=rows)
    if menu is None:
        return None
    if not menu:
        return ReplyKeyboardRemove()
    rows = [[KeyboardButton(text=label) for label in menu[i:i + 2]] for i in range(0, len(menu), 2)]
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True)


def _album_event(updates: list[Update]) -> Inbound:
    messages = [u.message for u in sorted(updates, key=lambda u: u.update_id) if u.message is not None]
    caption = next((m.caption for m in messages if m.caption), "")
    return replace(_base(messages[0], InboundKind.MEDIA), text=caption or "", sequence=updates[0].update_id,
                   media=tuple(ref for m in messages for ref in _media_refs(m)))




def _choice_event(query: CallbackQuery, update_id: int) -> Inbound:
    # A press on an old message arrives with an InaccessibleMessage, which still names its chat.
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    return Inbound(channel=CHANNEL, user_id=str(query.from_user.id), chat_id=str(chat_id),
                   kind=InboundKind.CHOICE, choice=query.data or "", display_name=query.from_user.full_name,
                   sequence=update_id)
