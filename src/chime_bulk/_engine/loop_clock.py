"""The default clock of a run: the event loop's, as `anyio.current_time()` reads it."""

from __future__ import annotations

import asyncio

import anyio

__all__ = ["loop_time"]


def loop_time() -> float:
    """`anyio.current_time()`, read in a twentieth of the time on asyncio.

    anyio looks up the running async library on every call (about 1.5 µs), and a run reads
    its clock several times per update. On asyncio the answer is the running loop's `time()`,
    which is what anyio returns there; elsewhere (trio, its mock clock included) it is anyio's
    own reading.
    """
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:  # no asyncio loop in this thread: trio
        return anyio.current_time()
