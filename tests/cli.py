"""Running the `nguoitot` command line from tests, on the test's database."""

from __future__ import annotations

import asyncio

from bot import cli


def run_cli(args: list[str], settings, monkeypatch, capsys, **env: str) -> tuple[int, str, str]:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATABASE_SCHEMA", settings.database_schema)
    monkeypatch.setenv("MEDIA_DIR", str(settings.media_dir))
    monkeypatch.setenv("EXPORTS_DIR", str(settings.exports_dir))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    monkeypatch.setenv("ZALO_BOT_TOKEN", "")
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "xa_hoankiem_bot")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        code = cli.main(args)
    except SystemExit as exit:  # --version, --help, a usage error: argparse exits
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


async def run_cli_async(*args, **env: str):
    return await asyncio.to_thread(run_cli, *args, **env)
