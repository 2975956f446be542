"""The lean aiogram session (bot/channels/telegram_session.py), against the spec-checking fake Bot API."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import BufferedInputFile, File, InlineKeyboardButton, InlineKeyboardMarkup

from tests.chat import image_bytes
from tests.fakes.telegram_server import FakeTelegramServer, Fault

CHAT = 4242
TEXT = "Chọn lĩnh vực: “Nông nghiệp” & 100% đúng"


async def test_a_reply_with_buttons_is_one_json_body(server: FakeTelegramServer, telegram_client: Bot) -> None:
    keyboard = InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text="Cá nhân", callback_data="kind:individual")],
        [InlineKeyboardButton(text="Hộ gia đình", callback_data="kind:household")],
    ])
    await telegram_client.send_message(CHAT, TEXT, reply_markup=keyboard)
    [call] = server.calls_named("sendMessage")
    assert call.content_type == "application/json"
    assert call.params["text"] == TEXT
    assert call.params["reply_markup"] == {"inline_keyboard": [
        [{"text": "Cá nhân", "callback_data": "kind:individual"}],
        [{"text": "Hộ gia đình", "callback_data": "kind:household"}],
    ]}
    assert server.sent_messages(CHAT)[-1]["text"] == TEXT


async def test_results_that_are_read_are_still_parsed(server: FakeTelegramServer, telegram_client: Bot) -> None:
    file_id, _ = server.register_file(b"abc")
    file = await telegram_client.get_file(file_id)
    assert isinstance(file, File) and file.file_size == 3


async def test_an_upload_keeps_the_multipart_form(server: FakeTelegramServer, telegram_client: Bot) -> None:
    await telegram_client.send_photo(CHAT, BufferedInputFile(image_bytes(), filename="anh.jpg"), caption=TEXT)
    [call] = server.calls_named("sendPhoto")
    assert call.content_type == "multipart/form-data"
    assert call.params["caption"] == TEXT and len(call.files) == 1


@pytest.mark.parametrize(("fault", "error"), [(Fault.too_many(7), TelegramRetryAfter),
                                              (Fault.forbidden(), TelegramForbiddenError)])
async def test_errors_keep_aiogram_s_exceptions(server: FakeTelegramServer, telegram_client: Bot, fault: Fault,
                                                error: type[Exception]) -> None:
    server.queue_faults("sendMessage", fault)
    with pytest.raises(error) as raised:
        await telegram_client.send_message(CHAT, TEXT)
    if isinstance(raised.value, TelegramRetryAfter):
        assert raised.value.retry_after == 7
