"""What every receiver does when its channel or the database fails at start-up or between polls: say so in one
line and try again, waiting twice as long each time (at most a minute), for as long as the process runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from storage.db import is_unavailable, one_line

log = logging.getLogger(__name__)
T = TypeVar("T")
# Says a channel's error in one line (what was being done, the wait before the next try) and returns the least
# wait it asks for; None: not the channel's error.
Explain = Callable[[Exception, str, float], float | None]


async def retrying(what: str, attempt: Callable[[], Awaitable[T]], explain: Explain) -> T:
    backoff = 1.0
    while True:
        try:
            return await attempt()
        except Exception as error:
            wait = explain(error, what, backoff)
            if wait is not None:
                backoff = max(backoff, wait)
            elif is_unavailable(error):
                log.warning("database unavailable at %s (%s). Trying again in %.0f s", what, one_line(error), backoff)
            else:
                raise
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 60.0)
