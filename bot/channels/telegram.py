"""The Telegram adapter (aiogram 3): updates → `Inbound`, `Reply` → Bot API calls.

The only module that imports aiogram. Albums arrive as one update per photo; they are gathered
here for a moment and handed to the core as one event, so an album gets one acknowledgement.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from functools import lru_cache, partial

from aiogram import Bot, Dispatcher, F, Router, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
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
from PIL import Image

from bot.channels.telegram_session import LeanSession
from bot.core import Core
from bot.handlers.registry import public_commands
from common.delivery import Rejected, RetryLater, TransientFailure, Unreachable
from common.events import Choice, Inbound, InboundKind, MediaRef, Reply
from common.messages import t
from common.settings import TELEGRAM_API_DEFAULT, Settings

log = logging.getLogger(__name__)

CHANNEL = "telegram"
TEXT_LIMIT = 4096
# aiogram asks pydantic for Response[T] on every call, and pydantic caches that class weakly: once
# collected, it is rebuilt (about 0.4 ms) on the next call, a tenth of the bot's CPU when polling.
# Holding the ones we use keeps pydantic's cache warm.
_RESPONSE_TYPES = tuple(Response[m.__returning__] for m in (
    methods.GetUpdates, methods.SendMessage, methods.SendPhoto, methods.SendMediaGroup, methods.GetFile,
    methods.AnswerCallbackQuery, methods.SetMyCommands, methods.DeleteMyCommands, methods.GetMe,
    methods.DeleteWebhook, methods.SendDocument, methods.EditMessageText, methods.SendChatAction))
FILE_LIMIT = 50 * 1024 * 1024  # the Bot API's limit for files a bot uploads
_UNSUPPORTED_FIELDS = ("sticker", "voice", "video", "video_note", "audio", "location", "contact", "venue",
                       "animation", "poll", "dice")


def make_bot(settings: Settings) -> Bot:
    session = LeanSession()
    if settings.telegram_api_url.rstrip("/") != TELEGRAM_API_DEFAULT:
        session = LeanSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(settings.telegram_bot_token, session=session, default=DefaultBotProperties(parse_mode=None))


class TelegramChannel:
    def __init__(self, bot: Bot, core: Core, album_wait: float, username: str = "") -> None:
        self.bot = bot
        self.core = core
        self.username = username  # for invite links; asked from Telegram at start-up when not configured
        self.album_wait = album_wait
        self._albums: dict[str, list[tuple[int, Message]]] = {}
        self.router = Router(name="nguoitot")
        self.router.message.register(self.on_message)
        self.router.edited_message.register(self.on_edited, F.chat.type == "private")
        self.router.callback_query.register(self.on_callback)
        self.router.my_chat_member.register(self.on_member, F.chat.type == "private")

    def dispatcher(self) -> Dispatcher:
        dispatcher = Dispatcher(disable_fsm=True)  # conversation state is in our database
        dispatcher.include_router(self.router)
        dispatcher.startup.register(self.on_startup)
        return dispatcher

    async def on_startup(self) -> None:
        if not self.username:
            self.username = (await self.bot.me()).username or ""
        # Everyone's menu before registration; each person then gets their roles' menu.
        await self.bot.set_my_commands([BotCommand(command=c, description=d) for c, d in public_commands()])

    # ---- inbound
    async def on_message(self, message: Message, event_update: Update) -> None:
        if message.chat.type != "private" or message.from_user is None:
            return  # the bot works in private chats only; groups would expose personal data
        if message.media_group_id:
            await self._gather_album(message, event_update.update_id)
            return
        await self._deliver(message, replace(to_inbound(message), sequence=event_update.update_id))

    async def on_edited(self, message: Message) -> None:
        if message.from_user is not None:
            await self._deliver(message, _base(message, InboundKind.EDITED))

    async def on_member(self, update: ChatMemberUpdated) -> None:
        """The person blocked the bot (or unblocked it): reminders stop, or may reach them again, at once."""
        reachable = update.new_chat_member.status not in ("kicked", "left")
        await self.core.set_reachable(CHANNEL, str(update.from_user.id), reachable)

    async def on_callback(self, query: CallbackQuery, event_update: Update) -> None:
        try:
            await query.answer()  # stop the button's spinner at once
        except TelegramAPIError:  # "query is too old" after downtime: the press still counts
            log.info("could not answer callback query %s", query.id)
        # A press on an old message arrives with an InaccessibleMessage, which still names its chat.
        chat = query.message.chat if query.message is not None else None
        if chat is not None and chat.type != "private":
            return
        chat_id = chat.id if chat is not None else query.from_user.id
        event = Inbound(channel=CHANNEL, user_id=str(query.from_user.id), chat_id=str(chat_id),
                        kind=InboundKind.CHOICE, choice=query.data or "",
                        display_name=query.from_user.full_name, sequence=event_update.update_id)
        await self._send(chat_id, await self.core.handle(event, self.fetch))

    async def _gather_album(self, message: Message, sequence: int) -> None:
        key = f"{message.chat.id}:{message.media_group_id}"
        if key in self._albums:
            self._albums[key].append((sequence, message))
            return
        self._albums[key] = [(sequence, message)]
        await asyncio.sleep(self.album_wait)  # Telegram sends an album's photos within a moment
        parts = sorted(self._albums.pop(key), key=lambda part: part[0])
        messages = [m for _, m in parts]
        caption = next((m.caption for m in messages if m.caption), "")
        event = replace(_base(messages[0], InboundKind.MEDIA), text=caption or "", sequence=parts[0][0],
                        media=tuple(ref for m in messages for ref in _media_refs(m)))
        await self._deliver(messages[0], event)

    async def _deliver(self, message: Message, event: Inbound) -> None:
        await self._send(message.chat.id, await self.core.handle(event, self.fetch))

    async def _send_photos(self, chat_id: int, shas: tuple[str, ...]) -> None:
        """A case's photos as an album; one that is missing or cannot be drawn does not hold back the others.
        Previews are drawn in a worker thread, so a reviewer opening a case never stalls other users."""
        drawn = []
        for sha in shas:
            try:
                drawn.append(await asyncio.to_thread(preview, await self.core.media.load(sha)))
            except (OSError, ValueError, Image.DecompressionBombError):
                log.exception("could not draw photo %s for chat %s", sha, chat_id)
        if not drawn:
            return
        try:
            await _album(self.bot, chat_id, drawn)
        except TelegramAPIError:
            log.exception("could not send the photos of a case to chat %s", chat_id)

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

    async def fetch(self, ref: MediaRef) -> bytes:
        file = await self.bot.get_file(ref.file_id)
        if file.file_path is None:
            raise TelegramAPIError(method=None, message="file has no path")  # type: ignore[arg-type]
        buffer = io.BytesIO()
        await self.bot.download_file(file.file_path, destination=buffer, timeout=60)
        return buffer.getvalue()

    # ---- outbound
    async def _send(self, chat_id: int, replies: Iterable[Reply]) -> None:
        for reply in replies:
            if reply.commands is not None:
                await self._set_commands(chat_id, reply.commands)
            if reply.photos:
                await self._send_photos(chat_id, reply.photos)
            if reply.documents:  # the files first, then the text that sums them up
                await _documents(self.bot, chat_id, reply.documents)
            chunks = split_text(with_invite(reply, self.username), TEXT_LIMIT)
            for i, chunk in enumerate(chunks):
                last = i == len(chunks) - 1
                try:
                    await _with_one_retry(partial(self.bot.send_message, chat_id, chunk,
                                                  reply_markup=markup(reply) if last else None))
                except TelegramAPIError:
                    log.exception("could not send a reply to chat %s", chat_id)
                    return


def invite_link(username: str, code: str) -> str:
    return f"https://t.me/{username or t('invite.bot_placeholder')}?start={code}"


def with_invite(reply: Reply, username: str) -> str:
    """The reply's text, and for an invite code the deep link that redeems it."""
    if not reply.invite:
        return reply.text
    return reply.text + "\n" + t("invite.link", link=invite_link(username, reply.invite))


