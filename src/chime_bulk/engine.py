"""`BulkUpdater`: bounded fan-out of capability updates with one retry layer and a full report.

Data flows one way. A feeder pulls the caller's updates lazily (any iterable or async
iterable) and hands each to one of `max_concurrency` workers, so memory is bounded by the
concurrency, not by the plan. A worker validates the update, then for each attempt waits at the
brownout gate and for a slot from the pacer, makes one aiobotocore call, and classifies what
came back; tenacity decides whether and when to try again. Every update becomes exactly one
`AttendeeResult`, which flows to the report (or to the caller of `stream()`), the journal and
the progress listener.

Stopping (a deadline, a fatal error, `request_stop()`) never loses an update: the feeder keeps
draining the plan, and everything that will not be sent is reported `cancelled`.
"""

from __future__ import annotations

import math
import random as _random
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sized
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Final, Self

import anyio
import structlog
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from tenacity import RetryCallState

from .brownout import BrownoutGate, BrownoutPolicy, GateState
from .classification import ErrorKind, Failure, classify
from .clients import ClientFactory, ClientSettings, warn_if_retrying
from .errors import RunAborted
from .journal import Journal
from .listing import LIST_OPERATION, AttendeeState, list_attendees
from .pacing import Adaptive, Pacer, Pacing
from .progress import NullProgress, ProgressListener
from .report import AttendeeResult, Report, ReportBuilder, Status
from .retry import AttemptFailed, RetryPolicy, new_retrying
from .update import Update
from .validation import update_problems

__all__ = ["BulkUpdater"]

_OPERATION: Final = "UpdateAttendeeCapabilities"
_log = structlog.get_logger("chime_bulk")

Item = Update | AttendeeResult


class _Stopped(Exception):
    """The run is stopping: end this update as `cancelled` (never retried)."""


@dataclass(slots=True)
class _Tally:
    """What happened to one update so far."""

    attempts: int = 0
    throttled: int = 0
    request_id: str | None = None
    failure: Failure | None = None


@dataclass(slots=True, eq=False)
class _Slot:
    """One worker's current update: how to cancel it, and whether a request is in flight."""

    scope: anyio.CancelScope
    sending: bool = False


@dataclass(slots=True, eq=False)
class _Run:
    """The state one `run()`/`stream()` shares between its tasks."""

    gate: BrownoutGate
    slots: set[_Slot] = field(default_factory=set)
    stopping: bool = False
    fatal: AttendeeResult | None = None
    fed: int = 0


