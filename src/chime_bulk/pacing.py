"""How fast to send: a pacer hands out one send slot per attempt.

A `Pacing` is a small frozen strategy object (`Adaptive`, `FixedRate`, `Unpaced`); a run asks it
for one `Pacer` per (Region, operation), shared by all of that run's workers, because that is
the scope of the service's quota. Pacers are synchronous and clock-driven: `reserve()` books the
next slot and says how long to wait for it, so their behaviour is tested with a fake clock and
exact numbers, and the engine does the sleeping.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Adaptive", "FixedRate", "Pacer", "Pacing", "TokenBucket", "Unpaced"]

Clock = Callable[[], float]


class Pacer(Protocol):
    """One shared send-rate controller."""

    @property
    def rate(self) -> float:
        """Current rate in requests per second (`inf` when unpaced)."""
        ...

    def reserve(self) -> float:
        """Book the next send slot; return how many seconds to wait before using it."""
        ...

    def on_response(self, *, throttled: bool) -> None:
        """Feedback from one finished attempt: whether the service throttled it."""
        ...


class Pacing(Protocol):
    """A pacing strategy: makes the pacer for one (Region, operation) of a run."""

    def new_pacer(self, *, clock: Clock) -> Pacer: ...


class TokenBucket:
    """A token bucket that books slots ahead: a negative balance is a queue of waiters.

    Booking ahead (rather than polling for a token) keeps waiters in FIFO order and lets the
    rate change under them: a later `set_rate` affects slots booked after it.
    """

    def __init__(self, *, rate: float, burst: float, clock: Clock) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self._rate = rate
        self._burst = max(burst, 1.0)
        self._clock = clock
        self._tokens = self._burst
        self._updated = clock()

    @property
    def rate(self) -> float:
        return self._rate

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    def set_rate(self, rate: float) -> None:
        self._refill()
        self._rate = rate

    def drain(self) -> None:
        """Forget saved-up tokens (the service's own bucket is evidently empty)."""
        self._refill()
        self._tokens = min(self._tokens, 0.0)

    def reserve(self) -> float:
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class _FixedPacer:
    def __init__(self, bucket: TokenBucket) -> None:
        self._bucket = bucket

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def reserve(self) -> float:
        return self._bucket.reserve()

    def on_response(self, *, throttled: bool) -> None:
        """A fixed rate ignores feedback: the user said how fast."""


class _UnpacedPacer:
    rate = math.inf

    def reserve(self) -> float:
        return 0.0

    def on_response(self, *, throttled: bool) -> None:
        """Nothing to adapt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedRate:
    """Send at most `rate` requests per second, allowing bursts of `burst`."""

    rate: float
    burst: float = 1.0

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be positive, got {self.rate}")
        if not self.burst >= 1:
            raise ValueError(f"burst must be at least 1, got {self.burst}")

    def new_pacer(self, *, clock: Clock) -> Pacer:
        return _FixedPacer(TokenBucket(rate=self.rate, burst=self.burst, clock=clock))


@dataclass(frozen=True, slots=True)
class Unpaced:
    """No pacing at all: for tests, raised quotas you know, or a service of your own."""

    def new_pacer(self, *, clock: Clock) -> Pacer:
        return _UnpacedPacer()


@dataclass(frozen=True, slots=True, kw_only=True)
class Adaptive:
    """Find the service's real rate: start at the documented quota, probe up, back off.

    Starts at `initial_rate` with the documented `burst`, grows the rate multiplicatively
    (by `growth` per second) while nothing is throttled and the pacer is what limits the
    run, and on a throttle drops to just under the rate the service actually accepted over
    the last `window_s` — for a token-bucket quota that accepted rate *is* the quota. After
    the first throttle it probes upward slowly (`probe_growth` per second), so a quota raised
    mid-run is still found. `max_rate` caps it.
    """

    initial_rate: float = 10.0
    burst: float = 20.0
    max_rate: float | None = None
    min_rate: float = 0.5
    growth: float = 1.0
    probe_growth: float = 0.02
    backoff_margin: float = 0.96
    window_s: float = 2.0

    def __post_init__(self) -> None:
        for name in ("initial_rate", "min_rate", "window_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_rate is not None and not self.max_rate >= self.min_rate:
            raise ValueError(f"max_rate must be at least min_rate, got {self.max_rate}")
        if not 0 < self.backoff_margin <= 1:
            raise ValueError(f"backoff_margin must be in (0, 1], got {self.backoff_margin}")
        if not self.burst >= 1:
            raise ValueError(f"burst must be at least 1, got {self.burst}")

    def new_pacer(self, *, clock: Clock) -> Pacer:
        return AdaptivePacer(self, clock=clock)


class AdaptivePacer:
    """The pacer behind `Adaptive`; see its docstring for the algorithm."""

    def __init__(self, settings: Adaptive, *, clock: Clock = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        start = self._clamp(settings.initial_rate)
        self._bucket = TokenBucket(rate=start, burst=settings.burst, clock=clock)
        self._slow_start = True
        self._started = clock()
        self._last_adjust = self._started
        self._last_backoff = -math.inf
        self._accepted: deque[float] = deque()  # times of un-throttled responses
        self._sent: deque[float] = deque()  # times of booked slots

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def _clamp(self, rate: float) -> float:
        ceiling = self._settings.max_rate if self._settings.max_rate is not None else math.inf
        return min(max(rate, self._settings.min_rate), ceiling)

    def _trim(self, times: deque[float], now: float) -> None:
        horizon = now - self._settings.window_s
        while times and times[0] < horizon:
            times.popleft()

    def reserve(self) -> float:
        now = self._clock()
        self._sent.append(now)
        self._trim(self._sent, now)
        self._grow(now)
        return self._bucket.reserve()

    def _grow(self, now: float) -> None:
        elapsed = now - self._last_adjust
        if elapsed <= 0:
            return
        self._last_adjust = now
        # Grow only while the pacer is the bottleneck: if the workers cannot even fill the
        # current rate, a higher one would be a number with no evidence behind it.
        demand = len(self._sent) / self._settings.window_s
        if demand < 0.5 * self.rate and now - self._settings.window_s > self._last_backoff:
            return
        growth = self._settings.growth if self._slow_start else self._settings.probe_growth
        self._bucket.set_rate(self._clamp(self.rate * math.exp(growth * elapsed)))

    def on_response(self, *, throttled: bool) -> None:
        now = self._clock()
        if not throttled:
            self._accepted.append(now)
            self._trim(self._accepted, now)
            return
        # One throttle speaks for the whole burst of them that follows within a window:
        # react once, to the evidence, not once per 429.
        if now - self._last_backoff < self._settings.window_s / 2:
            return
        self._trim(self._accepted, now)
        span = max(min(self._settings.window_s, now - self._started), 0.1)
        accepted_rate = len(self._accepted) / span
        target = min(self.rate, accepted_rate) * self._settings.backoff_margin
        self._bucket.set_rate(self._clamp(target))
        self._bucket.drain()
        self._slow_start = False
        self._last_backoff = now
        self._last_adjust = now
