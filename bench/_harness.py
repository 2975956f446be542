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


# PostgreSQL's catalogs that a bench's schema fills, and leaves dead rows in when it is dropped.
CATALOGS = ("pg_attribute", "pg_class", "pg_depend", "pg_type", "pg_index", "pg_constraint", "pg_attrdef")


async def vacuum_catalogs(url: str) -> str:
    """Vacuum the catalogs each run's dropped schema leaves dead rows in: with autovacuum off, as on these machines,
    a day of runs left 76,069 dead rows in pg_attribute beside 3,054 live ones. Best effort (it takes a
    superuser); returns why it was skipped, or ""."""
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM runs outside a transaction
            await conn.execute(text("VACUUM " + ", ".join(f"pg_catalog.{name}" for name in CATALOGS)))
    except Exception as error:  # not allowed, say: the runs go ahead on the catalogs as they are
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
