"""Helpers for the worker processes the bot spawns (the reminder planner, charts, photo previews)."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor


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


def one_worker(initializer: Callable[..., None] = exit_with_parent, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A pool of one spawned worker (not forked: the bot's process has threads and open connections) that
    exits with the bot; `initializer` gets `initargs` and then the bot's pid."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=(*initargs, os.getpid()))
