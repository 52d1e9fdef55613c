"""What the requests of one run share: the brownout gate, the traffic count, the stop, and
whether the endpoint has ever answered. Each part has one job and is changed only through
its methods; what belongs to a single request stays in the `Sender`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Final

import anyio

from .._model.summary import Traffic
from .._policy.brownout import BrownoutGate, BrownoutPolicy
from .._policy.circuit import Circuit, CircuitPolicy
from .._policy.classification import ErrorKind, Failure

__all__ = ["InFlight", "Reachability", "RunState", "Stopped", "Stopping", "new_run_state"]

#: Connections that may fail before anything has answered, before the run gives up: a wrong
#: endpoint fails in seconds instead of retrying every update to exhaustion.
UNREACHABLE_LIMIT: Final = 3


class Stopped(Exception):
    """The run is stopping: end this request as cancelled (never retried)."""


@dataclass(slots=True, eq=False)
class InFlight:
    """One request in progress: how to cancel it, and whether it is on the wire."""

    scope: anyio.CancelScope
    sending: bool = False


class Stopping:
    """Whether the run is stopping, and the requests in flight to end when it does."""

    def __init__(self) -> None:
        self.requested = False
        self._in_flight: set[InFlight] = set()

    def check(self) -> None:
        """Raise `Stopped` once the run is stopping."""
        if self.requested:
            raise Stopped

    @contextmanager
    def track(self) -> Iterator[InFlight]:
        """Run one request inside a scope that `stop` can cancel."""
        request = InFlight(scope=anyio.CancelScope())
        self._in_flight.add(request)
        try:
            with request.scope:
                yield request
        finally:
            self._in_flight.discard(request)

    def stop(self, *, grace_s: float) -> None:
        """Send nothing new; requests on the wire get `grace_s`; everything else ends now."""
        self.requested = True
        limit = anyio.current_time() + grace_s
        for request in self._in_flight:
            if request.sending and grace_s > 0:
                request.scope.deadline = min(request.scope.deadline, limit)
            else:
                request.scope.cancel()


class Reachability:
    """An endpoint that has never answered: after `UNREACHABLE_LIMIT` failed connections the
    run gives up on it (fatal); once anything answered, a failed connection is a passing
    outage and is retried like any transient failure."""

    def __init__(self) -> None:
        self.answered = False
        self._failed_connections = 0

    def record_answer(self) -> None:
        """The service answered (anything at all): the endpoint is reachable."""
        self.answered = True

    def judge(self, failure: Failure) -> Failure:
        """The run-level view of one failure."""
        if not failure.unreachable:
            self.answered = self.answered or failure.status is not None
            return failure
        if self.answered:
            return failure
        self._failed_connections += 1
        if self._failed_connections < UNREACHABLE_LIMIT:
            return failure
        return Failure(
            kind=ErrorKind.FATAL,
            code="EndpointUnreachable",
            message=f"no connection could be made to the endpoint ({failure.message})",
        )


@dataclass(slots=True, eq=False)
class RunState:
    """Shared by every request of one run (writes and reads alike)."""

    gate: BrownoutGate
    circuit: Circuit
    traffic: Traffic = field(default_factory=Traffic)
    stopping: Stopping = field(default_factory=Stopping)
    reachability: Reachability = field(default_factory=Reachability)
    fatal: Failure | None = None  # the first fatal failure: the run is aborted

    def stop(self, *, grace_s: float) -> None:
        """Stop the run; waiters at the gate wake up to notice."""
        self.stopping.stop(grace_s=grace_s)
        self.gate.wake_all()

    def abort(self, failure: Failure) -> bool:
        """A fatal failure ends the run at once; True for the first one."""
        first = self.fatal is None
        if first:
            self.fatal = failure
        self.stop(grace_s=0)
        return first


def new_run_state(
    *, brownout: BrownoutPolicy | None, circuit: CircuitPolicy, clock: Callable[[], float]
) -> RunState:
    """A fresh state for one run (or for a read outside any run)."""
    return RunState(gate=BrownoutGate(brownout, clock=clock), circuit=Circuit(circuit, clock=clock))
