"""A bare aiogram echo bot: the baseline that bench/flow_throughput.py compares our bot with.

It sets up aiogram exactly as bot/channels/telegram.py does (aiohttp session on TELEGRAM_API_URL,
no default parse mode, long polling with the same allowed updates, updates handled as tasks), and
does nothing else: each text message is answered with its own text. So the ratio ours/echo is the
cost of our core, database and media store on top of aiogram and HTTP.

    TELEGRAM_BOT_TOKEN=123456:TEST TELEGRAM_API_URL=http://127.0.0.1:8081 python bench/echo_bot.py
"""

from __future__ import annotations

import asyncio
import logging
import os

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]  # as bot.channels.telegram

router = Router(name="echo")


@router.message(F.text)
async def echo(message: Message) -> None:
    await message.answer(message.text or "")


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=session, default=DefaultBotProperties(parse_mode=None))
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    try:
        await dispatcher.start_polling(bot, handle_signals=True, allowed_updates=ALLOWED_UPDATES)
    finally:
        await bot.session.close()


if __name__ == "__main__":
    # The same logging set-up as `nguoitot run` with LOG_LEVEL=WARNING, so neither pays for log lines.
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    asyncio.run(main())
