"""Settings from the environment or `.env` (every one is documented in `.env.example`)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

TELEGRAM_API_DEFAULT = "https://api.telegram.org"
ZALO_API_DEFAULT = "https://bot-api.zaloplatforms.com"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str = ""
    telegram_api_url: str = TELEGRAM_API_DEFAULT
    telegram_bot_username: str = ""  # for invite links when the bot cannot be asked (no token)
    # Zalo Bot Platform: the bot's token; the API's base URL (the official one, or a fake or a proxy); the
    # secret Zalo sends with each webhook call (X-Bot-Api-Secret-Token): webhook mode needs it and WEBHOOK_URL.
    zalo_bot_token: str = ""
    zalo_api_url: str = ZALO_API_DEFAULT
    zalo_webhook_secret: str = ""
    # Webhook mode: the public base URL Telegram posts to (…/webhook/telegram); empty: long polling.
    webhook_url: str = ""
    telegram_webhook_secret: str = ""  # X-Telegram-Bot-Api-Secret-Token; empty: derived from the token
    webhook_max_connections: int = 40
    # The HTTP app: webhooks, /healthz, /metrics.
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # The public base URL of the HTTP app, for the short-lived signed links a channel fetches photos from
    # (Zalo's sendPhoto takes only a URL). Empty: WEBHOOK_URL.
    public_base_url: str = ""
    database_url: str = "sqlite:///./data/nguoitot.db"
    database_schema: str = ""  # PostgreSQL schema to use instead of public (tests, shared servers)
    # PostgreSQL connections one process opens at most: the processes' sum must stay below the server's
    # max_connections (100 by default: two processes at 40; storage/db.py shares them among its pools).
    database_connections: int = Field(default=40, ge=10)
    media_dir: Path = Path("./data/media")
    tz: str = Field(default="Asia/Ho_Chi_Minh", validation_alias="TZ")
    log_level: str = "INFO"
    invite_ttl_days: int = 14
    album_wait_seconds: float = 0.6  # how long to gather the photos of one Telegram album
    worker_chats: int = 256  # chats one process serves at once; with several workers, the rest go to others
    shutdown_grace_seconds: float = 20.0  # on SIGTERM, how long handlers and albums in progress may finish
    inbox_retention_days: float = 7.0  # handled updates (with what people wrote) are forgotten after this
    # Sent (and given-up, unreachable, stale) outbox rows are forgotten after this; never less than a month,
    # so no reminder is planned again once its row is gone (the planner looks two weeks ahead, one back).
    outbox_retention_days: float = Field(default=90.0, ge=30.0)
    health_max_backlog_seconds: float = 300.0  # /healthz says 503 when an update has waited longer
    max_photo_bytes: int = 20 * 1024 * 1024  # the Bot API's getFile limit
    # Deadlines and reminders (scheduler/)
    deadline_dates: str = "20/03,20/06,20/09,20/12"  # quarterly, day/month, at DEADLINE_TIME local
    deadline_time: str = "23:59"
    reminder_hour: int = 8  # local hour reminders go out
    reminder_offsets: str = "14,7,3,1,0"  # days before a deadline; 0 = the morning of the day
    quiet_hours: str = "21-7"  # no reminder between these local hours
    yearly_quota: int = 2  # exemplars per commune per year (seeds 000, 003)
    planner_process: bool = True  # plan reminders in a worker process of their own, off the event loop …
    planner_process_from: int = 100  # … once at least this many communes have members (fewer: in-process)
    telegram_rate_per_second: float = 30.0  # overall sending limit
    telegram_rate_per_chat: float = 1.0  # per chat
    zalo_rate_per_second: float = 10.0  # Zalo publishes no limits: conservative
    zalo_rate_per_chat: float = 1.0
    # Outbox messages sent at once. A crash can resend only those in flight (their outcome is unknown):
    # 1 gives exactly-once through crashes, more gives speed when the channel answers slowly.
    outbox_in_flight: int = 8
    # Exports (/xuat, `nguoitot export`)
    templates_dir: str = ""  # a folder with a province's own document templates; "": the built-in ones
    exports_dir: Path = Path("./data/exports")  # files being made or waiting for delivery
    export_retention_hours: float = 24.0  # undelivered files are deleted after this; delivered ones at once
    # On a channel without documents (Zalo, the web chat) the files are offered as signed download links, valid
    # this long (at most EXPORT_RETENTION_HOURS), then deleted.
    export_link_hours: float = 24.0
    export_part_bytes: int = 0  # largest file sent; 0: the channel's own limit (Telegram: 50 MB)
    # The web chat (/chat) and the public page (/cong-khai/<commune>)
    web_session_secret: str = ""  # signs session cookies and CSRF tokens; "": made once, kept in the database
    web_session_days: float = 30.0  # a browser stays signed in this long (then signs in again)
    web_signin_per_minute: int = 10  # sign-in attempts per IP address, and per browser
    web_uploads_per_minute: int = 30  # photo uploads per person, and per IP address
    web_trust_forwarded: bool = False  # behind a reverse proxy: the client's IP is X-Forwarded-For's last hop
    frame_ancestors: str = "self"  # who may frame the public page (CSP frame-ancestors): self, none, origins

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def channel_rates(self) -> dict[str, tuple[float, float]]:
        """Each channel's sending limits: (overall per second, per chat per second)."""
        return {"telegram": (self.telegram_rate_per_second, self.telegram_rate_per_chat),
                "zalo": (self.zalo_rate_per_second, self.zalo_rate_per_chat)}

    @property
    def media_base_url(self) -> str:
        return (self.public_base_url or self.webhook_url).rstrip("/")

    @property
    def export_link_seconds(self) -> int:
        """How long an export's download links work: EXPORT_LINK_HOURS, never past the retention."""
        return max(60, int(min(self.export_link_hours, self.export_retention_hours) * 3600))


def to_async_url(url: str) -> str:
    """Accept the plain URLs people write and pick the async driver we ship."""
    for prefix, driver in (
        ("sqlite:", "sqlite+aiosqlite:"),
        ("postgresql:", "postgresql+asyncpg:"),
        ("postgres:", "postgresql+asyncpg:"),
        ("postgresql+psycopg:", "postgresql+asyncpg:"),
    ):
        if url.startswith(prefix):
            return driver + url[len(prefix):]
    return url