class TelegramOutbound:
    """What a background job (an export) says to a chat: a progress message it edits, the "sending a file"
    status, and its files (common/outbound.py)."""

    file_limit = FILE_LIMIT

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
        await self.channel._send(int(chat_id), [reply])


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


class TelegramDelivery:
    """Sends outbox messages; Bot API errors become the channel-neutral outcomes of common.delivery."""

    def __init__(self, bot: Bot, timeout: float = 15.0) -> None:
        self.bot = bot
        self.timeout = timeout

    async def deliver(self, chat_id: str, reply: Reply) -> None:
        chunks = split_text(reply.text, TEXT_LIMIT)
        try:
            for i, chunk in enumerate(chunks):
                await self.bot.send_message(int(chat_id), chunk, request_timeout=int(self.timeout),
                                            reply_markup=markup(reply) if i == len(chunks) - 1 else None)
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


async def _with_one_retry(send: Callable[[], Awaitable[object]]) -> object:
    """Send; if Telegram asks us to slow down (a busy reminder hour), wait as told and send once more."""
    try:
        return await send()
    except TelegramRetryAfter as error:
        await asyncio.sleep(min(error.retry_after, 30))
        return await send()


PREVIEW_SIDE = 2560  # within the Bot API's photo limits (10 MB, width + height ≤ 10000, ratio ≤ 20)


def preview(data: bytes) -> bytes:
    """A JPEG a reviewer's phone can show; originals stay untouched in the media store."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        if len(data) <= 5_000_000 and max(width, height) <= PREVIEW_SIDE and max(width, height) <= 20 * min(
                width, height) and image.format in ("JPEG", "PNG"):  # a chart stays a sharp PNG
            return data
        image = image.convert("RGB")
        image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        if max(image.size) > 20 * min(image.size):  # a panorama: pad to a shape Telegram accepts
            side = max(image.size) // 20 + 1
            canvas = Image.new("RGB", (max(image.width, side), max(image.height, side)), "white")
            canvas.paste(image)
            image = canvas
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        return out.getvalue()


async def _album(bot: Bot, chat_id: int, previews: list[bytes]) -> None:
    files = [BufferedInputFile(data, filename=f"anh-{i + 1}.jpg") for i, data in enumerate(previews)]
    if len(files) == 1:
        await bot.send_photo(chat_id, files[0])
        return
    for start in range(0, len(files), 10):  # an album holds 2 to 10
        group = files[start:start + 10]
        if len(group) == 1:
            await bot.send_photo(chat_id, group[0])
        else:
            await bot.send_media_group(chat_id, [InputMediaPhoto(media=f) for f in group])


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


def split_text(text: str, limit: int) -> list[str]:
    """Split long text at line breaks (then spaces) so nothing is ever cut off."""
    chunks: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n ")
    chunks.append(text)
    return chunks


ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


async def run_polling(channel: TelegramChannel, handle_signals: bool = False) -> None:
    bot = channel.bot
    await channel.dispatcher().start_polling(bot, handle_signals=handle_signals, allowed_updates=ALLOWED_UPDATES)