class BulkUpdater:
    """Update many attendees' capabilities, paced, retried and fully reported.

    >>> async with BulkUpdater(region="us-east-1", max_concurrency=16) as bulk:  # doctest: +SKIP
    ...     report = await bulk.run(
    ...         Update(meeting_id=m, attendee_id=a, capabilities=Capabilities("SendReceive",
    ...                "Receive", "None")) for m, a in pairs)
    >>> report.write("report.json")  # doctest: +SKIP

    Per-attendee failures never raise: they are rows of the report. A fatal error (401, 403,
    no credentials) stops the run and raises `RunAborted`, whose `.report` is complete.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        client: Any | None = None,
        max_concurrency: int = 16,
        retry: RetryPolicy | None = None,
        pacing: Pacing | None = None,
        brownout: BrownoutPolicy | None = None,
        deadline: float | None = None,
        journal: str | PathLike[str] | Journal | None = None,
        progress: ProgressListener | None = None,
        grace_s: float = 3.0,
        random: _random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if deadline is not None and not deadline > 0:
            raise ValueError(f"deadline must be positive seconds, got {deadline}")
        self._settings = ClientSettings(
            region=region,
            profile=profile,
            endpoint_url=endpoint_url,
            max_pool_connections=max(max_concurrency, 10),
        )
        if client is not None:
            warn_if_retrying(client)
        self._given_client = client
        self._concurrency = max_concurrency
        self._retry = retry or RetryPolicy()
        self._pacing = pacing or Adaptive()
        self._brownout = brownout or BrownoutPolicy()
        self._deadline = deadline
        self._journal_target = journal
        self._progress: ProgressListener = progress or NullProgress()
        self._grace_s = grace_s
        self._random = random or _random.Random()
        self._clock = clock
        self._clients: ClientFactory | None = None
        self._run: _Run | None = None
        # One pacer per (Region, operation), the scope of the service's quota; kept for the
        # updater's lifetime so a second run starts at the rate the first one learned.
        self._pacers: dict[tuple[str | None, str], Pacer] = {}

    async def __aenter__(self) -> Self:
        self._clients = ClientFactory(self._settings, client=self._given_client)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._clients is not None:
            with anyio.CancelScope(shield=True):
                await self._clients.aclose()
            self._clients = None

    # -- public ----------------------------------------------------------------------------

    async def run(self, updates: Iterable[Item] | AsyncIterable[Item]) -> Report:
        """Apply every update; return the report in which each appears exactly once."""
        total = len(updates) if isinstance(updates, Sized) else None
        builder = ReportBuilder(clock=self._clock)
        async with self._results(updates, total=total) as (results, run):
            async for index, result in results:
                builder.add(result, index=index)
        report = builder.build()
        self._finish(report, run)
        return report

    @asynccontextmanager
    async def stream(
        self, updates: Iterable[Item] | AsyncIterable[Item]
    ) -> AsyncIterator[AsyncIterator[AttendeeResult]]:
        """Results as they finish; memory bounded by the concurrency, not the plan.

        `RunAborted` from a stream carries the summary of the whole run, and as `results`
        only the update that met the fatal error (the caller has been given the rest).
        """
        total = len(updates) if isinstance(updates, Sized) else None
        builder = ReportBuilder(clock=self._clock, keep_results=False)

        async def results_only(
            results: AsyncIterator[tuple[int, AttendeeResult]],
        ) -> AsyncIterator[AttendeeResult]:
            async for index, result in results:
                builder.add(result, index=index)
                yield result

        async with self._results(updates, total=total) as (results, run):
            yield results_only(results)
        report = builder.build()
        if run.fatal is not None:
            report = Report(results=[run.fatal], summary=report.summary)
        self._finish(report, run)

    async def list_attendees(
        self, meeting_id: str, *, region: str | None = None
    ) -> list[AttendeeState]:
        """Every attendee of a meeting with its current capabilities (never its JoinToken).

        Paced and retried like updates; raises `ListingFailed` when the meeting cannot be read.
        """
        return await list_attendees(
            client=await self._client(region),
            meeting_id=meeting_id,
            pacer=self._pacer(region, LIST_OPERATION),
            retry=self._retry,
            random=self._random.random,
        )

    def request_stop(self, *, grace_s: float | None = None) -> None:
        """Stop dispatching; requests in flight get `grace_s` to finish, the rest are cancelled.

        Safe to call from a signal handler task; a no-op when no run is going.
        """
        if self._run is not None:
            self._stop(self._run, grace_s=self._grace_s if grace_s is None else grace_s)

    # -- the run ---------------------------------------------------------------------------

    def _finish(self, report: Report, run: _Run) -> None:
        self._progress.on_finish(report.summary)
        _log.info("run finished", **_summary_fields(report), brownouts=run.gate.pauses)
        if run.fatal is not None:
            raise RunAborted(report=report, error_code=run.fatal.error_code)

    @asynccontextmanager
    async def _results(
        self, updates: Iterable[Item] | AsyncIterable[Item], *, total: int | None
    ) -> AsyncIterator[tuple[AsyncIterator[tuple[int, AttendeeResult]], _Run]]:
        if self._clients is None:
            raise RuntimeError("use BulkUpdater as `async with BulkUpdater(...) as bulk:`")
        if self._run is not None:
            raise RuntimeError("one run at a time per BulkUpdater")
        run = _Run(gate=BrownoutGate(self._brownout, clock=self._clock))
        self._run = run
        journal, owned = self._open_journal()
        self._progress.on_start(total=total)
        results_send, results_receive = anyio.create_memory_object_stream[
            tuple[int, AttendeeResult]
        ](max_buffer_size=self._concurrency)
        try:
            async with _unwrapped_group() as tg:
                self._start_tasks(tg, updates, run, results_send)
                async with results_receive:
                    yield self._observed(results_receive, journal), run
                # Every result is out (or the caller stopped reading early): end the deadline
                # timer, and any worker still running.
                tg.cancel_scope.cancel()
        finally:
            self._run = None
            if journal is not None:
                # Shielded: a cancelled run still keeps what it learned.
                with anyio.CancelScope(shield=True):
                    if owned:
                        await journal.aclose()
                    else:
                        await anyio.to_thread.run_sync(journal.flush)

    async def _observed(
        self,
        results: MemoryObjectReceiveStream[tuple[int, AttendeeResult]],
        journal: Journal | None,
    ) -> AsyncIterator[tuple[int, AttendeeResult]]:
        async for index, result in results:
            if journal is not None:
                journal.record(index, result)
            self._progress.on_result(result)
            yield index, result

    def _open_journal(self) -> tuple[Journal | None, bool]:
        """The run's journal, and whether the run opened it (and so must close it)."""
        target = self._journal_target
        if target is None or isinstance(target, Journal):
            return target, False
        return Journal.open(target), True

    def _start_tasks(
        self,
        tg: TaskGroup,
        updates: Iterable[Item] | AsyncIterable[Item],
        run: _Run,
        results: MemoryObjectSendStream[tuple[int, AttendeeResult]],
    ) -> None:
        jobs_send, jobs_receive = anyio.create_memory_object_stream[tuple[int, Item]]()
        with results, jobs_receive:
            tg.start_soon(self._feed, updates, run, jobs_send)
            for _ in range(self._concurrency):
                tg.start_soon(self._work, run, jobs_receive.clone(), results.clone())
        if self._deadline is not None:
            tg.start_soon(self._stop_at_deadline, run, self._deadline)

    async def _stop_at_deadline(self, run: _Run, seconds: float) -> None:
        await anyio.sleep(seconds)
        _log.warning("deadline passed; cancelling what is left", deadline_s=seconds)
        self._stop(run, grace_s=self._grace_s)

    def _stop(self, run: _Run, *, grace_s: float) -> None:
        run.stopping = True
        limit = anyio.current_time() + grace_s
        for slot in run.slots:
            if slot.sending and grace_s > 0:
                slot.scope.deadline = min(slot.scope.deadline, limit)
            else:
                slot.scope.cancel()
        run.gate.wake_all()

    async def _feed(
        self,
        updates: Iterable[Item] | AsyncIterable[Item],
        run: _Run,
        jobs: MemoryObjectSendStream[tuple[int, Item]],
    ) -> None:
        # Waits for a free worker before pulling the next update, so nothing piles up.
        async with jobs:
            async for item in _aiter(updates):
                await jobs.send((run.fed, item))
                run.fed += 1

    async def _work(
        self,
        run: _Run,
        jobs: MemoryObjectReceiveStream[tuple[int, Item]],
        results: MemoryObjectSendStream[tuple[int, AttendeeResult]],
    ) -> None:
        async with jobs, results:
            async for index, item in jobs:
                result = item if isinstance(item, AttendeeResult) else await self._settle(run, item)
                await results.send((index, result))

    async def _settle(self, run: _Run, update: Update) -> AttendeeResult:
        """Everything that happens to one update, ending in its one result."""
        if run.stopping:
            return _result(update, Status.CANCELLED, _Tally(), 0.0, message="run stopped")
        problems = update_problems(update)
        if problems:
            return _result(update, Status.INVALID, _Tally(), 0.0, message="; ".join(problems))
        started = self._clock()
        tally = _Tally()
        slot = _Slot(scope=anyio.CancelScope())
        run.slots.add(slot)
        try:
            with slot.scope:
                return await self._attempts(run, update, tally, slot, started)
        finally:
            run.slots.discard(slot)
        # Only reached when a stop cancelled this update's own scope: that is a result too.
        return _cancelled(update, tally, self._clock() - started)

    async def _attempts(
        self, run: _Run, update: Update, tally: _Tally, slot: _Slot, started: float
    ) -> AttendeeResult:
        log = _log.bind(meeting_id=update.meeting_id, attendee_id=update.attendee_id)

        async def backoff(delay: float) -> None:
            if run.stopping:
                raise _Stopped
            await anyio.sleep(delay)

        async def before_sleep(state: RetryCallState) -> None:
            failure = tally.failure
            assert failure is not None  # set by every failed attempt
            delay = state.upcoming_sleep
            log.info(
                "retrying",
                attempt=state.attempt_number,
                error_code=failure.code,
                delay_s=round(delay, 3),
            )
            self._progress.on_retry(
                update=update, failure=failure, attempt=state.attempt_number, delay_s=delay
            )

        retrying = new_retrying(
            self._retry, sleep=backoff, random=self._random.random, before_sleep=before_sleep
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._attempt(run, update, tally, slot, log)
        except _Stopped:
            return _cancelled(update, tally, self._clock() - started)
        except AttemptFailed as failed:
            return self._failed(
                run, update, tally, slot, failed.failure, self._clock() - started, log
            )
        return _result(update, Status.SUCCEEDED, tally, self._clock() - started)

    def _failed(
        self,
        run: _Run,
        update: Update,
        tally: _Tally,
        slot: _Slot,
        failure: Failure,
        elapsed: float,
        log: Any,
    ) -> AttendeeResult:
        status = Status.NOT_FOUND if failure.kind is ErrorKind.NOT_FOUND else Status.FAILED
        result = _result(update, status, tally, elapsed, failure=failure)
        if failure.kind is ErrorKind.FATAL and run.fatal is None:
            log.error("fatal error; aborting the run", error_code=failure.code)
            run.fatal = result
            run.slots.discard(slot)  # this update is over; stop everything else
            self._stop(run, grace_s=0)
        elif status is Status.FAILED:
            log.warning(
                "update failed",
                error_code=failure.code,
                error_message=failure.message,
                attempts=tally.attempts,
            )
        return result

    async def _attempt(
        self, run: _Run, update: Update, tally: _Tally, slot: _Slot, log: Any
    ) -> None:
        """One request; raises `AttemptFailed` with the classified failure."""
        if run.stopping:
            raise _Stopped
        client = await self._client(update.region)
        pacer = self._pacer(update.region, _OPERATION)
        probe = await self._admit(run, pacer)
        tally.attempts += 1
        slot.sending = True
        try:
            response = await client.update_attendee_capabilities(
                MeetingId=update.meeting_id,
                AttendeeId=update.attendee_id,
                Capabilities=update.capabilities.to_api(),
            )
        except Exception as error:
            failure = classify(error)
            tally.failure = failure
            tally.request_id = failure.request_id or tally.request_id
            throttled = failure.kind is ErrorKind.THROTTLE
            tally.throttled += throttled
            pacer.on_response(throttled=throttled)
            run.gate.record(
                unavailable=failure.kind is ErrorKind.UNAVAILABLE,
                retry_after_s=failure.retry_after_s,
                probe=probe,
            )
            log.debug("attempt failed", attempt=tally.attempts, error_code=failure.code)
            raise AttemptFailed(failure) from None
        except BaseException:
            if probe:
                run.gate.abandon_probe()
            raise
        finally:
            slot.sending = False
        tally.request_id = response.get("ResponseMetadata", {}).get("RequestId")
        pacer.on_response(throttled=False)
        run.gate.record(unavailable=False, retry_after_s=None, probe=probe)
        log.debug("attempt succeeded", attempt=tally.attempts)

    async def _admit(self, run: _Run, pacer: Pacer) -> bool:
        """Wait at the gate and for a send slot; True when this attempt is the gate's probe."""
        while True:
            probe = await run.gate.wait(sleep=anyio.sleep)
            delay = pacer.reserve()
            if delay > 0:
                try:
                    await anyio.sleep(delay)
                except BaseException:
                    if probe:
                        run.gate.abandon_probe()
                    raise
            # The gate may have closed while we waited for the slot: then the slot is wasted
            # rather than sent into a brownout.
            if probe or run.gate.state is GateState.OPEN:
                return probe

    async def _client(self, region: str | None) -> Any:
        assert self._clients is not None
        return await self._clients.get(region)

    def _pacer(self, region: str | None, operation: str) -> Pacer:
        key = (region, operation)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = self._pacing.new_pacer(clock=self._clock)
        return pacer


@asynccontextmanager
async def _unwrapped_group() -> AsyncIterator[TaskGroup]:
    """A task group that re-raises a lone failure as itself, not as an exception group."""
    try:
        async with anyio.create_task_group() as tg:
            yield tg
    except BaseExceptionGroup as group:
        errors = group.exceptions
        if len(errors) == 1 and not isinstance(errors[0], BaseExceptionGroup):
            raise errors[0] from None
        raise


async def _aiter(updates: Iterable[Item] | AsyncIterable[Item]) -> AsyncIterator[Item]:
    if isinstance(updates, AsyncIterable):
        async for item in updates:
            yield item
    else:
        for item in updates:
            yield item


def _result(
    update: Update,
    status: Status,
    tally: _Tally,
    elapsed: float,
    *,
    failure: Failure | None = None,
    message: str | None = None,
) -> AttendeeResult:
    return AttendeeResult(
        meeting_id=update.meeting_id,
        attendee_id=update.attendee_id,
        status=status,
        desired=update.capabilities,
        previous=update.previous,
        attempts=tally.attempts,
        throttled=tally.throttled,
        error_code=failure.code if failure is not None else None,
        error_message=failure.message if failure is not None else message,
        request_id=tally.request_id,
        elapsed_s=round(elapsed, 4),
        region=update.region,
    )


def _cancelled(update: Update, tally: _Tally, elapsed: float) -> AttendeeResult:
    last = tally.failure
    return _result(
        update,
        Status.CANCELLED,
        tally,
        elapsed,
        message="run stopped before this update finished"
        + (f" (last error {last.code})" if last is not None else ""),
    )


def _summary_fields(report: Report) -> dict[str, Any]:
    summary = report.summary
    return {
        "total": summary.total,
        "by_status": summary.by_status,
        "requests": summary.requests,
        "throttled": summary.throttled,
        "retried": summary.retried,
        "elapsed_s": summary.elapsed_s if math.isfinite(summary.elapsed_s) else None,
    }
