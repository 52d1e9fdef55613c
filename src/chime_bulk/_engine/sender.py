"""One logical request, all the way: gate, pacer, attempts, classification, retries.

The engine decides *what* to send; a `Sender` sends one request until it succeeds, fails for
good, or the run stops, and says how that went as an `Outcome`. Every attempt waits at the
run's brownout gate and for a slot from the pacer of its (Region, operation), makes one
aiobotocore call, and feeds what came back to both. tenacity decides whether and when to try
again; a fresh controller per request, because tenacity's are not safe to share.
"""

from __future__ import annotations

import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import structlog
from tenacity import RetryCallState

from .._aws.clients import ClientFactory
from .._model.report import AttendeeResult, Status, Traffic
from .._policy.brownout import BrownoutGate, GateState
from .._policy.classification import ErrorKind, Failure, classify
from .._policy.pacing import Pacer, on_failure, take_slot
from .._policy.retry import AttemptFailed, RetryPolicy, new_retrying
from ..progress import ProgressListener

__all__ = ["Outcome", "Request", "RunState", "Sender"]

_log = structlog.get_logger("chime_bulk")

#: Connections that may fail before anything has answered, before the run gives up: a wrong
#: endpoint fails in seconds instead of retrying every update to exhaustion.
_UNREACHABLE_LIMIT: Final = 3


class _Stopped(Exception):
    """The run is stopping: end this request as cancelled (never retried)."""


@dataclass(slots=True, eq=False)
class _Slot:
    """One request in progress: how to cancel it, and whether it is on the wire."""

    scope: anyio.CancelScope
    sending: bool = False


