"""The circuit breaker: when most answers are failures, stop sending; abort if it lasts.

The brownout gate reacts to a cluster of 503s with the pause the service asked for. A
service can be sick in other ways — every write a 500, every request timing out, a storm of
429s the pacer cannot get under — and retrying each update to exhaustion then burns through
the whole plan, ending in thousands of `failed` rows and a service hit harder than before.

`Circuit` watches the last `window` answers of a run. When `threshold` of them were retryable
failures (throttles, 503s, 500s, timeouts), it *trips*: it tells the gate to pause everyone
(the gate's own machinery: nothing is sent, then one probe), with a pause that doubles from
`first_pause_s` up to `max_pause_s`. While tripped only probes decide: a healthy probe closes
the circuit again; a sick one pauses again; once the service has been sick for `max_sick_s`
(counted from the oldest sick answer in the window that tripped it) the run is aborted with a
complete report instead of retrying into an outage.

Like the gate it is synchronous and clock-driven (`record`), so it is tested exactly.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

__all__ = ["Circuit", "CircuitPolicy", "Verdict"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CircuitPolicy:
    """When a run counts the service as sick, and how long it waits for it to recover.

    >>> CircuitPolicy(max_sick_s=120)  # a longer outage is still waited out
    CircuitPolicy(window=20, threshold=16, first_pause_s=1.0, max_pause_s=10.0, max_sick_s=120)
    """

    window: int = 20
    threshold: int = 16
    first_pause_s: float = 1.0
    max_pause_s: float = 10.0
    max_sick_s: float = 60.0

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError(f"window must be at least 1, got {self.window}")
        if not 1 <= self.threshold <= self.window:
            raise ValueError(
                f"threshold must be between 1 and window ({self.window}), got {self.threshold}"
            )
        if not 0 < self.first_pause_s <= self.max_pause_s:
            raise ValueError(
                "need 0 < first_pause_s <= max_pause_s, got "
                f"first_pause_s={self.first_pause_s}, max_pause_s={self.max_pause_s}"
            )
        if not self.max_sick_s > 0:
            raise ValueError(f"max_sick_s must be positive, got {self.max_sick_s}")


class Verdict(Enum):
    """What one answer means for the run."""

    CARRY_ON = "carry_on"
    PAUSE = "pause"  # pause every worker for `Circuit.pause_s`, then probe
    RECOVERED = "recovered"  # a probe was answered well: the circuit closed again
    ABORT = "abort"  # sick for `max_sick_s`: stop the run


class Circuit:
    """One run's circuit breaker (see the module docstring)."""

    def __init__(self, policy: CircuitPolicy, *, clock: Callable[[], float]) -> None:
        self._policy = policy
        self._clock = clock
        self._recent: deque[tuple[float, bool]] = deque(maxlen=policy.window)
        self._sick_count = 0  # sick answers in `_recent`
        self.sick_since: float | None = None  # set while tripped
        self.pause_s = 0.0  # the pause a PAUSE verdict asks for
        self._next_pause = policy.first_pause_s
        self.pauses = 0  # times it tripped, for the report and logs
        self.sick_s = 0.0  # time spent tripped, over the run so far (closed spells)

    @property
    def policy(self) -> CircuitPolicy:
        return self._policy

    @property
    def tripped(self) -> bool:
        return self.sick_since is not None

    def record(self, *, sick: bool, probe: bool) -> Verdict:
        """Feed back one answer (`sick`: a retryable failure; `probe`: the gate's probe)."""
        now = self._clock()
        if self.sick_since is not None:
            if not probe:
                return Verdict.CARRY_ON  # a straggler sent before the pause: the probe decides
            if not sick:
                self.sick_s += now - self.sick_since
                self.sick_since = None
                self._recent.clear()
                self._sick_count = 0
                self._next_pause = self._policy.first_pause_s
                return Verdict.RECOVERED
            return self._pause_or_abort(now)
        # A running count: this is on every attempt's path, so no sum over the window.
        if len(self._recent) == self._policy.window:
            self._sick_count -= self._recent[0][1]
        self._recent.append((now, sick))
        self._sick_count += sick
        if self._sick_count < self._policy.threshold:
            return Verdict.CARRY_ON
        self.pauses += 1
        self.sick_since = min(t for t, s in self._recent if s)
        self._recent.clear()
        self._sick_count = 0
        return self._pause_or_abort(now)

    def sick_for(self) -> float:
        """Seconds spent sick: the closed spells plus the current one."""
        current = self._clock() - self.sick_since if self.sick_since is not None else 0.0
        return self.sick_s + current

    def _pause_or_abort(self, now: float) -> Verdict:
        assert self.sick_since is not None
        left = self.sick_since + self._policy.max_sick_s - now
        if left <= 0:
            return Verdict.ABORT
        # The last probe goes out when the limit is reached, not a long pause after it.
        self.pause_s = min(self._next_pause, left)
        self._next_pause = min(self._next_pause * 2, self._policy.max_pause_s)
        return Verdict.PAUSE

    def deadline(self) -> float:
        """When a tripped circuit gives up (inf while closed)."""
        if self.sick_since is None:
            return math.inf
        return self.sick_since + self._policy.max_sick_s
