"""The shape the architecture page promises, checked: imports point one way (common ← storage ← scheduler ←
bot, and only the composition root knows the channel adapters), only the Telegram adapter knows aiogram,
and the schema is made by `nguoitot db upgrade` from nothing."""

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


OURS = ("common", "storage", "scheduler", "bot")
# What each layer may import of ours; a package may always import itself.
MAY_IMPORT = {
    "common": set(),
    "storage": {"common"},
    "scheduler": {"common", "storage"},
    "bot": {"common", "storage", "scheduler"},
}
# The composition root: the only modules that know the channel adapters (besides the adapters).
COMPOSITION_ROOT = {ROOT / "bot/app.py", ROOT / "bot/cli.py", ROOT / "bot/demo.py"}


def _ours(module: str) -> str:
    top = module.partition(".")[0]
    return top if top in OURS else ""


def layer_offenders(root: Path = ROOT) -> list[str]:
    """Every import that points upwards, or into bot/channels from outside the composition root."""
    found = []
    for layer, allowed in MAY_IMPORT.items():
        for path in (root / layer).rglob("*.py"):
            for module in sorted(imported_modules(path)):
                target = _ours(module)
                if target and target != layer and target not in allowed:
                    found.append(f"{path.relative_to(root)} imports {module}")
                in_adapters = path.is_relative_to(root / "bot/channels")
                if module.startswith("bot.channels") and not in_adapters and path not in COMPOSITION_ROOT:
                    found.append(f"{path.relative_to(root)} imports {module}")
    return found


def test_imports_point_one_way():
    assert layer_offenders() == []


def test_an_upward_import_is_caught(tmp_path):
    for layer in OURS:
        (tmp_path / layer).mkdir()
    (tmp_path / "storage/bad.py").write_text("from bot.core import Core\n")
    (tmp_path / "common/worse.py").write_text("import storage.db\n")
    (tmp_path / "bot/handlers").mkdir()
    (tmp_path / "bot/handlers/x.py").write_text("from bot.channels.telegram import make_bot\n")
    assert layer_offenders(tmp_path) == ["common/worse.py imports storage.db", "storage/bad.py imports bot.core",
                                         "bot/handlers/x.py imports bot.channels.telegram"]


def test_only_the_telegram_adapter_imports_aiogram():
    sources = [p for folder in OURS for p in (ROOT / folder).rglob("*.py")]
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


def test_handlers_build_no_sql():
    """Queries live in storage/ (repo.py, stats.py); a handler calls them."""
    offenders = [f"{p.relative_to(ROOT)}: {m}" for p in (ROOT / "bot/handlers").glob("*.py")
                 for m in imported_modules(p)
                 if m.startswith("sqlalchemy") or (m.startswith("sqlmodel") and m != "sqlmodel.ext.asyncio.session")]
    assert offenders == []
