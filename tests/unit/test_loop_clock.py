"""The run's default clock reads the event loop's time: asyncio's (monotonic) or trio's."""

from __future__ import annotations

import asyncio
import time

import trio
from trio.testing import MockClock

from chime_bulk._engine.loop_clock import loop_time


def test_on_asyncio_it_is_the_running_loops_time() -> None:
    async def read() -> tuple[float, float, float]:
        loop = asyncio.get_running_loop()
        return loop.time(), loop_time(), loop.time()

    before, reading, after = asyncio.run(read())
    assert before <= reading <= after


def test_on_trio_it_is_trios_clock_mock_clocks_included() -> None:
    clock = MockClock(rate=0)  # stands still unless jumped: an exact comparison

    async def read() -> tuple[float, float]:
        clock.jump(123.25)
        return trio.current_time(), loop_time()

    expected, reading = trio.run(read, clock=clock)
    assert reading == expected == clock.current_time()


def test_outside_any_event_loop_it_is_the_monotonic_clock() -> None:
    before = time.monotonic()
    assert before <= loop_time() <= time.monotonic()
