"""A sender process for the outbox tests: drains the outbox through Telegram, then exits.

Configured by the environment like the bot (DATABASE_URL, DATABASE_SCHEMA, TELEGRAM_BOT_TOKEN,
TELEGRAM_API_URL, TELEGRAM_RATE_PER_SECOND, TELEGRAM_RATE_PER_CHAT).
"""

from __future__ import annotations

import asyncio

from bot.app import build_app
from bot.channels.telegram import TelegramChannel, make_bot
from common.settings import Settings
from scheduler.outbox import OutboxSender


async def main() -> None:
    settings = Settings()
    app = await build_app(settings, migrate=False)
    bot = make_bot(settings)
    try:
        sender = OutboxSender(app.db, app.core.clock, {"telegram": TelegramChannel(bot, timeout=2)},
                              rate=settings.telegram_rate_per_second, per_chat=settings.telegram_rate_per_chat,
                              in_flight=settings.outbox_in_flight, batch=50)
        print(f"handled {await sender.run_until_idle()}", flush=True)
    finally:
        await bot.session.close()
        await app.close()


if __name__ == "__main__":
    asyncio.run(main())
