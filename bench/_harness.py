"""What both benchmarks' harness processes share."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


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
