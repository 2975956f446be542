"""A bare aiogram echo bot: the baseline that bench/flow_throughput.py compares our bot with.

It sets up aiogram exactly as bot/channels/telegram.py does (aiohttp session on TELEGRAM_API_URL,
no default parse mode, the same allowed updates, updates handled as tasks), and does nothing else: each
text message is answered with its own text. So the ratio ours/echo is the cost of our core, database and
media store on top of aiogram and HTTP. It receives as the run it is compared with: by long polling, or,
with WEBHOOK_URL and HTTP_PORT, by webhook (aiogram's own aiohttp handler, answering 200 at once and
handling the update as a task).

    TELEGRAM_BOT_TOKEN=123456:TEST TELEGRAM_API_URL=http://127.0.0.1:8081 python bench/echo_bot.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]  # as bot.channels.telegram
WEBHOOK_PATH, SECRET = "/webhook/telegram", "echo-secret"

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
        if os.environ.get("WEBHOOK_URL"):
            await serve_webhook(bot, dispatcher, os.environ["WEBHOOK_URL"], int(os.environ["HTTP_PORT"]))
        else:
            await dispatcher.start_polling(bot, handle_signals=True, allowed_updates=ALLOWED_UPDATES)
    finally:
        await bot.session.close()


async def serve_webhook(bot: Bot, dispatcher: Dispatcher, base_url: str, port: int) -> None:
    """Until SIGTERM or SIGINT: receive on WEBHOOK_PATH, as `nguoitot run` does with WEBHOOK_URL."""
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, secret_token=SECRET).register(app, path=WEBHOOK_PATH)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await bot.set_webhook(base_url + WEBHOOK_PATH, secret_token=SECRET, allowed_updates=ALLOWED_UPDATES)
    stopped = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    # The same logging set-up as `nguoitot run` with LOG_LEVEL=WARNING, so neither pays for log lines.
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    asyncio.run(main())
