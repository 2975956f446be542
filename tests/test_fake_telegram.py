"""Tests of the fake Bot API server itself.

Why: every end-to-end test of the bot trusts this fake to judge calls by the spec and to behave like
Telegram towards a real aiogram client; if the fake were lenient or wrong, those tests would pass
for the wrong reasons.  So here it is checked both ways: bad calls are caught, good calls work.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from PIL import Image

from tests.fakes.telegram_server import (
    FakeTelegramServer,
    Fault,
    SpecValidator,
    load_validator,
    require_api_json,
)

USER = 4242


def png_bytes(width: int = 640, height: int = 480) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def validator() -> SpecValidator:
    require_api_json()
    return load_validator()


@pytest.fixture
async def server(validator: SpecValidator) -> AsyncIterator[FakeTelegramServer]:
    fake = FakeTelegramServer(validator=validator)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def bot(server: FakeTelegramServer) -> AsyncIterator[Bot]:
    client = Bot(server.token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.url)))
    yield client
    await client.session.close()


def keyboard(*datas: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=d, callback_data=d) for d in datas]]
    )


# ---- the validator ------------------------------------------------------------------------------


def test_unknown_method_is_flagged(validator: SpecValidator) -> None:
    assert validator.check_call("sendTelepathy", {"chat_id": 1}) == ["unknown method 'sendTelepathy'"]


def test_method_names_are_case_insensitive(validator: SpecValidator) -> None:
    assert validator.check_call("SENDMESSAGE", {"chat_id": "1", "text": "hi"}) == []


def test_missing_required_field_is_flagged(validator: SpecValidator) -> None:
    assert validator.check_call("sendMessage", {"chat_id": "1"}) == [
        "sendMessage: missing required field 'text'"
    ]


def test_unknown_field_is_flagged(validator: SpecValidator) -> None:
    problems = validator.check_call("sendMessage", {"chat_id": 1, "text": "hi", "colour": "red"})
    assert problems == ["sendMessage.colour: unknown field (not in sendMessage)"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("chat_id", 1.5), ("disable_notification", "yes"), ("message_thread_id", "abc"), ("text", 5)],
)
def test_wrong_basic_type_is_flagged(validator: SpecValidator, field: str, value: Any) -> None:
    params = {"chat_id": "1", "text": "hi", field: value}
    assert any(field in p and "expected" in p for p in validator.check_call("sendMessage", params))


def test_form_encoded_scalars_are_accepted(validator: SpecValidator) -> None:
    """aiogram sends every scalar as a form string: "5", "true"."""
    params = {"chat_id": "-100123", "text": "hi", "disable_notification": "true", "message_thread_id": "5"}
    assert validator.check_call("sendMessage", params) == []


def test_text_longer_than_4096_is_flagged(validator: SpecValidator) -> None:
    assert validator.check_call("sendMessage", {"chat_id": 1, "text": "a" * 4096}) == []
    problems = validator.check_call("sendMessage", {"chat_id": 1, "text": "a" * 4097})
    assert problems == ["sendMessage.text: 4097 characters, the spec allows 1-4096 characters"]


def test_html_tags_do_not_count_towards_the_limit(validator: SpecValidator) -> None:
    params = {"chat_id": 1, "text": "<b>" + "a" * 4096 + "</b>", "parse_mode": "HTML"}
    assert validator.check_call("sendMessage", params) == []


def test_broken_html_is_flagged(validator: SpecValidator) -> None:
    """An unescaped user-supplied "<" is what Telegram answers with "can't parse entities"."""
    params = {"chat_id": 1, "text": "Tên: <Lan & Minh>", "parse_mode": "HTML"}
    assert any("can't parse entities" in p for p in validator.check_call("sendMessage", params))


def test_callback_data_over_64_bytes_is_flagged(validator: SpecValidator) -> None:
    markup = {"inline_keyboard": [[{"text": "ok", "callback_data": "đ" * 33}]]}  # 66 bytes, 33 chars
    problems = validator.check_call("sendMessage", {"chat_id": 1, "text": "hi", "reply_markup": markup})
    assert problems == [
        "sendMessage.reply_markup.inline_keyboard[0][0].callback_data: 66 bytes, the spec allows 1-64 bytes"
    ]
    markup["inline_keyboard"][0][0]["callback_data"] = "x" * 65
    assert validator.check_call("sendMessage", {"chat_id": 1, "text": "hi", "reply_markup": markup})


def test_good_message_with_inline_keyboard_passes(validator: SpecValidator) -> None:
    markup = {
        "inline_keyboard": [
            [{"text": "Có", "callback_data": "yes"}, {"text": "Không", "callback_data": "no"}],
            [{"text": "Web", "url": "https://example.org"}],
        ]
    }
    params = {"chat_id": "1", "text": "<b>Chọn</b>", "parse_mode": "HTML", "reply_markup": markup}
    assert validator.check_call("sendMessage", params) == []


def test_button_without_action_is_flagged(validator: SpecValidator) -> None:
    markup = {"inline_keyboard": [[{"text": "dead button"}]]}
    assert validator.check_call("sendMessage", {"chat_id": 1, "text": "hi", "reply_markup": markup})


def test_bot_command_rules_are_checked(validator: SpecValidator) -> None:
    commands = [{"command": "Start", "description": ""}, {"command": "x" * 33, "description": "d"}]
    problems = validator.check_call("setMyCommands", {"commands": commands})
    assert len(problems) == 3


def test_answer_callback_text_limit(validator: SpecValidator) -> None:
    params = {"callback_query_id": "1", "text": "x" * 201}
    assert validator.check_call("answerCallbackQuery", params) == [
        "answerCallbackQuery.text: 201 characters, the spec allows 0-200 characters"
    ]


def test_union_of_scopes_reports_the_matching_subtype(validator: SpecValidator) -> None:
    params = {"commands": [{"command": "start", "description": "d"}], "scope": {"type": "chat"}}
    assert validator.check_call("setMyCommands", params) == [
        "setMyCommands.scope: missing required field 'chat_id'"
    ]


def test_update_with_invented_field_is_flagged(validator: SpecValidator) -> None:
    message = {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "text": "hi"}
    assert validator.check_update({"update_id": 1, "message": message}) == []
    problems = validator.check_update({"update_id": 1, "message": {**message, "mood": "happy"}})
    assert problems == ["Update.message.mood: unknown field (not in Message)"]


async def test_pushing_an_invalid_update_fails_fast(server: FakeTelegramServer) -> None:
    message = {**server.new_user_message(USER), "text": "hi", "from": {"id": USER, "first_name": "A"}}
    with pytest.raises(AssertionError, match="is_bot"):
        server.push_update({"message": message})
    assert server.violations


async def test_push_helpers_build_spec_valid_updates(server: FakeTelegramServer) -> None:
    """The helpers themselves must not invent fields (push_update would raise)."""
    server.send_text(USER, "/start abc")
    server.send_photo(USER, png_bytes(), media_group_id="g1", caption="ảnh")
    server.send_document(
        USER, b"%PDF-1.4", file_name="a.pdf", mime_type="application/pdf", file_size=25 << 20
    )
    server.send_sticker(USER)
    server.send_voice(USER)
    server.send_location(USER)
    server.send_contact(USER)
    server.edit_text(USER, 1, "/start xyz")
    assert server.violations == []


# ---- a real aiogram client ----------------------------------------------------------------------


async def test_wrong_token_is_unauthorized(server: FakeTelegramServer) -> None:
    client = Bot("999:WRONG", session=AiohttpSession(api=TelegramAPIServer.from_base(server.url)))
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await client.get_me()
    finally:
        await client.session.close()


async def test_get_me(bot: Bot, server: FakeTelegramServer) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "nguoitot_test_bot")
    assert server.calls_named("getme")[0].method == "getMe"


async def test_send_message_with_keyboards(bot: Bot, server: FakeTelegramServer) -> None:
    sent = await bot.send_message(USER, "<b>Xin chào</b>", parse_mode="HTML", reply_markup=keyboard("a", "b"))
    assert sent.text == "Xin chào"
    assert sent.reply_markup.model_dump(exclude_none=True) == keyboard("a", "b").model_dump(exclude_none=True)
    reply_kb = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Gửi")]], resize_keyboard=True)
    await bot.send_message(USER, "chọn", reply_markup=reply_kb)
    await bot.send_message(USER, "xong", reply_markup=ReplyKeyboardRemove())
    messages = server.sent_messages(USER)
    assert [m["message_id"] for m in messages] == [1, 2, 3]
    assert messages[0]["params"]["text"] == "<b>Xin chào</b>"
    assert messages[1]["params"]["reply_markup"]["keyboard"] == [[{"text": "Gửi"}]]
    assert "reply_markup" not in messages[1]  # only inline keyboards are echoed
    assert server.violations == []


async def test_set_my_commands(bot: Bot, server: FakeTelegramServer) -> None:
    commands = [BotCommand(command="start", description="Bắt đầu")]
    assert await bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id=USER)) is True
    stored = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=USER))
    assert [(c.command, c.description) for c in stored] == [("start", "Bắt đầu")]
    assert await bot.delete_my_commands() is True
    assert server.violations == []


async def test_callback_query_round_trip(bot: Bot, server: FakeTelegramServer) -> None:
    await bot.send_message(USER, "Chọn", reply_markup=keyboard("yes", "no"))
    update = server.press(USER, server.sent_messages(USER)[0], "yes")
    query_id = update["callback_query"]["id"]
    assert server.unanswered_callbacks() == [query_id]
    assert await bot.answer_callback_query(query_id, text="Đã ghi nhận") is True
    assert server.unanswered_callbacks() == []
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("nope")
    with pytest.raises(AssertionError, match="no button"):
        server.press(USER, server.sent_messages(USER)[0], "maybe")


async def test_edit_message_text_and_markup(bot: Bot, server: FakeTelegramServer) -> None:
    sent = await bot.send_message(USER, "Bước 1", reply_markup=keyboard("next"))
    edited = await bot.edit_message_text("Bước 2", chat_id=USER, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.text == "Bước 2" and edited.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await bot.edit_message_text("Bước 2", chat_id=USER, message_id=sent.message_id)
    await bot.edit_message_reply_markup(chat_id=USER, message_id=sent.message_id, reply_markup=keyboard("x"))
    assert server.current_message(USER, sent.message_id)["reply_markup"] == keyboard("x").model_dump(
        exclude_none=True
    )
    assert server.violations == []


async def test_download_of_a_pushed_photo(bot: Bot, server: FakeTelegramServer) -> None:
    image = png_bytes(1600, 900)
    photo = server.send_photo(USER, image)["message"]["photo"]
    assert (photo[-1]["width"], photo[-1]["height"]) == (1600, 900)
    assert len({p["file_id"] for p in photo}) == len(photo) > 1
    file = await bot.get_file(photo[-1]["file_id"])
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == image
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("no-such-file")


async def test_big_document_cannot_be_downloaded(bot: Bot, server: FakeTelegramServer) -> None:
    """The Bot API refuses getFile above 20 MB; a test can claim such a size without sending it."""
    document = server.send_document(
        USER, b"x", file_name="big.pdf", mime_type="application/pdf", file_size=25 << 20
    )
    with pytest.raises(TelegramBadRequest, match="too big"):
        await bot.get_file(document["message"]["document"]["file_id"])


async def test_uploads_photo_document_and_album(bot: Bot, server: FakeTelegramServer) -> None:
    image = png_bytes(100, 50)
    photo_msg = await bot.send_photo(USER, BufferedInputFile(image, "a.png"), caption="ảnh")
    assert photo_msg.photo[-1].width == 100 and photo_msg.caption == "ảnh"
    doc_msg = await bot.send_document(USER, BufferedInputFile(b"hello", "note.txt"))
    assert doc_msg.document.file_name == "note.txt" and doc_msg.document.mime_type == "text/plain"
    album = await bot.send_media_group(
        USER, [InputMediaPhoto(media=BufferedInputFile(image, f"{i}.png")) for i in range(2)]
    )
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
    assert server.calls_named("sendPhoto")[0].params["photo"].data == image
    resent = await bot.send_photo(USER, photo_msg.photo[-1].file_id)
    assert resent.photo[-1].file_id == photo_msg.photo[-1].file_id
    assert server.violations == []


async def test_bad_call_through_aiogram_is_rejected_and_recorded(
    bot: Bot, server: FakeTelegramServer
) -> None:
    with pytest.raises(TelegramBadRequest, match="4097 characters"):
        await bot.send_message(USER, "a" * 4097)
    assert server.violations == ["sendMessage.text: 4097 characters, the spec allows 1-4096 characters"]
    assert server.calls_named("sendMessage")[0].status == 400
    assert server.sent_messages() == []


async def test_missing_attachment_is_flagged(server: FakeTelegramServer) -> None:
    async with aiohttp.ClientSession() as session:
        data = {"chat_id": "1", "photo": "attach://missing"}
        async with session.post(f"{server.url}/bot{server.token}/sendPhoto", data=data) as response:
            body = await response.json()
    assert response.status == 400 and "refers to no uploaded file" in body["description"]


async def test_get_with_query_string_and_json_body(server: FakeTelegramServer) -> None:
    """Other clients (curl, scripts) use GET or JSON bodies; nested JSON must be checked the same."""
    base = f"{server.url}/bot{server.token}"
    markup = {"inline_keyboard": [[{"text": "ok", "callback_data": "ok"}]]}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/getMe") as response:
            assert (await response.json())["result"]["username"] == server.bot_username
        good = {"chat_id": USER, "text": "hi", "reply_markup": markup}
        async with session.post(f"{base}/sendMessage", json=good) as response:
            assert (await response.json())["result"]["reply_markup"] == markup
        bad = {"chat_id": USER, "text": "hi", "reply_markup": {"inline_keyboard": [[{"text": 1}]]}}
        async with session.post(f"{base}/sendMessage", json=bad) as response:
            assert response.status == 400
    assert len(server.violations) == 2  # the button's text type, and its missing action


# ---- long polling ------------------------------------------------------------------------------


async def test_long_poll_returns_promptly_when_an_update_is_pushed(
    bot: Bot, server: FakeTelegramServer
) -> None:
    poll = asyncio.create_task(bot.get_updates(offset=0, timeout=5))
    await server.wait_for(lambda: bool(server.calls_named("getUpdates")), what="the long poll")
    started = time.monotonic()
    server.send_text(USER, "xin chào")
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1
    assert [u.message.text for u in updates] == ["xin chào"]
    again = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert again == []


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 < time.monotonic() - started < 3


async def test_dispatcher_polling_end_to_end(bot: Bot, server: FakeTelegramServer) -> None:
    """The way the bot's own end-to-end tests will use the fake: a real Dispatcher polling it."""
    dispatcher = Dispatcher()

    @dispatcher.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(f"Chào {message.from_user.first_name}!")

    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=5))
    try:
        server.send_text(USER, "/start", first_name="Lan")
        assert (await server.next_reply(USER))["text"] == "Chào Lan!"
    finally:
        await dispatcher.stop_polling()
        await asyncio.wait_for(polling, 5)
    assert server.violations == []


