"""Injected faults: seeded, reproducible misbehaviour of the emulated service.

Which faults hit which requests (`Faults` fields):

- every request: `latency_ms` (an `asyncio.sleep` before anything else) and `unauthorized`
  (401 `UnauthorizedException` right after the signature check);
- the capability writes only (`UpdateAttendeeCapabilities`,
  `BatchUpdateAttendeeCapabilitiesExcept`): `p503` (503 with `Retry-After: retry_after_s`),
  `p500` (500 before the write), `p_churn` (the attendee leaves just before the write: 404 for
  a single update; for a batch one random non-excluded attendee leaves and the rest is
  written), `p_reset_before_write` / `p_reset_after_write` (the TCP connection is reset with
  no response, before / after the write took effect) and `p500_after_write` (the write takes
  effect, then 500);
- `Brownout` windows: from `start_s` seconds after the emulator started, or once it has
  received `after_requests` requests in total, for `duration_s` seconds (emulator clock)
  every write gets 503 with that window's Retry-After;
- `auth_failure` (every request): 401 `UnauthorizedException` or one of the AWS front end's
  403s, `UnrecognizedClientException`, `InvalidSignatureException`, `ExpiredTokenException`;
- `conflict_on_overlap` (writes): a write arriving while another write to the same attendee
  (a batch write: to the same meeting) is still in flight gets 409 `ConflictException`;
- `latency_jitter_ms` adds `uniform(0, jitter)` to `latency_ms`; `reset` chooses how a
  connection is dropped: `"rst"` (TCP reset) or `"fin"` (closed cleanly, no response);
  `x_amz_retry_after` adds `x-amz-retry-after` (milliseconds) beside `Retry-After` on 503s.

`operations` narrows every fault to those operations (default: the write faults hit the two
capability writes, `latency_ms` and `auth_failure` every request).

All draws come from one `random.Random(seed)`, one draw per enabled fault per write in a fixed
order, so the same requests in the same order meet the same faults.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Final, Literal

from .operations import OPERATIONS, WRITE_OPERATIONS

__all__ = ["AUTH_FAILURES", "Brownout", "FaultInjector", "Faults"]

#: The auth failures `Faults.auth_failure` can inject: code -> (status, message).
AUTH_FAILURES: Final = {
    "UnauthorizedException": (401, "The credentials are not authorized."),
    "UnrecognizedClientException": (403, "The security token included in the request is invalid."),
    "InvalidSignatureException": (
        403,
        "The request signature we calculated does not match the signature you provided.",
    ),
    "ExpiredTokenException": (403, "The security token included in the request is expired."),
}


_PROBABILITIES: Final = (
    "p503",
    "p500",
    "p500_after_write",
    "p_reset_before_write",
    "p_reset_after_write",
    "p_churn",
)


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability between 0 and 1, got {value!r}")


def _check_non_negative(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """Fault probabilities (0..1) and settings; the default injects nothing."""

    p503: float = 0.0
    retry_after_s: float = 1.0
    p500: float = 0.0
    p500_after_write: float = 0.0
    p_reset_before_write: float = 0.0
    p_reset_after_write: float = 0.0
    p_churn: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    unauthorized: bool = False
    auth_failure: str | None = None
    conflict_on_overlap: bool = False
    reset: Literal["rst", "fin"] = "rst"
    x_amz_retry_after: bool = False
    operations: frozenset[str] | None = field(default=None)

    def __post_init__(self) -> None:
        for name in _PROBABILITIES:
            _check_probability(name, getattr(self, name))
        _check_non_negative("retry_after_s", self.retry_after_s)
        _check_non_negative("latency_ms", self.latency_ms)
        _check_non_negative("latency_jitter_ms", self.latency_jitter_ms)
        if self.auth_failure is not None and self.auth_failure not in AUTH_FAILURES:
            raise ValueError(
                f"auth_failure must be one of {', '.join(AUTH_FAILURES)}, got {self.auth_failure!r}"
            )
        if self.reset not in ("rst", "fin"):
            raise ValueError(f"reset must be 'rst' or 'fin', got {self.reset!r}")
        if self.operations is not None:
            operations = frozenset(self.operations)
            unknown = sorted(operations - OPERATIONS)
            if unknown:
                raise ValueError(f"operations: unknown operation {unknown[0]!r}")
            object.__setattr__(self, "operations", operations)

    @property
    def auth_code(self) -> str | None:
        """The auth failure injected, if any (`unauthorized=True` is a 401)."""
        return self.auth_failure or ("UnauthorizedException" if self.unauthorized else None)

    def hits(self, operation: str, *, every_request: bool = False) -> bool:
        """Whether faults apply to `operation` (`every_request`: latency and auth)."""
        if self.operations is not None:
            return operation in self.operations
        return every_request or operation in WRITE_OPERATIONS


@dataclass(frozen=True, slots=True)
class Brownout:
    """A window of 503s for every write: opened after `after_requests` requests in total, or
    `start_s` seconds after the emulator started (give one of the two)."""

    after_requests: int | None = None
    duration_s: float = 0.0
    retry_after_s: float = 1.0
    start_s: float | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        if (self.after_requests is None) == (self.start_s is None):
            raise ValueError("a brownout needs exactly one of after_requests and start_s")
        if self.after_requests is not None and self.after_requests < 0:
            raise ValueError(f"after_requests must be >= 0, got {self.after_requests!r}")
        if self.start_s is not None:
            _check_non_negative("start_s", self.start_s)
        _check_non_negative("duration_s", self.duration_s)
        _check_non_negative("retry_after_s", self.retry_after_s)


@dataclass(slots=True)
class _Window:
    brownout: Brownout
    start: float | None = None


class FaultInjector:
    """Decides, request by request, which faults strike.

    Used from the emulator's event loop only; `faults` and `add_brownout` may be called from
    any thread (each replaces an immutable reference, which is atomic).
    """

    def __init__(self, faults: Faults, brownouts: tuple[Brownout, ...], *, seed: int) -> None:
        self.faults = faults
        self._random = random.Random(seed)
        self._windows: tuple[_Window, ...] = ()
        self._received = 0
        self._started_at: float | None = None
        self.set_brownouts(brownouts)

    @property
    def brownouts(self) -> tuple[Brownout, ...]:
        return tuple(window.brownout for window in self._windows)

    def set_brownouts(self, brownouts: tuple[Brownout, ...]) -> None:
        self._windows = ()
        for brownout in brownouts:
            self.add_brownout(brownout)

    def add_brownout(self, brownout: Brownout) -> None:
        window = _Window(brownout)
        if brownout.start_s is not None and self._started_at is not None:
            window.start = self._started_at + brownout.start_s
        self._windows = (*self._windows, window)

    def mark_started(self, now: float) -> None:
        """The emulator starts serving: `start_s` windows count from `now`."""
        self._started_at = now
        for window in self._windows:
            if window.brownout.start_s is not None:
                window.start = now + window.brownout.start_s

    def on_request(self, now: float) -> None:
        """Count a received request; open the brownout windows it is the trigger of."""
        self._received += 1
        for window in self._windows:
            after = window.brownout.after_requests
            if window.start is None and after is not None and self._received > after:
                window.start = now

    def brownout_retry_after(self, now: float) -> float | None:
        """The Retry-After of a brownout window open at `now`, or None when none is."""
        for window in self._windows:
            start = window.start
            if start is not None and start <= now < start + window.brownout.duration_s:
                return window.brownout.retry_after_s
        return None

    def strikes(self, probability: float) -> bool:
        """Whether a fault of `probability` strikes now; draws only when it can."""
        return probability > 0 and self._random.random() < probability

    def choose(self, items: list[str]) -> str:
        return self._random.choice(items)

    def latency_s(self, faults: Faults) -> float:
        """This request's injected latency (the jitter drawn only when there is one)."""
        jitter = (
            self._random.uniform(0, faults.latency_jitter_ms) if faults.latency_jitter_ms else 0
        )
        return (faults.latency_ms + jitter) / 1000
