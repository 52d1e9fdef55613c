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

#: Accepted requests an estimate of the quota should rest on, at the least.
_MIN_MEASURED = 10


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
    """Find the service's real rate: start at the documented quota, probe up, settle under it.

    The service meters each operation with a token bucket, and a drained token bucket admits
    exactly its refill rate. So the requests the service accepted between two throttles (the
    bucket empty at both) divided by the time between them *is* the quota, and the pacer
    settles at `margin` times that measurement instead of halving and climbing back the way
    AIMD or CUBIC do.

    - Slow start: begin at `initial_rate` with the documented `burst`, and grow by `growth`
      per second (exponentially) while nothing is throttled and the pacer is what limits the
      run (a rate nobody uses is never raised).
    - First throttle: drop to `margin` times the rate accepted over the last
      `first_window_s`. That window may include the ramp up, so the estimate is rough: grow
      again by `regrowth` per second until the next throttle.
    - Later throttles: drop to `margin` times the rate accepted since the previous throttle
      (when that was at most `interval_max_s` ago) — a measurement, not a guess — and from
      then on probe upward by only `probe_growth` per second, faster the longer nothing is
      throttled, so a quota raised mid-run is still found. The 429s that follow one within
      `react_gap_s` are the same event. `max_rate` caps everything.
    """

    initial_rate: float = 10.0
    burst: float = 20.0
    max_rate: float | None = None
    min_rate: float = 0.5
    growth: float = 3.0
    regrowth: float = 0.3
    probe_growth: float = 0.005
    margin: float = 0.98
    first_window_s: float = 1.0
    interval_max_s: float = 10.0
    react_gap_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("initial_rate", "min_rate", "first_window_s", "interval_max_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_rate is not None and not self.max_rate >= self.min_rate:
            raise ValueError(f"max_rate must be at least min_rate, got {self.max_rate}")
        if not 0 < self.margin <= 1:
            raise ValueError(f"margin must be in (0, 1], got {self.margin}")
        if not self.burst >= 1:
            raise ValueError(f"burst must be at least 1, got {self.burst}")
        for name in ("growth", "regrowth", "probe_growth", "react_gap_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")

    def new_pacer(self, *, clock: Clock) -> Pacer:
        return AdaptivePacer(self, clock=clock)


class AdaptivePacer:
    """The pacer behind `Adaptive`; see its docstring for the algorithm."""

    def __init__(self, settings: Adaptive, *, clock: Clock = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        # A cap on the rate caps the burst too: `max_rate=1` must not send 20 at once.
        burst = settings.burst
        if settings.max_rate is not None:
            burst = min(burst, max(settings.max_rate, 1.0))
        self._bucket = TokenBucket(
            rate=self._clamp(settings.initial_rate), burst=burst, clock=clock
        )
        self._started = clock()
        self._last_adjust = self._started
        self._last_throttle: float | None = None  # when the pacer last reacted to one
        self._measured_once = False  # has a throttle-to-throttle interval measured the quota?
        self._accepted_total = 0
        self._accepted_at_throttle = 0
        self._recent_accepts: deque[float] = deque()  # for the first estimate
        self._recent_slots: deque[float] = deque()  # demand: slots booked in the last second

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def _clamp(self, rate: float) -> float:
        ceiling = self._settings.max_rate if self._settings.max_rate is not None else math.inf
        return min(max(rate, self._settings.min_rate), ceiling)

    @staticmethod
    def _trim(times: deque[float], horizon: float) -> None:
        while times and times[0] < horizon:
            times.popleft()

    def reserve(self) -> float:
        now = self._clock()
        self._recent_slots.append(now)
        self._trim(self._recent_slots, now - 1.0)
        self._grow(now)
        return self._bucket.reserve()

    def _grow(self, now: float) -> None:
        elapsed = now - self._last_adjust
        if elapsed <= 0:
            return
        self._last_adjust = now
        # Grow only while the pacer is the bottleneck: if the workers cannot even fill the
        # current rate, a higher one would be a number with no evidence behind it.
        if len(self._recent_slots) < 0.5 * self.rate:
            return
        if self._last_throttle is None:
            growth = self._settings.growth
        elif not self._measured_once:
            growth = self._settings.regrowth
        else:
            quiet = now - self._last_throttle
            growth = min(
                self._settings.growth,
                self._settings.probe_growth * (1 + quiet / self._settings.interval_max_s),
            )
        self._bucket.set_rate(self._clamp(self.rate * math.exp(growth * elapsed)))

    def on_response(self, *, throttled: bool) -> None:
        now = self._clock()
        if not throttled:
            self._accepted_total += 1
            self._recent_accepts.append(now)
            self._trim(self._recent_accepts, now - self._settings.first_window_s)
            return
        last = self._last_throttle
        # The 429s right after one are the same event. The gap also lets enough requests
        # through that the next measurement is not a count of two or three.
        gap = max(self._settings.react_gap_s, _MIN_MEASURED / self.rate)
        if last is not None and now - last < gap:
            return
        self._bucket.set_rate(self._clamp(self._settings.margin * self._measured(now, last)))
        self._bucket.drain()  # the service's bucket is empty: ours must not burst into it
        self._last_throttle = now
        self._last_adjust = now
        self._accepted_at_throttle = self._accepted_total

    def _measured(self, now: float, last_throttle: float | None) -> float:
        """The rate the service accepted: the quota, when its bucket was empty at both ends."""
        if last_throttle is not None and now - last_throttle <= self._settings.interval_max_s:
            self._measured_once = True
            return (self._accepted_total - self._accepted_at_throttle) / (now - last_throttle)
        # No earlier throttle to measure from: the rate accepted over the last window. Early
        # in a run that includes the opening burst, so it errs high, which the next throttle
        # corrects within one gap; erring low would be corrected only by slow probing.
        self._trim(self._recent_accepts, now - self._settings.first_window_s)
        return max(len(self._recent_accepts) / self._settings.first_window_s, 0.5 * self.rate)
