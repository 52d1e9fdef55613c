"""API rate quotas: one token bucket per operation, as AWS meters the Chime SDK APIs.

`rates` maps an operation name to its `RateLimit`; the key `"*"` is the limit of every
operation not named. The documented default is 10 requests/s with a burst of 20 for each
operation. A request that finds its bucket empty is answered 429 `ThrottlingException` and
changes nothing.

>>> parse_rate_spec("UpdateAttendeeCapabilities=5:5")
('UpdateAttendeeCapabilities', RateLimit(rate=5.0, burst=5.0))
>>> parse_rate_spec("*=50")
('*', RateLimit(rate=50.0, burst=100.0))
"""

from __future__ import annotations

import difflib
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from .operations import OPERATIONS

__all__ = [
    "ALL_OPERATIONS",
    "DEFAULT_RATES",
    "Quota",
    "RateLimit",
    "TokenBucket",
    "parse_rate_spec",
    "parse_rate_specs",
]

#: The `rates` key that stands for every operation.
ALL_OPERATIONS: Final = "*"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A sustained `rate` in requests/s and a `burst` (bucket size); `rate=0` is unlimited."""

    rate: float
    burst: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and self.rate >= 0):
            raise ValueError(f"rate must be a finite number >= 0, got {self.rate!r}")
        if not math.isfinite(self.burst) or (self.rate > 0 and self.burst < 1):
            raise ValueError(f"burst must be a finite number >= 1, got {self.burst!r}")
        # Normalised so that RateLimit(5, 5) and a parsed "5:5" compare and print alike.
        object.__setattr__(self, "rate", float(self.rate))
        object.__setattr__(self, "burst", float(self.burst))

    @property
    def unlimited(self) -> bool:
        return self.rate == 0


#: AWS's documented default quota for each operation.
DEFAULT_RATES: Final[Mapping[str, RateLimit]] = {ALL_OPERATIONS: RateLimit(10, 20)}


class TokenBucket:
    """A bucket of `limit.burst` tokens refilled at `limit.rate` per second of `clock`.

    It starts full. Not thread-safe by itself; `Quota` serialises access.
    """

    __slots__ = ("_clock", "_last", "_limit", "_tokens")

    def __init__(self, limit: RateLimit, *, clock: Callable[[], float]) -> None:
        self._limit = limit
        self._clock = clock
        self._tokens = limit.burst
        self._last = clock()

    @property
    def tokens(self) -> float:
        """Tokens available now (refills as a side effect)."""
        self._refill()
        return self._tokens

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._last
        self._last = now
        if elapsed > 0:
            self._tokens = min(self._limit.burst, self._tokens + elapsed * self._limit.rate)

    def try_acquire(self) -> bool:
        """Take one token if there is one; False (and nothing taken) if the bucket is empty."""
        if self._limit.unlimited:
            return True
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class Quota:
    """The per-operation buckets of one emulated account and Region."""

    def __init__(
        self,
        rates: Mapping[str, RateLimit] | None = None,
        *,
        clock: Callable[[], float],
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self._rates: dict[str, RateLimit] = {}
        self.set_rates(rates)

    def set_rates(self, rates: Mapping[str, RateLimit] | None) -> None:
        """Replace the limits (over the defaults); every bucket starts full again."""
        merged = dict(DEFAULT_RATES)
        for operation, limit in (rates or {}).items():
            merged[_check_operation(operation)] = limit
        with self._lock:
            self._rates = merged
            self._buckets.clear()

    @property
    def rates(self) -> dict[str, RateLimit]:
        with self._lock:
            return dict(self._rates)

    def try_acquire(self, operation: str) -> bool:
        """Whether a request of `operation` may proceed now (taking its token if so)."""
        with self._lock:
            bucket = self._buckets.get(operation)
            if bucket is None:
                limit = self._rates.get(operation) or self._rates[ALL_OPERATIONS]
                bucket = TokenBucket(limit, clock=self._clock)
                self._buckets[operation] = bucket
            return bucket.try_acquire()


def _check_operation(operation: str) -> str:
    if operation == ALL_OPERATIONS or operation in OPERATIONS:
        return operation
    close = difflib.get_close_matches(operation, sorted(OPERATIONS), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"unknown operation {operation!r} in rate spec{hint} "
        f"(expected '*' or one of: {', '.join(sorted(OPERATIONS))})"
    )


def _number(text: str, *, what: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"rate spec {spec!r}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"rate spec {spec!r}: {what} must be a finite number >= 0")
    return value


def parse_rate_spec(spec: str) -> tuple[str, RateLimit]:
    """`"OP=RATE[:BURST]"` as `(op, RateLimit)`; without a burst, the burst is twice the rate.

    `OP` is an operation name or `*` (every operation); `RATE` 0 means unlimited. A burst of
    twice a rate below 0.5/s is raised to 1 so that the bucket can ever admit a request.
    """
    operation, sep, value = spec.partition("=")
    operation = operation.strip()
    if not sep or not operation or not value.strip():
        raise ValueError(f"rate spec {spec!r} must look like OP=RATE or OP=RATE:BURST")
    _check_operation(operation)
    rate_text, colon, burst_text = value.partition(":")
    rate = _number(rate_text.strip(), what="rate", spec=spec)
    if colon:
        burst = _number(burst_text.strip(), what="burst", spec=spec)
    else:
        burst = 0.0 if rate == 0 else max(1.0, 2 * rate)
    try:
        return operation, RateLimit(rate, burst)
    except ValueError as error:
        raise ValueError(f"rate spec {spec!r}: {error}") from None


def parse_rate_specs(specs: Iterable[str]) -> dict[str, RateLimit]:
    """Several `--rate` specs as a `rates` mapping; naming an operation twice is an error."""
    rates: dict[str, RateLimit] = {}
    for spec in specs:
        operation, limit = parse_rate_spec(spec)
        if operation in rates:
            raise ValueError(f"rate spec {spec!r}: {operation!r} is given more than once")
        rates[operation] = limit
    return rates
