"""Injected faults: seeded, reproducible misbehaviour of the emulated service.

Which faults hit which requests (`Faults` fields):

- every request: `latency_ms` (an `asyncio.sleep` before anything else; `latency_jitter_ms`
  spreads it uniformly over `latency_ms ± latency_jitter_ms`, drawn from a random source of
  its own so that it never shifts the other faults' draws) and `unauthorized`
  (401 `UnauthorizedException` right after the signature check);
- the capability writes only (`UpdateAttendeeCapabilities`,
  `BatchUpdateAttendeeCapabilitiesExcept`): `p503` (503 with `Retry-After: retry_after_s`),
  `p500` (500 before the write), `p_churn` (the attendee leaves just before the write: 404 for
  a single update; for a batch one random non-excluded attendee leaves and the rest is
  written), `p_reset_before_write` / `p_reset_after_write` (the TCP connection is reset with
  no response, before / after the write took effect) and `p500_after_write` (the write takes
  effect, then 500);
- `Brownout` windows: once the emulator has received `after_requests` requests in total, for
  `duration_s` seconds (emulator clock) every write gets 503 with that window's Retry-After.

All draws come from one `random.Random(seed)`, one draw per enabled fault per write in a fixed
order, so the same requests in the same order meet the same faults.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final

__all__ = ["Brownout", "FaultInjector", "Faults"]


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

    def __post_init__(self) -> None:
        for name in _PROBABILITIES:
            _check_probability(name, getattr(self, name))
        _check_non_negative("retry_after_s", self.retry_after_s)
        _check_non_negative("latency_ms", self.latency_ms)
        _check_non_negative("latency_jitter_ms", self.latency_jitter_ms)
        if self.latency_jitter_ms > self.latency_ms:
            raise ValueError("latency_jitter_ms must not exceed latency_ms")


@dataclass(frozen=True, slots=True)
class Brownout:
    """A window of 503s for every write, opened after `after_requests` requests in total."""

    after_requests: int
    duration_s: float
    retry_after_s: float = 1.0

    def __post_init__(self) -> None:
        if self.after_requests < 0:
            raise ValueError(f"after_requests must be >= 0, got {self.after_requests!r}")
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
        self._latency_random = random.Random(seed + 1)
        self._windows: tuple[_Window, ...] = tuple(_Window(b) for b in brownouts)
        self._received = 0

    def add_brownout(self, brownout: Brownout) -> None:
        self._windows = (*self._windows, _Window(brownout))

    def latency_s(self) -> float:
        """How long this request waits before it is looked at."""
        faults = self.faults
        jitter = faults.latency_jitter_ms
        spread = self._latency_random.uniform(-jitter, jitter) if jitter else 0.0
        return (faults.latency_ms + spread) / 1000

    def on_request(self, now: float) -> None:
        """Count a received request; open the brownout windows it is the trigger of."""
        self._received += 1
        for window in self._windows:
            if window.start is None and self._received > window.brownout.after_requests:
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
