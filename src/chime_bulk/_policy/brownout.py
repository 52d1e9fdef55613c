"""The brownout gate: when 503s cluster, pause every worker, then probe before resuming.

A lone 503 is normal at AWS scale and delays only its own update (through Retry-After in the
retry layer). A cluster — `threshold` of the last `window` responses — means the service is
browning out; sending into it makes it worse. The gate then closes for the Retry-After the
service asked for, lets exactly one request through as a probe, and opens again only when the
probe gets anything but a 503.

The state machine is synchronous and clock-driven (`admit`, `record`) so it is tested with a
fake clock; `wait` is the small async shell the engine uses.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import anyio

__all__ = ["BrownoutGate", "BrownoutPolicy", "GateState", "PauseListener"]


class PauseListener(Protocol):
    """Told when the gate holds dispatch and when it lets it go again (a pacer: a spell in
    which nobody may send is not one it can learn the quota from)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class GateState(Enum):
    OPEN = "open"
    PAUSED = "paused"  # nobody sends until the pause is over
    PROBING = "probing"  # one request is out to see whether the service is back


@dataclass(frozen=True, slots=True, kw_only=True)
class BrownoutPolicy:
    """When 503s count as a brownout and how long to pause for one."""

    threshold: int = 4
    window: int = 8
    default_pause_s: float = 1.0
    max_pause_s: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= self.window:
            raise ValueError(
                f"threshold must be between 1 and window ({self.window}), got {self.threshold}"
            )
        if not 0 < self.default_pause_s <= self.max_pause_s:
            raise ValueError("need 0 < default_pause_s <= max_pause_s")


@dataclass(frozen=True, slots=True)
class Admission:
    """What `admit` decided: go now (maybe as the probe), or wait (until a time, or a change)."""

    go: bool
    probe: bool = False
    wait_until: float | None = None


class BrownoutGate:
    """Shared by all workers of a run."""

    def __init__(self, policy: BrownoutPolicy | None = None, *, clock: Callable[[], float]) -> None:
        self._policy = policy or BrownoutPolicy()
        self._clock = clock
        self._state = GateState.OPEN
        self._paused_until = -math.inf
        self._probe_out = False
        self._recent: deque[bool] = deque(maxlen=self._policy.window)
        self._changed = anyio.Event()
        self.pauses = 0  # how many brownouts this gate has seen, for the report and logs
        self._listeners: list[PauseListener] = []
        self._held = False  # have the listeners been told to pause (and not yet to resume)?

    @property
    def state(self) -> GateState:
        return self._state

    def subscribe(self, listener: PauseListener) -> None:
        """Tell `listener` about every pause from now on (once per listener)."""
        if any(known is listener for known in self._listeners):
            return
        self._listeners.append(listener)
        if self._held:
            listener.pause()

    def release(self) -> None:
        """The run is over: a pause still in progress ends for the listeners."""
        if self._held:
            self._held = False
            for listener in self._listeners:
                listener.resume()
        self._listeners.clear()

    def admit(self) -> Admission:
        """Decide for one attempt that wants to send now."""
        if self._state is GateState.PAUSED:
            if self._clock() < self._paused_until:
                return Admission(go=False, wait_until=self._paused_until)
            self._state = GateState.PROBING
        if self._state is GateState.PROBING:
            if self._probe_out:
                return Admission(go=False)
            self._probe_out = True
            return Admission(go=True, probe=True)
        return Admission(go=True)

    def record(self, *, unavailable: bool, retry_after_s: float | None, probe: bool) -> None:
        """Feed back one response (`unavailable`: it was a 503)."""
        pause = min(retry_after_s or self._policy.default_pause_s, self._policy.max_pause_s)
        if probe:
            self._probe_out = False
            if unavailable:
                self._pause(pause)
            else:
                self._state = GateState.OPEN
                self._recent.clear()
                if self._held:
                    self._held = False
                    for listener in self._listeners:
                        listener.resume()
            self._notify()
            return
        if self._state is not GateState.OPEN:
            return  # a straggler sent before the gate closed: the probe decides
        self._recent.append(unavailable)
        if sum(self._recent) >= self._policy.threshold:
            self.pauses += 1
            self._pause(pause)
            self._notify()

    def abandon_probe(self) -> None:
        """The probe never got an answer (cancelled): let another request probe."""
        self._probe_out = False
        self._notify()

    def _pause(self, seconds: float) -> None:
        self._state = GateState.PAUSED
        self._paused_until = self._clock() + seconds
        self._recent.clear()
        if not self._held:
            self._held = True
            for listener in self._listeners:
                listener.pause()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait(self, *, sleep: Callable[[float], Awaitable[None]]) -> bool:
        """Wait until this attempt may send; True when it is the probe.

        `sleep` is injected for tests. A stopping run cancels its waiting attempts' scopes,
        which ends this wait; `wake_all` lets waiters notice a change at once.
        """
        while True:
            admission = self.admit()
            if admission.go:
                return admission.probe
            if admission.wait_until is not None:
                await sleep(admission.wait_until - self._clock())
            else:
                await self._changed.wait()

    def wake_all(self) -> None:
        """Release every waiter so it can notice the run is stopping."""
        self._notify()
