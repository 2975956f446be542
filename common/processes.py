"""Helpers for the worker processes the bot spawns (the reminder planner, charts, photo previews)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


def exit_with_parent(parent: int | None = None) -> None:
    """A worker's initializer: when the bot's process dies (SIGKILL, the OOM killer), the worker would
    otherwise live on, orphaned, holding its memory and its database connections; it notices it was given
    to another parent and exits. `parent`: the bot's process id, as the bot gave it when it spawned the
    worker (a bot killed while its worker was still starting is then noticed too). Used by every worker the
    bot spawns: the planner's, the charts', the previews'."""
    parent = os.getppid() if parent is None else parent

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit with the bot", daemon=True).start()


class OneWorker:
    """A pool of one spawned worker (not forked: the bot's process has threads and open connections), started
    on first use, that exits with the bot; `initializer` gets `initargs` and then the bot's pid."""

    def __init__(self, initializer: Callable[..., None] = exit_with_parent, initargs: tuple = ()) -> None:
        self.initializer, self.initargs = initializer, initargs
        self._pool: ProcessPoolExecutor | None = None

    @property
    def started(self) -> bool:
        return self._pool is not None

    async def run(self, function: Callable[..., T], *args: Any, again: bool = False) -> T:
        """`function(*args)` in the worker. If the worker died (killed, out of memory), the next call starts
        another; with `again`, this call is made once more in it."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor(), function, *args)
        except BrokenProcessPool:
            self.close()
            if not again:
                raise
            return await asyncio.get_running_loop().run_in_executor(self._executor(), function, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=self.initializer, initargs=(*self.initargs, os.getpid()))
        return self._pool
