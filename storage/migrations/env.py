"""Alembic environment: runs the migrations on the project's async engine (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from storage.locks import MIGRATIONS, ROLES

target_metadata = SQLModel.metadata


def _applied(*, step, **_) -> None:
    """Each revision applied, for the one line Database.upgrade logs (Alembic's own lines are one per step)."""
    context.config.attributes.setdefault("applied", []).append(step.up_revision_id)


def _run(connection) -> None:
    database = context.config.attributes["database"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=database.is_sqlite,  # SQLite alters tables by copying them
        compare_type=True,
        on_version_apply=_applied,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    database = context.config.attributes["database"]
    connect_args = {} if database.is_sqlite else {"server_settings": database.server_settings()}
    engine = create_async_engine(database.url, poolclass=pool.NullPool, connect_args=connect_args)
    try:
        async with engine.connect() as connection:
            if database.is_sqlite:
                await connection.exec_driver_sql("PRAGMA busy_timeout=30000")
            else:  # workers starting together: one migrates, the others wait and then find nothing to do
                await connection.execute(text("SELECT pg_advisory_lock(:space, :key)"),
                                         {"space": ROLES, "key": MIGRATIONS})
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


asyncio.run(_run_async())
