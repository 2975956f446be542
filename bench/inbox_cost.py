"""What the durable intake costs per update, in the bot's own CPU: storing it (a polling batch of 100, or a
webhook's one at a time), marking it handled with its replies, and marking its replies sent.

    python bench/inbox_cost.py [--updates 5000] [--databases sqlite,postgresql] [--postgres-url URL]

Runs in this process against the project's own functions (storage/inbox.py, storage/db.py's group
commit), on a fresh SQLite file and a private PostgreSQL schema; prints CPU microseconds per update
(process time, so other load on the machine matters little) and wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlmodel import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import inbox  # noqa: E402
from storage.db import Database, GroupCommit  # noqa: E402
from storage.models import InboxUpdate  # noqa: E402

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REPLY = [{"text": "Năm sinh? (4 chữ số, ví dụ 1968; hoặc bấm \"Không rõ\")", "choices": [["Không rõ", "by:u"]]}]


def update(n: int) -> inbox.Received:
    payload = {"update_id": n, "message": {
        "message_id": n, "date": 1_764_800_000, "text": "1985",
        "chat": {"id": 100_000 + n % 200, "type": "private", "first_name": "Cán bộ"},
        "from": {"id": 100_000 + n % 200, "is_bot": False, "first_name": "Cán bộ"}}}
    return inbox.Received("telegram", str(n), str(100_000 + n % 200), "message", payload)


async def measure(db: Database, count: int) -> dict[str, tuple[float, float]]:
    """Each step over `count` updates: (CPU µs per update, wall seconds)."""
    figures: dict[str, tuple[float, float]] = {}
    # What the intake writes (bot/intake.py): on PostgreSQL a group's rows, with the notice, in one statement alone.
    store, mark_replied_statement = inbox.STORE[db.dialect], inbox.MARK_REPLIED[db.dialect]

    async def timed(name: str, work) -> None:
        cpu, wall = time.process_time(), time.monotonic()
        await work()
        figures[name] = ((time.process_time() - cpu) / count * 1e6, time.monotonic() - wall)

    writes = GroupCommit(db)

    async def polling_batches() -> None:
        for start in range(0, count, 100):
            await writes.write(store, inbox.rows_of([update(n) for n in range(start, start + 100)], inbox.wall_clock()))

    async def webhook_one_by_one() -> None:
        for group in range(0, count, 8):  # eight connections at once, as the fake server opens
            await asyncio.gather(*(writes.write(store, inbox.rows_of([update(count + n)], inbox.wall_clock()))
                                   for n in range(group, group + 8)))

    async def alone() -> None:  # a poll that brought one update, or one webhook call at a time
        for n in range(count):
            await writes.write(store, inbox.rows_of([update(2 * count + n)], inbox.wall_clock()))

    await timed("store, polling (batches of 100)", polling_batches)
    await timed("store, webhook (8 at once)", webhook_one_by_one)
    await timed("store, one at a time", alone)
    async with db.session() as session:
        ids = list((await session.exec(select(InboxUpdate.id).order_by(InboxUpdate.id).limit(count))).all())

    async def mark_handled() -> None:
        for row_id in ids:
            async with db.session() as session:
                await inbox.mark_handled(session, [row_id], REPLY, inbox.wall_clock())

    async def read_open() -> None:  # as a chat's worker does: one open row, its next update
        for n in range(count):
            async with db.reading() as reading:
                await inbox.open_updates(reading, "telegram", str(200_000 + n))

    async def mark_replied() -> None:
        marks = GroupCommit(db, gather=0.02)
        await asyncio.gather(*(marks.write(mark_replied_statement, {"row_id": row_id, "now": inbox.wall_clock()})
                               for row_id in ids))

    await timed("mark handled (alone in a unit of work)", mark_handled)
    await timed("mark replies sent (group commit)", mark_replied)
    await writes.write(store, inbox.rows_of(  # one open update in each of `count` chats
        [inbox.Received("telegram", f"r{n}", str(200_000 + n), "message", update(n).payload) for n in range(count)],
        inbox.wall_clock()))
    await timed("read a chat's open update", read_open)
    return figures


async def run(kind: str, url: str, schema: str, count: int) -> None:
    db = Database(url, schema=schema)
    try:
        await db.upgrade()
        figures = await measure(db, count)
    finally:
        await db.dispose()
    print(f"{kind}: {count} updates")
    for name, (cpu_us, wall) in figures.items():
        print(f"  {name:<40} {cpu_us:7.0f} µs CPU per update   {wall:6.2f} s in all")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="nguoitot-inbox-") as folder:
        if "sqlite" in args.databases:
            await run("sqlite", f"sqlite:///{Path(folder) / 'inbox.db'}", "", args.updates)
    if "postgresql" in args.databases:
        schema = f"bench_inbox_{os.getpid()}"
        admin = Database(args.postgres_url)
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            await run("postgresql", args.postgres_url, schema, args.updates)
        finally:
            async with admin.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    arguments = parser.parse_args()
    arguments.databases = arguments.databases.split(",")
    asyncio.run(main(arguments))
