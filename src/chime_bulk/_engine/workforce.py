"""How many workers may send at once: a fixed count, or sized by Little's law.

With `max_concurrency=None` every worker parks on a capacity limiter whose size the
`ConcurrencySizer` sets from the pacers' rate and the observed latency (p90, with headroom,
bounded); a number is a fixed worker count and so a hard cap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import anyio

from .._policy.concurrency import ConcurrencyPolicy, ConcurrencySizer
from .._policy.pacing import Adaptive

__all__ = ["Workforce"]


class Workforce:
    """The workers of an updater's runs."""

    def __init__(
        self,
        *,
        fixed: int | None,
        policy: ConcurrencyPolicy,
        rate: Callable[[], float],
        clock: Callable[[], float],
    ) -> None:
        self._fixed = fixed
        self._policy = policy
        self._rate = rate
        self._clock = clock
        self._sizer: ConcurrencySizer | None = None
        self._capacity: anyio.CapacityLimiter | None = None

    @property
    def workers(self) -> int:
        """How many worker tasks a run starts (the upper bound)."""
        return self._fixed or self._policy.maximum

    def observe(self, latency_s: float) -> None:
        """One request's time on the wire."""
        if self._sizer is not None:
            self._sizer.observe(latency_s)

    @contextmanager
    def run(self) -> Iterator[None]:
        """A run's sizing: fresh, so each run starts from the policy's initial size."""
        if self._fixed is None:
            self._sizer = ConcurrencySizer(self._policy, clock=self._clock)
            self._capacity = anyio.CapacityLimiter(self._sizer.current)
        try:
            yield
        finally:
            self._sizer = self._capacity = None

    async def work(self, step: Callable[[], Awaitable[bool]]) -> None:
        """Call `step` until it says there is nothing left; with sized concurrency, each call
        holds one of the limiter's tokens, whose number follows the rate and the latency."""
        capacity = self._capacity
        if capacity is None:
            while await step():
                pass
            return
        while True:
            self._resize(capacity)
            async with capacity:
                if not await step():
                    return

    def _resize(self, capacity: anyio.CapacityLimiter) -> None:
        if self._sizer is None:
            return
        wanted = self._sizer.limit(self._rate() or Adaptive().initial_rate)
        if wanted != capacity.total_tokens:
            capacity.total_tokens = wanted