async def test_wait_for_timeout_explains_itself(server: FakeTelegramServer) -> None:
    with pytest.raises(AssertionError, match="timed out after 0.2 s waiting for 1 message"):
        await server.wait_for_messages(USER, 1, timeout=0.2)


# ---- faults and limits --------------------------------------------------------------------------


async def test_fault_too_many_requests(bot: Bot, server: FakeTelegramServer) -> None:
    server.fault = lambda method, params: Fault.too_many(7) if method == "sendMessage" else None
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "hi")
    assert caught.value.retry_after == 7 and server.rejected_429 == 1
    assert server.sent_messages() == [] and server.violations == []


async def test_queued_faults(bot: Bot, server: FakeTelegramServer) -> None:
    server.queue_faults("sendMessage", Fault.server_error(), Fault.forbidden(), Fault.timeout(0.2))
    with pytest.raises(TelegramServerError):
        await bot.send_message(USER, "1")
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(USER, "2")
    started = time.monotonic()
    await bot.send_message(USER, "3")
    assert time.monotonic() - started >= 0.2
    await bot.send_message(USER, "4")
    assert [m["text"] for m in server.sent_messages(USER)] == ["3", "4"]


async def test_rate_limit_per_chat(bot: Bot, server: FakeTelegramServer) -> None:
    server.rate_limit(per_chat_per_second=1, retry_after=3)
    await bot.send_message(USER, "1")
    await bot.send_message(USER + 1, "other chat is fine")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(USER, "2")
    assert caught.value.retry_after == 3 and server.rejected_429 == 1
    await bot.send_chat_action(USER, "typing")  # not a message, not limited


async def test_rate_limit_global(bot: Bot, server: FakeTelegramServer) -> None:
    server.rate_limit(per_second=2)
    await bot.send_message(1, "a")
    await bot.send_message(2, "b")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(3, "c")
    assert server.rejected_429 == 1 and len(server.sent_messages()) == 2
    server.rate_limit()
    await bot.send_message(3, "c")
