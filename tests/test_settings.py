"""Settings: every one is documented in .env.example, and the plain database URLs people write work."""

from __future__ import annotations

from pathlib import Path

from common.settings import Settings, to_async_url

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_env_example():
    documented = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert [name.upper() for name in Settings.model_fields if f"\n{name.upper()}=" not in documented] == []


def test_plain_database_urls_get_the_async_drivers():
    assert to_async_url("sqlite:///./data/nguoitot.db") == "sqlite+aiosqlite:///./data/nguoitot.db"
    assert to_async_url("postgresql://u:p@h:5432/db") == "postgresql+asyncpg://u:p@h:5432/db"
    assert to_async_url("postgres://h/db") == "postgresql+asyncpg://h/db"


def test_defaults_are_the_embedded_ones(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = Settings()
    assert settings.database_url == "sqlite:///./data/nguoitot.db" and str(settings.zone) == "Asia/Ho_Chi_Minh"
    assert settings.telegram_bot_token == "" and settings.invite_ttl_days == 14
