"""Small SQL helpers that several queries share."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import ARRAY, func, literal, literal_column, select
from sqlmodel.ext.asyncio.session import AsyncSession


def among(session: AsyncSession, column: Any, values: Collection[Any]) -> Any:
    """`column IN (values)` with the values as one bound parameter: the statement stays the same whatever
    their number (SQLAlchemy renders an IN list at each execution: ~4 ms for a province's 168 codes)."""
    values = sorted(values)
    if session.bind.dialect.name == "postgresql":
        return column == func.any(literal(values, type_=ARRAY(column.type)))
    return column.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(values))))


def written_in(word: str) -> Any:
    """A fixed word (a status, a role, a kind) written into the statement rather than bound: PostgreSQL's generic
    plan of a prepared statement then still knows it, so it matches a partial index on it and estimates its rows."""
    if "'" in word:
        raise ValueError(f"not a plain word: {word!r}")
    return literal_column(f"'{word}'")
