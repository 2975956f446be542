"""A bot process's clock in the process tests (tests/bot_process.py): it runs at the real pace, but from a given
instant, so what the process does never depends on today's date."""

from __future__ import annotations

from datetime import datetime, timedelta

import common.clock


class ShiftedClock(common.clock.SystemClock):
    offset = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.offset


def install(start: str) -> None:
    """Before the bot is imported: the composition root then builds its clock from this class."""
    at = datetime.fromisoformat(start)
    ShiftedClock.offset = at - datetime.now(at.tzinfo)
    common.clock.SystemClock = ShiftedClock
