"""Client-side counters: every HTTP attempt a contender makes, and chime-bulk's pacer rate.

`RequestLog.attach(client)` registers two botocore event handlers on an aiobotocore client:

- `before-send.chime-sdk-meetings.UpdateAttendeeCapabilities` fires once per HTTP attempt,
  botocore's own retries included, *after* botocore's adaptive-mode rate limiter (registered
  earlier, so it runs first) has let the request go: its time is the send time;
- `needs-retry.chime-sdk-meetings.UpdateAttendeeCapabilities` fires once per attempt with its
  response (or exception): its HTTP status is the attempt's outcome. The handler returns None,
  so it never changes a retry decision.

aiohttp's own silent re-send of an idempotent request on a stale keep-alive connection is
below botocore and not seen here; the emulator-side counts include it.

`ObservedPacing(inner)` wraps a `chime_bulk.Pacing` and records the pacer's rate without
changing any decision: every call is passed through unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from chime_bulk import Pacer, Pacing
from chime_bulk._policy.pacing import epoch_of

__all__ = ["ObservedPacing", "PacerTrace", "RequestLog"]

_SERVICE: Final = "chime-sdk-meetings"
_OPERATION: Final = "UpdateAttendeeCapabilities"
#: Status recorded for an attempt that got no HTTP response (connection error, timeout).
NO_RESPONSE: Final = 0


@dataclass(slots=True)
class RequestLog:
    """Send times and (completion time, status, error code) of every attempt."""

    sent: list[float] = field(default_factory=list)
    done: list[tuple[float, int, str]] = field(default_factory=list)

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register(f"before-send.{_SERVICE}.{_OPERATION}", self._on_send)
        events.register(f"needs-retry.{_SERVICE}.{_OPERATION}", self._on_response)

    def _on_send(self, **kwargs: Any) -> None:
        self.sent.append(time.monotonic())

    def _on_response(self, *, response: Any = None, **kwargs: Any) -> None:
        now = time.monotonic()
        if response is None:
            error = kwargs.get("caught_exception")
            self.done.append((now, NO_RESPONSE, type(error).__name__))
            return
        http_response, parsed = response
        code = str(parsed.get("Error", {}).get("Code") or "") if parsed else ""
        self.done.append((now, int(http_response.status_code), code))

    @property
    def attempts(self) -> int:
        return len(self.sent)

    def count(self, status: int) -> int:
        return sum(1 for _, got, _ in self.done if got == status)


@dataclass(slots=True)
class PacerTrace:
    """The pacer's rate over time, and each time it backed off."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    backoffs: list[tuple[float, float, float]] = field(default_factory=list)
    sample_every_s: float = 0.25


class _ObservedPacer:
    def __init__(self, inner: Pacer, trace: PacerTrace, clock: Callable[[], float]) -> None:
        self._inner = inner
        self._trace = trace
        self._clock = clock
        self._next_sample = -1.0

    @property
    def rate(self) -> float:
        return self._inner.rate

    @property
    def epoch(self) -> int | None:
        # Without it the engine could not tell that a throttle voided the slots booked
        # before, and would send them into the 429s (B1 measured that until 2026-12-08).
        return epoch_of(self._inner)

    def pause(self) -> None:
        self._inner.pause()

    def resume(self) -> None:
        self._inner.resume()

    def reserve(self) -> float:
        delay = self._inner.reserve()
        now = self._clock()
        if now >= self._next_sample:
            self._trace.samples.append((now, self._inner.rate))
            self._next_sample = now + self._trace.sample_every_s
        return delay

    def on_response(self, *, throttled: bool) -> None:
        before = self._inner.rate
        self._inner.on_response(throttled=throttled)
        after = self._inner.rate
        if after != before:
            now = self._clock()
            if after < before:
                self._trace.backoffs.append((now, before, after))
            self._trace.samples.append((now, after))


@dataclass(frozen=True, slots=True)
class ObservedPacing:
    """`inner`, with its pacers' rates recorded in `trace`."""

    inner: Pacing
    trace: PacerTrace

    def new_pacer(self, *, clock: Callable[[], float]) -> Pacer:
        return _ObservedPacer(self.inner.new_pacer(clock=clock), self.trace, clock)
