"""The brownout gate: when 503s cluster, pause every worker, then probe before resuming.

A lone 503 is normal at AWS scale and delays only its own update (through Retry-After in the
retry layer). A cluster — `threshold` of the last `window` responses — means the service is
browning out; sending into it makes it worse. The gate then closes for the Retry-After the
service asked for, lets exactly one request through as a probe, and opens again only when the
probe gets anything but a 503.

The state machine is synchronous and clock-driven (`admit`, `record`) so it is tested with a
fake clock; `admission()` is the small async shell the engine uses: one scope per attempt, in
which the attempt may send and reports what came back, and on leaving which an unanswered
probe is given up, so another attempt can probe.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import anyio

__all__ = ["Admission", "BrownoutGate", "BrownoutPolicy", "GateState", "PauseListener", "Ticket"]


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
        asked = self._policy.default_pause_s if retry_after_s is None else retry_after_s
        pause = min(asked, self._policy.max_pause_s)  # Retry-After "0" means no pause
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

    def hold(self, seconds: float) -> None:
        """Pause everyone for at least `seconds`, then probe (the circuit breaker's pause:
        the same machinery as a brownout's, so there is one gate to wait at)."""
        until = self._clock() + seconds
        if self._state is GateState.PAUSED:
            until = max(until, self._paused_until)
        self._state = GateState.PAUSED
        self._paused_until = until
        self._recent.clear()
        self._tell_paused()
        self._notify()

    def abandon_probe(self) -> None:
        """The probe never got an answer (cancelled): let another request probe."""
        self._probe_out = False
        self._notify()

    def _pause(self, seconds: float) -> None:
        self._state = GateState.PAUSED
        self._paused_until = self._clock() + seconds
        self._recent.clear()
        self._tell_paused()

    def _tell_paused(self) -> None:
        """The listeners hear one pause per spell, however often it is extended."""
        if not self._held:
            self._held = True
            for listener in self._listeners:
                listener.pause()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    @asynccontextmanager
    async def admission(
        self,
        *,
        slot: Callable[[], Awaitable[None]] | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> AsyncIterator[Ticket]:
        """Wait until one attempt may send, then hold its place while it does.

        `slot` waits for the pacer's send slot. If the gate closed in the meantime, the slot
        is wasted rather than sent into a brownout, and the attempt waits at the gate again.
        Inside the scope the attempt reports its answer with `ticket.record(...)`; leaving
        the scope without one (cancelled, or no answer came) gives up the probe.
        """
        while True:
            ticket = Ticket(self, probe=await self._wait(sleep=sleep))
            try:
                if slot is not None:
                    await slot()
                if ticket.probe or self._state is GateState.OPEN:
                    break
            except BaseException:
                ticket.close()
                raise
            ticket.close()
        try:
            yield ticket
        finally:
            ticket.close()

    async def _wait(self, *, sleep: Callable[[float], Awaitable[None]]) -> bool:
        # A stopping run cancels its waiting attempts' scopes, which ends this wait;
        # `wake_all` lets waiters notice a change at once.
        while True:
            admission = self.admit()
            if admission.go:
                return admission.probe
            if admission.wait_until is not None:
                # The clock may have passed `wait_until` since `admit()` read it.
                await sleep(max(0.0, admission.wait_until - self._clock()))
            else:
                await self._changed.wait()

    def wake_all(self) -> None:
        """Release every waiter so it can notice the run is stopping."""
        self._notify()


class Ticket:
    """One attempt's admission: whether it is the probe, and the answer it reports."""

    __slots__ = ("_done", "_gate", "probe")

    def __init__(self, gate: BrownoutGate, *, probe: bool) -> None:
        self._gate = gate
        self.probe = probe
        self._done = False

    def record(self, *, unavailable: bool, retry_after_s: float | None) -> None:
        """The service answered this attempt (`unavailable`: with a 503)."""
        if not self._done:
            self._done = True
            self._gate.record(
                unavailable=unavailable, retry_after_s=retry_after_s, probe=self.probe
            )

    def close(self) -> None:
        """No answer will come: a probe that got none lets another attempt probe."""
        if not self._done:
            self._done = True
            if self.probe:
                self._gate.abandon_probe()
