"""The one attempt path: gate, pacer, attempt, classification, retries — for every request.

The engine decides *what* to send; a `Sender` sends one request (a write or a read) until it
succeeds, fails for good, or the run stops, and says how that went as an `Outcome`. Every
attempt is admitted by the run's brownout gate and waits there for a slot from the pacer of
its (Region, operation), makes one aiobotocore call, and reports what came back to both.
tenacity decides whether and when to try again; a fresh controller per request, because
tenacity's are not safe to share.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import anyio
import structlog
from tenacity import RetryCallState

from .._aws.clients import ClientFactory
from .._model.results import Status
from .._policy.circuit import Verdict
from .._policy.classification import ErrorKind, Failure, classify
from .._policy.pacing import Pacer, epoch_of, on_failure, take_slot
from .._policy.retry import AttemptFailed, RetryPolicy, new_retrying
from ..progress import ProgressListener
from .request import Outcome, Request
from .run_state import InFlight, RunState, Stopped

__all__ = ["SERVICE_UNHEALTHY", "Sender"]

#: `RunAborted.error_code` when the circuit breaker gave up on a sick service.
SERVICE_UNHEALTHY: Final = "ServiceUnhealthy"

_log = structlog.get_logger("chime_bulk")


@dataclass(slots=True)
class _Tally:
    """What one request has been through so far."""

    started: float
    attempts: int = 0
    throttled: int = 0
    service_s: float = 0.0  # time inside the service calls, summed over the attempts
    request_id: str | None = None
    failure: Failure | None = None
    response: Mapping[str, Any] | None = None


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
        tally = _Tally(started=self._clock())
        status = Status.CANCELLED  # unless the attempts below end otherwise
        with run.stopping.track() as in_flight:
            status = await self._attempts(run, request, tally, in_flight)
        failure = tally.failure if status is not Status.SUCCEEDED else None
        if failure is not None and failure.kind is ErrorKind.FATAL and run.abort(failure):
            _log.error("fatal error; aborting the run", error_code=failure.code)
        elapsed_s = self._clock() - tally.started
        if request.write and tally.attempts > 0:
            run.traffic.timed(service_s=tally.service_s, queued_s=elapsed_s - tally.service_s)
        return Outcome(
            status=status,
            attempts=tally.attempts,
            throttled=tally.throttled,
            elapsed_s=round(elapsed_s, 4),
            request_id=tally.request_id,
            failure=failure,
            response=tally.response,
        )

    async def _attempts(
        self, run: RunState, request: Request, tally: _Tally, in_flight: InFlight
    ) -> Status:
        try:
            try:
                # Most requests succeed the first time: that attempt skips building a retry
                # controller, a measurable part of the engine's own cost per update.
                await self._attempt(run, request, tally, in_flight)
            except AttemptFailed as first:
                if not first.failure.kind.retryable:
                    raise
                await self._retry_after_first(run, request, tally, in_flight, first)
        except Stopped:
            return Status.CANCELLED
        except AttemptFailed as failed:
            return self._final(request, tally, failed.failure)
        return Status.SUCCEEDED

    async def _retry_after_first(
        self,
        run: RunState,
        request: Request,
        tally: _Tally,
        in_flight: InFlight,
        first: AttemptFailed,
    ) -> None:
        """tenacity from here on: it is handed the first attempt's failure as its own first
        attempt, so its waits, attempt counts and stop conditions are exactly as if it had
        made that attempt itself."""

        async def backoff(delay: float) -> None:
            run.stopping.check()
            await anyio.sleep(delay)

        async def before_sleep(state: RetryCallState) -> None:
            self._announce_retry(request, tally, state)

        replay: AttemptFailed | None = first
        retrying = new_retrying(
            self._retry,
            sleep=backoff,
            clock=self._clock,
            started=tally.started,
            random=self._random.random,
            before_sleep=before_sleep,
        )
        async for attempt in retrying:
            with attempt:
                if replay is not None:
                    failed, replay = replay, None
                    raise failed
                await self._attempt(run, request, tally, in_flight)

    def _announce_retry(self, request: Request, tally: _Tally, state: RetryCallState) -> None:
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

    @staticmethod
    def _final(request: Request, tally: _Tally, failure: Failure) -> Status:
        if failure.kind is ErrorKind.NOT_FOUND:
            return Status.NOT_FOUND
        if failure.kind is not ErrorKind.FATAL:
            _log.warning(
                "request failed" if request.attendee_id is None else "update failed",
                **request.ids,
                error_code=failure.code,
                error_message=failure.message,
                attempts=tally.attempts,
            )
        return Status.FAILED

    async def _attempt(
        self, run: RunState, request: Request, tally: _Tally, in_flight: InFlight
    ) -> None:
        """One request on the wire; raises `AttemptFailed` with the classified failure."""
        run.stopping.check()
        pacer = self._pacer_for(request.region, request.operation)
        booked_in = epoch_of(pacer)

        async def send_slot() -> None:
            nonlocal booked_in
            await take_slot(pacer, sleep=anyio.sleep)
            booked_in = epoch_of(pacer)

        async with run.gate.admission(slot=send_slot) as ticket:
            # Stopped while this attempt waited? Its cancellation may not have arrived yet (the
            # wait ended on its own) and must not hit a request on the wire: give up now.
            run.stopping.check()
            self._count_attempt(run, request, tally)
            in_flight.sending = True
            try:
                # In the try: no client (no Region) is this attempt's fatal failure, not a crash.
                called = answered = 0.0
                client = await self._clients.get(request.region)
                called = self._clock()
                try:
                    response = await request.call(client)
                finally:
                    answered = self._clock()
                    tally.service_s += answered - called
            except Exception as error:
                failure = run.reachability.judge(classify(error))
                self._count_failure(run if request.write else None, tally, failure)
                # A connection that failed says nothing about the quota or a brownout: only
                # an answer from the service is news for the pacer and the gate.
                on_failure(pacer, failure)
                if failure.status is not None:
                    self._observe_latency(answered - called)
                    ticket.record(
                        unavailable=failure.kind is ErrorKind.UNAVAILABLE,
                        retry_after_s=failure.retry_after_s,
                    )
                # A timeout or a reset is sickness too (the service took the request and
                # never answered it well); a fatal error ends the run on its own.
                if failure.kind is not ErrorKind.FATAL:
                    reacted = epoch_of(pacer) != booked_in  # the pacer reacted since booking
                    self._judge_health(run, failure, probe=ticket.probe, reacted=reacted)
                self._log.debug(
                    "attempt failed", **request.ids, attempt=tally.attempts, error_code=failure.code
                )
                raise AttemptFailed(failure) from None
            finally:
                in_flight.sending = False
            run.reachability.record_answer()
            self._observe_latency(answered - called)
            pacer.on_response(throttled=False)
            ticket.record(unavailable=False, retry_after_s=None)
            self._judge_health(run, None, probe=ticket.probe)
        tally.response = response
        tally.request_id = response.get("ResponseMetadata", {}).get("RequestId")
        self._log.debug("attempt succeeded", **request.ids, attempt=tally.attempts)

    @staticmethod
    def _count_attempt(run: RunState, request: Request, tally: _Tally) -> None:
        tally.attempts += 1
        if request.write:
            run.traffic.requests += 1
            run.traffic.retried += tally.attempts > 1

    def _judge_health(
        self, run: RunState, failure: Failure | None, *, probe: bool, reacted: bool = False
    ) -> None:
        """Tell the circuit breaker how an attempt went, and act on its verdict.

        `reacted`: the pacer reacted to a throttle after this attempt's slot was booked. A 429
        then is no sign of sickness: it is one of the requests in flight when the service's
        bucket ran dry (dozens at a high rate and latency), and the pacer has answered them
        already. A probe's answer counts all the same: only probes decide for a tripped
        circuit.
        """
        throttled = failure is not None and failure.kind is ErrorKind.THROTTLE
        if throttled and reacted and not probe:
            return
        circuit = run.circuit
        sick = failure is not None and failure.kind.retryable
        verdict = circuit.record(sick=sick, probe=probe)
        if verdict is Verdict.CARRY_ON:
            return
        if verdict is Verdict.RECOVERED:
            _log.info("service recovered; resuming", sick_s=round(circuit.sick_for(), 3))
            return
        last = failure.code if failure is not None else None
        if verdict is Verdict.PAUSE:
            _log.warning(
                "service unhealthy; pausing every request",
                pause_s=round(circuit.pause_s, 3),
                pauses=circuit.pauses,
                last_error_code=last,
            )
            run.gate.hold(circuit.pause_s)
            return
        limit = circuit.policy.max_sick_s
        _log.error("service unhealthy for too long; aborting the run", max_sick_s=limit)
        run.abort(
            Failure(
                kind=ErrorKind.FATAL,
                code=SERVICE_UNHEALTHY,
                message=(
                    f"the service stayed unhealthy for {limit:g} s (last error {last}); "
                    "nothing more was sent"
                ),
            )
        )

    @staticmethod
    def _count_failure(run: RunState | None, tally: _Tally, failure: Failure) -> None:
        """Count a failed attempt for the request and (`run`, for writes) the run's traffic."""
        unsent = failure.kind is ErrorKind.FATAL and failure.status is None
        throttled = failure.kind is ErrorKind.THROTTLE
        # Refused before anything reached the network (no credentials, no Region, no
        # connection): not a request.
        tally.attempts -= unsent
        tally.failure = failure
        tally.request_id = failure.request_id or tally.request_id
        tally.throttled += throttled
        if run is not None:
            run.traffic.requests -= unsent
            run.traffic.throttled += throttled
