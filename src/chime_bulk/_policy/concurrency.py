"""How many requests to keep in flight: enough for the pacer's rate at the observed latency.

Little's law: a run that sends `rate` requests per second, each on the wire for `latency`
seconds, has `rate * latency` of them in flight on average. Fewer workers than that and the
workers, not the pacer, limit the run (the quota is left unused, and the adaptive pacer, which
only grows while it is the bottleneck, never finds a raised quota); many more and every
worker beyond that only waits for a slot, holding a connection. So the sizer keeps
`headroom * rate * p90 latency` workers (the p90, not the mean, so that a slow tail does not
starve the pacer), within `minimum … maximum`, and re-sizes at most every `interval_s` as
the rate and the latency change.

Pure and clock-injected: `observe` takes latencies, `limit` answers for a rate; the engine
applies the answer to the capacity limiter its workers park on.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ConcurrencyPolicy", "ConcurrencySizer"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConcurrencyPolicy:
    """The bounds and the rule of the default concurrency (`max_concurrency=None`)."""

    minimum: int = 8
    maximum: int = 256
    initial: int = 16  # before any latency is known
    headroom: float = 2.0
    quantile: float = 0.9
    samples: int = 256  # latencies kept: the most recent ones
    interval_s: float = 0.25

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError(f"minimum must be between 1 and maximum, got {self.minimum}")
        if not self.minimum <= self.initial <= self.maximum:
            raise ValueError(f"initial must be between minimum and maximum, got {self.initial}")
        if not self.headroom >= 1:
            raise ValueError(f"headroom must be at least 1, got {self.headroom}")
        if not 0 < self.quantile <= 1:
            raise ValueError(f"quantile must be in (0, 1], got {self.quantile}")
        if not self.samples >= 1:
            raise ValueError(f"samples must be at least 1, got {self.samples}")
        if not self.interval_s >= 0:
            raise ValueError(f"interval_s must be non-negative, got {self.interval_s}")


class ConcurrencySizer:
    """The worker count for one run (see the module docstring)."""

    def __init__(self, policy: ConcurrencyPolicy, *, clock: Callable[[], float]) -> None:
        self._policy = policy
        self._clock = clock
        self._latencies: deque[float] = deque(maxlen=policy.samples)
        self._current = policy.initial
        self._next_check = -math.inf

    @property
    def current(self) -> int:
        return self._current

    def observe(self, latency_s: float) -> None:
        """One attempt's time on the wire."""
        self._latencies.append(latency_s)

    def latency(self) -> float | None:
        """The `quantile` of the recent latencies (nearest rank); None before any."""
        if not self._latencies:
            return None
        ordered = sorted(self._latencies)
        rank = max(math.ceil(self._policy.quantile * len(ordered)), 1)
        return ordered[rank - 1]

    def target(self, rate: float) -> int:
        """Workers for `rate` requests per second at the latency seen so far."""
        latency = self.latency()
        policy = self._policy
        if latency is None:
            return self._current
        if math.isinf(rate):
            return policy.maximum  # nothing paces the run: as many as allowed
        wanted = math.ceil(policy.headroom * rate * latency)
        return min(max(wanted, policy.minimum), policy.maximum)

    def limit(self, rate: float) -> int:
        """The worker count now: re-sized at most every `interval_s`."""
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self._policy.interval_s
            self._current = self.target(rate)
        return self._current
