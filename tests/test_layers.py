"""The shape the architecture page promises, checked: only the Telegram adapter knows aiogram, and the
schema is made by `nguoitot db upgrade` from nothing."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

from tests.cli import run_cli_async

ROOT = Path(__file__).resolve().parents[1]
TELEGRAM_ADAPTER = {ROOT / "bot/channels/telegram.py", ROOT / "bot/channels/telegram_session.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_only_the_telegram_adapter_imports_aiogram():
    sources = [p for folder in ("bot", "storage", "scheduler") for p in (ROOT / folder).rglob("*.py")]
    assert len(sources) > 20
    offenders = [str(p.relative_to(ROOT)) for p in sources if p not in TELEGRAM_ADAPTER
                 and any(m == "aiogram" or m.startswith("aiogram.") for m in imported_modules(p))]
    assert offenders == []
    assert all(any(m.startswith("aiogram") for m in imported_modules(p)) for p in TELEGRAM_ADAPTER)


async def test_db_upgrade_makes_the_schema_from_nothing_and_is_idempotent(settings, monkeypatch, capsys,
                                                                        tmp_path, in_empty_folder):
    path = tmp_path / "fresh" / "nguoitot.db"
    fresh = settings.model_copy(update={"database_url": f"sqlite:///{path}", "database_schema": ""})
    for _ in range(2):
        status, _, err = await run_cli_async(["db", "upgrade"], fresh, monkeypatch, capsys)
        assert status == 0, err
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        [(version,)] = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"account", "person", "membership", "conversation", "case", "media", "outbox"} <= tables
    heads = sorted(p.stem.split("_")[0] for p in (ROOT / "storage/migrations/versions").glob("0*.py"))
    assert version.startswith(heads[-1])