@dataclass(slots=True, eq=False)
class RunState:
    """What one run's requests share: the brownout gate, the traffic count, the stop."""

    gate: BrownoutGate
    traffic: Traffic = field(default_factory=Traffic)
    slots: set[_Slot] = field(default_factory=set)
    stopping: bool = False
    aborted: bool = False
    answered: bool = False  # has the service ever answered this run?
    unreachable: int = 0  # connections that could not be made while nothing had answered
    fatal: AttendeeResult | None = None  # the first result that met a fatal error
    fed: int = 0  # result indexes handed out so far: the run's total once the plan is drained

    def raise_if_stopping(self) -> None:
        if self.stopping:
            raise _Stopped

    def stop(self, *, grace_s: float) -> None:
        """Send nothing new; requests on the wire get `grace_s`; everything else ends now."""
        self.stopping = True
        limit = anyio.current_time() + grace_s
        for slot in self.slots:
            if slot.sending and grace_s > 0:
                slot.scope.deadline = min(slot.scope.deadline, limit)
            else:
                slot.scope.cancel()
        self.gate.wake_all()


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """What to send: `call(client)` makes the one aiobotocore call of an attempt."""

    operation: str
    region: str | None
    call: Callable[[Any], Awaitable[dict[str, Any]]]
    meeting_id: str
    attendee_id: str | None = None  # None for a whole-meeting request

    @property
    def ids(self) -> dict[str, str | None]:
        """What every event about this request names."""
        return {
            "operation": self.operation,
            "meeting_id": self.meeting_id,
            "attendee_id": self.attendee_id,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How a request ended: `succeeded`, `not_found`, `failed` or `cancelled`."""

    status: Status
    attempts: int
    throttled: int
    elapsed_s: float
    request_id: str | None = None
    failure: Failure | None = None

    @property
    def fatal(self) -> bool:
        return self.failure is not None and self.failure.kind is ErrorKind.FATAL


@dataclass(slots=True)
class _Tally:
    attempts: int = 0
    throttled: int = 0
    request_id: str | None = None
    failure: Failure | None = None


class Sender:
    """Sends requests for the runs of one `BulkUpdater`."""

    def __init__(
        self,
        *,
        clients: ClientFactory,
        pacer_for: Callable[[str | None, str], Pacer],
        retry: RetryPolicy,
        progress: ProgressListener,
        random: _random.Random,
        clock: Callable[[], float],
        observe_latency: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        self._clients = clients
        self._pacer_for = pacer_for
        self._retry = retry
        self._progress = progress
        self._random = random
        self._clock = clock
        self._observe_latency = observe_latency  # time on the wire, for the concurrency
        # Resolved once: structlog's module-level proxy rebuilds its logger on every call,
        # which is a real cost at one debug event per attempt. (The application configures
        # logging before it starts a run.)
        self._log = _log.bind()

    async def perform(self, run: RunState, request: Request) -> Outcome:
        """Send `request` until it succeeds, fails for good, or the run stops."""
        started = self._clock()
        tally = _Tally()
        slot = _Slot(scope=anyio.CancelScope())
        run.slots.add(slot)
        status = Status.CANCELLED  # unless the attempts below end otherwise
        try:
            with slot.scope:
                status = await self._attempts(run, request, tally, slot)
        finally:
            run.slots.discard(slot)
        outcome = Outcome(
            status=status,
            attempts=tally.attempts,
            throttled=tally.throttled,
            elapsed_s=round(self._clock() - started, 4),
            request_id=tally.request_id,
            failure=tally.failure if status is not Status.SUCCEEDED else None,
        )
        if outcome.failure is not None and outcome.fatal:
            if not run.aborted:
                run.aborted = True
                _log.error("fatal error; aborting the run", error_code=outcome.failure.code)
            run.stop(grace_s=0)
        return outcome

    async def _attempts(
        self, run: RunState, request: Request, tally: _Tally, slot: _Slot
    ) -> Status:
        try:
            try:
                # Most requests succeed the first time: that attempt skips building a retry
                # controller, a measurable part of the engine's own cost per update.
                await self._attempt(run, request, tally, slot)
            except AttemptFailed as first:
                if not first.failure.kind.retryable:
                    raise
                await self._retry_after_first(run, request, tally, slot, first)
        except _Stopped:
            return Status.CANCELLED
        except AttemptFailed as failed:
            return self._final(request, tally, failed.failure)
        return Status.SUCCEEDED

    async def _retry_after_first(
        self, run: RunState, request: Request, tally: _Tally, slot: _Slot, first: AttemptFailed
    ) -> None:
        """tenacity from here on: it is handed the first attempt's failure as its own first
        attempt, so its waits, attempt counts and stop conditions are exactly as if it had
        made that attempt itself."""

        async def backoff(delay: float) -> None:
            run.raise_if_stopping()
            await anyio.sleep(delay)

        async def before_sleep(state: RetryCallState) -> None:
            failure = tally.failure
            assert failure is not None  # set by every failed attempt
            delay = state.upcoming_sleep
            self._log.info(
                "retrying",
                **request.ids,
                attempt=state.attempt_number,
                error_code=failure.code,
                delay_s=round(delay, 3),
            )
            self._progress.on_retry(
                meeting_id=request.meeting_id,
                attendee_id=request.attendee_id,
                failure=failure,
                attempt=state.attempt_number,
                delay_s=delay,
            )

        replay: AttemptFailed | None = first
        retrying = new_retrying(
            self._retry, sleep=backoff, random=self._random.random, before_sleep=before_sleep
        )
        async for attempt in retrying:
            with attempt:
                if replay is not None:
                    failed, replay = replay, None
                    raise failed
                await self._attempt(run, request, tally, slot)

    @staticmethod
    def _final(request: Request, tally: _Tally, failure: Failure) -> Status:
        if failure.kind is ErrorKind.NOT_FOUND:
            return Status.NOT_FOUND
        if failure.kind is not ErrorKind.FATAL:
            _log.warning(
                "update failed",
                **request.ids,
                error_code=failure.code,
                error_message=failure.message,
                attempts=tally.attempts,
            )
        return Status.FAILED

    async def _attempt(self, run: RunState, request: Request, tally: _Tally, slot: _Slot) -> None:
        """One request on the wire; raises `AttemptFailed` with the classified failure."""
        run.raise_if_stopping()
        pacer = self._pacer_for(request.region, request.operation)
        probe = await self._admit(run, pacer)
        try:
            # Stopped while this attempt waited? Its scope's cancellation may not have been
            # delivered yet (the wait ended on its own), and must not hit a request on the
            # wire: give up here, before anything is sent.
            run.raise_if_stopping()
        except _Stopped:
            if probe:
                run.gate.abandon_probe()
            raise
        tally.attempts += 1
        run.traffic.requests += 1
        run.traffic.retried += tally.attempts > 1
        slot.sending = True
        sent = self._clock()
        try:
            # Inside the try: a client that cannot be made (no Region) is a classified,
            # fatal failure of this attempt, not a crash of the run.
            client = await self._clients.get(request.region)
            response = await request.call(client)
        except Exception as error:
            failure = self._judge(run, classify(error))
            if failure.status is not None:
                self._observe_latency(self._clock() - sent)
            if failure.kind is ErrorKind.FATAL and failure.status is None:
                # Refused before anything reached the network (no credentials, no Region,
                # no connection): not a request.
                tally.attempts -= 1
                run.traffic.requests -= 1
            tally.failure = failure
            tally.request_id = failure.request_id or tally.request_id
            throttled = failure.kind is ErrorKind.THROTTLE
            tally.throttled += throttled
            run.traffic.throttled += throttled
            on_failure(pacer, failure)  # no answer (refused, reset): neither accept nor throttle
            run.gate.record(
                unavailable=failure.kind is ErrorKind.UNAVAILABLE,
                retry_after_s=failure.retry_after_s,
                probe=probe,
            )
            self._log.debug(
                "attempt failed",
                **request.ids,
                attempt=tally.attempts,
                error_code=failure.code,
            )
            raise AttemptFailed(failure) from None
        except BaseException:
            if probe:
                run.gate.abandon_probe()
            raise
        finally:
            slot.sending = False
        self._observe_latency(self._clock() - sent)
        run.answered = True
        tally.request_id = response.get("ResponseMetadata", {}).get("RequestId")
        pacer.on_response(throttled=False)
        run.gate.record(unavailable=False, retry_after_s=None, probe=probe)
        self._log.debug(
            "attempt succeeded",
            **request.ids,
            attempt=tally.attempts,
        )

    @staticmethod
    def _judge(run: RunState, failure: Failure) -> Failure:
        """A run-level view of one failure: an endpoint that never answered is fatal."""
        if not failure.unreachable:
            run.answered = run.answered or failure.status is not None
            return failure
        if run.answered:
            return failure  # it worked before: a passing outage, keep retrying
        run.unreachable += 1
        if run.unreachable < _UNREACHABLE_LIMIT:
            return failure
        return Failure(
            kind=ErrorKind.FATAL,
            code="EndpointUnreachable",
            message=f"no connection could be made to the endpoint ({failure.message})",
        )

    @staticmethod
    async def _admit(run: RunState, pacer: Pacer) -> bool:
        """Wait at the gate and for a send slot; True when this attempt is the gate's probe."""
        while True:
            probe = await run.gate.wait(sleep=anyio.sleep)
            try:
                await take_slot(pacer, sleep=anyio.sleep)
            except BaseException:
                if probe:
                    run.gate.abandon_probe()
                raise
            # The gate may have closed while we waited for the slot: then the slot is wasted
            # rather than sent into a brownout.
            if probe or run.gate.state is GateState.OPEN:
                return probe
