"""The default clock of a run: the event loop's, read without a per-call library lookup."""

from __future__ import annotations

import time

import anyio
import sniffio

__all__ = ["loop_time"]


def loop_time() -> float:
    """The event loop's clock, read in a fraction of `anyio.current_time()`'s time.

    anyio looks up the running async library on every call (about 1.5 µs), and a run reads
    its clock several times per update. trio says it is running in sniffio's thread-local,
    and its clock (a mock clock included) is read through anyio. Otherwise the loop is
    asyncio's, whose clock is `time.monotonic()`; the engine only measures spans and sleeps
    for them, so an event loop with a clock of its own (uvloop's, in milliseconds) loses
    nothing either.
    """
    if sniffio.thread_local.name is None:
        return time.monotonic()
    return anyio.current_time()
