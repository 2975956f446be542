"""What the benchmarks' harness processes share."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from storage.db import Database


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection in the harness (the fake server and the simulated users) while it
    measures. The server keeps every call it answers, so the collector's full passes grow with the
    run and paused this process for hundreds of milliseconds: requests then queued, reached the server
    together, and looked like a burst above the limit (a 429) or like the bot's latency. A phase lasts
    a minute or two; what it leaves is collected after."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def postgres_problem(url: str) -> str:
    """Why PostgreSQL cannot be used, or "" if it can."""
    db = Database(url)
    try:
        async with asyncio.timeout(5):
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as error:  # whatever it is, PostgreSQL is skipped and the reason said
        return f"{type(error).__name__}: {error}".splitlines()[0]
    finally:
        await db.dispose()
    return ""


def cpu_stalled() -> float | None:
    """Seconds in which some runnable task waited for a core, machine-wide (Linux PSI), if known."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]  # "some avg10=… total=<µs>"
        return int(line.rsplit("total=", 1)[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return None
