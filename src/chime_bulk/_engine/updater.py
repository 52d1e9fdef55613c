"""`BulkUpdater`: bounded fan-out of capability updates with one retry layer and a full report.

Data flows one way. `max_concurrency` workers pull the caller's updates lazily (any iterable
or async iterable), each only when it is free, so memory is bounded by the concurrency, not
by the plan. A worker validates the update and hands it to the `Sender`
(gate, pacer, attempts, retries). Every update becomes exactly one `AttendeeResult`, which
flows to the report (or to the caller of `stream()`), the journal and the progress listener.

Stopping (a deadline, a fatal error, `request_stop()`) never loses an update: the workers keep
draining the plan, and everything that will not be sent is reported `cancelled`.
"""

from __future__ import annotations

import contextlib
import random as _random
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import AsyncExitStack, asynccontextmanager
from os import PathLike
from typing import Any, Final, Self

import anyio
import structlog
from anyio.abc import TaskGroup

from .._aws.clients import ClientFactory, ClientSettings, warn_if_retrying
from .._aws.reads import (
    GET_MEETING_OPERATION,
    LIST_OPERATION,
    AttendeeState,
    list_attendees,
    meeting_features,
)
from .._io.journal import Journal
from .._model.capabilities import MeetingFeatures
from .._model.errors import RunAborted
from .._model.report import AttendeeResult, Report, ReportBuilder, Status
from .._model.update import BatchExcept, Update
from .._model.validation import batch_problems, update_problems
from .._policy.brownout import BrownoutGate, BrownoutPolicy
from .._policy.concurrency import ConcurrencyPolicy, ConcurrencySizer
from .._policy.pacing import Adaptive, Pacer, Pacing
from .._policy.registry import PacerRegistry, shared_pacers
from .._policy.retry import RetryPolicy
from .._policy.scope import QuotaScope
from .._shared.redis_quota import RedisQuota, RedisQuotaLink
from ..progress import NullProgress, ProgressListener
from .sender import Outcome, Request, RunState, Sender

__all__ = ["BulkUpdater", "Item"]

_OPERATION: Final = "UpdateAttendeeCapabilities"
_BATCH_OPERATION: Final = "BatchUpdateAttendeeCapabilitiesExcept"
_log = structlog.get_logger("chime_bulk")

#: What a run takes: updates to send, batches (state-aware commands only), and results
#: decided before the run (`unchanged`, `excluded`) that go to the report as they are.
Item = Update | BatchExcept | AttendeeResult


class BulkUpdater:
    """Update many attendees' capabilities, paced, retried and fully reported.

    >>> async with BulkUpdater(region="us-east-1", max_concurrency=16) as bulk:  # doctest: +SKIP
    ...     report = await bulk.run(
    ...         Update(meeting_id=m, attendee_id=a, capabilities=Capabilities("SendReceive",
    ...                "Receive", "None")) for m, a in pairs)
    >>> report.write("report.json")  # doctest: +SKIP

    Per-attendee failures never raise: they are rows of the report. A fatal error (401, 403,
    no credentials) stops the run and raises `RunAborted`, whose `.report` is complete.

    `meeting_features` (meeting ID → `MeetingFeatures`, e.g. from `meeting_features()`)
    lets updates a meeting would reject be reported `invalid` without being sent.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        client: Any | None = None,
        max_concurrency: int | None = None,
        retry: RetryPolicy | None = None,
        pacing: Pacing | None = None,
        coordinator: RedisQuota | None = None,
        concurrency: ConcurrencyPolicy | None = None,
        pacers: PacerRegistry | None = None,
        brownout: BrownoutPolicy | None = None,
        deadline: float | None = None,
        journal: str | PathLike[str] | Journal | None = None,
        progress: ProgressListener | None = None,
        meeting_features: Mapping[str, MeetingFeatures] | None = None,
        grace_s: float = 3.0,
        random: _random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if deadline is not None and not deadline > 0:
            raise ValueError(f"deadline must be positive seconds, got {deadline}")
        # A number is a fixed worker count (and so a hard cap); None sizes the workers from
        # the pacer's rate and the latency (`ConcurrencySizer`) up to the policy's maximum.
        self._concurrency_policy = concurrency or ConcurrencyPolicy()
        self._fixed_concurrency = max_concurrency
        upper = max_concurrency or self._concurrency_policy.maximum
        self._settings = ClientSettings(
            region=region,
            profile=profile,
            endpoint_url=endpoint_url,
            max_pool_connections=max(upper, 10),  # the pool follows the upper bound
        )
        if client is not None:
            warn_if_retrying(client)
        self._given_client = client
        self._concurrency = upper
        self._retry = retry or RetryPolicy()
        self._pacing = pacing or Adaptive()
        self._brownout = brownout or BrownoutPolicy()
        self._deadline = deadline
        self._journal_target = journal
        self._progress: ProgressListener = progress or NullProgress()
        self._grace_s = grace_s
        self._features = dict(meeting_features or {})
        self._random = random or _random.Random()
        self._clock = clock
        self._clients: ClientFactory | None = None
        self._sender: Sender | None = None
        self._run: RunState | None = None
        self._sizer: ConcurrencySizer | None = None
        # One pacer per (Region, operation), the scope of the service's quota; kept for the
        # updater's lifetime so a second run starts at the rate the first one learned.
        self._pacers: dict[tuple[str | None, str], Pacer] = {}
        self._registry = pacers or shared_pacers
        self._coordinator = coordinator
        self._link: RedisQuotaLink | None = None
        self._stack: AsyncExitStack | None = None
        self._access_key_id: str | None = None

    async def __aenter__(self) -> Self:
        self._clients = ClientFactory(self._settings, client=self._given_client)
        self._access_key_id = await self._clients.access_key_id()
        if self._coordinator is not None:
            self._stack = AsyncExitStack()
            self._link = await self._stack.enter_async_context(self._coordinator.connect())
        self._sender = Sender(
            clients=self._clients,
            pacer_for=self._pacer,
            retry=self._retry,
            progress=self._progress,
            random=self._random,
            clock=self._clock,
            observe_latency=self._observe_latency,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._sender = None
        if self._stack is not None:
            # Not shielded: the link's task group must be exited in its own cancel scope.
            stack, self._stack, self._link = self._stack, None, None
            await stack.aclose()
        if self._clients is not None:
            with anyio.CancelScope(shield=True):
                await self._clients.aclose()
            self._clients = None

    # -- public ----------------------------------------------------------------------------

    @property
    def region(self) -> str | None:
        """The Region updates without one go to (from `region=`, the profile or the
        environment); `None` when nothing says. Known once the updater is entered."""
        return self._clients.default_region if self._clients is not None else None

    async def run(self, updates: Iterable[Item] | AsyncIterable[Item]) -> Report:
        """Apply every update; return the report in which each appears exactly once."""
        builder = ReportBuilder(clock=self._clock)

        async def keep(index: int, result: AttendeeResult) -> None:
            builder.add(result, index=index)

        run = self._new_run()
        await self._drive(updates, run, keep)
        report = builder.build(total=run.fed, traffic=run.traffic)
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
        builder = ReportBuilder(clock=self._clock, keep_results=False)
        send, receive = anyio.create_memory_object_stream[AttendeeResult](
            max_buffer_size=self._concurrency
        )

        async def forward(index: int, result: AttendeeResult) -> None:
            builder.add(result, index=index)
            # If the reader left early the run is being cancelled: nobody wants this result.
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await send.send(result)

        async def drive() -> None:
            async with send:
                await self._drive(updates, run, forward)

        run = self._new_run()
        async with _unwrapped_group() as tg:
            tg.start_soon(drive)
            try:
                yield receive
            finally:
                # Every result is out, or the reader left early: then stop the run at once.
                tg.cancel_scope.cancel()
                receive.close()
        report = builder.build(traffic=run.traffic)
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

    async def meeting_features(
        self, meeting_id: str, *, region: str | None = None
    ) -> MeetingFeatures:
        """What the meeting allows (GetMeeting): a meeting created without video or content
        sharing rejects any capability but `None` for it. Paced and retried like updates."""
        return await meeting_features(
            client=await self._client(region),
            meeting_id=meeting_id,
            pacer=self._pacer(region, GET_MEETING_OPERATION),
            retry=self._retry,
            random=self._random.random,
        )

    def request_stop(self, *, grace_s: float | None = None) -> None:
        """Stop dispatching; requests in flight get `grace_s` to finish, the rest are cancelled.

        Safe to call from a signal handler task; a no-op when no run is going.
        """
        if self._run is not None:
            self._run.stop(grace_s=self._grace_s if grace_s is None else grace_s)

    # -- the run ---------------------------------------------------------------------------

    def _finish(self, report: Report, run: RunState) -> None:
        self._progress.on_finish(report.summary)
        _log.info("run finished", **_summary_fields(report), brownouts=run.gate.pauses)
        if run.fatal is not None:
            raise RunAborted(report=report, error_code=run.fatal.error_code)

    def _new_run(self) -> RunState:
        if self._clients is None:
            raise RuntimeError("use BulkUpdater as `async with BulkUpdater(...) as bulk:`")
        if self._run is not None:
            raise RuntimeError("one run at a time per BulkUpdater")
        self._run = RunState(gate=BrownoutGate(self._brownout, clock=self._clock))
        return self._run

    async def _drive(
        self,
        updates: Iterable[Item] | AsyncIterable[Item],
        run: RunState,
        sink: Callable[[int, AttendeeResult], Awaitable[None]],
    ) -> None:
        """Settle every update with `max_concurrency` workers; each result goes to the
        journal, the progress listener and `sink`, exactly once."""
        journal, owned = self._open_journal()
        self._progress.on_start(total=_total(updates))
        plan = _Plan(updates, run)
        capacity = self._capacity(run)

        async def deliver(index: int, result: AttendeeResult) -> None:
            if journal is not None:
                journal.record(index, result)
            self._progress.on_result(result)
            await sink(index, result)

        try:
            async with _unwrapped_group() as tg:
                if self._deadline is not None:
                    tg.start_soon(self._stop_at_deadline, run, self._deadline)
                async with _unwrapped_group() as workers:
                    for _ in range(self._concurrency):
                        workers.start_soon(self._work, run, plan, deliver, capacity)
                tg.cancel_scope.cancel()  # all settled: the deadline timer has nothing to do
        finally:
            self._run = None
            self._sizer = None
            run.gate.release()
            if journal is not None:
                # Shielded: a cancelled run still keeps what it learned.
                with anyio.CancelScope(shield=True):
                    if owned:
                        await journal.aclose()
                    else:
                        await anyio.to_thread.run_sync(journal.flush)

    def _open_journal(self) -> tuple[Journal | None, bool]:
        """The run's journal, and whether the run opened it (and so must close it)."""
        target = self._journal_target
        if target is None or isinstance(target, Journal):
            return target, False
        return Journal.open(target), True

    async def _stop_at_deadline(self, run: RunState, seconds: float) -> None:
        await anyio.sleep(seconds)
        _log.warning("deadline passed; cancelling what is left", deadline_s=seconds)
        run.stop(grace_s=self._grace_s)

    def _capacity(self, run: RunState) -> anyio.CapacityLimiter | None:
        """What the workers park on when the concurrency is sized (None: a fixed count)."""
        if self._fixed_concurrency is not None:
            self._sizer = None
            return None
        self._sizer = ConcurrencySizer(self._concurrency_policy, clock=self._clock)
        return anyio.CapacityLimiter(self._sizer.current)

    def _observe_latency(self, seconds: float) -> None:
        if self._sizer is not None:
            self._sizer.observe(seconds)

    def _resize(self, capacity: anyio.CapacityLimiter) -> None:
        sizer = self._sizer
        if sizer is None:
            return
        rate = sum(pacer.rate for pacer in self._pacers.values()) or Adaptive().initial_rate
        wanted = sizer.limit(rate)
        if wanted != capacity.total_tokens:
            capacity.total_tokens = wanted

    async def _work(
        self,
        run: RunState,
        plan: _Plan,
        deliver: Callable[[int, AttendeeResult], Awaitable[None]],
        capacity: anyio.CapacityLimiter | None,
    ) -> None:
        if capacity is None:
            while await self._work_one(run, plan, deliver):
                pass
            return
        # Sized concurrency: every worker parks on the limiter, whose size follows the rate
        # and the latency, and pulls the next update only once it holds a token.
        while True:
            self._resize(capacity)
            async with capacity:
                if not await self._work_one(run, plan, deliver):
                    return

    async def _work_one(
        self,
        run: RunState,
        plan: _Plan,
        deliver: Callable[[int, AttendeeResult], Awaitable[None]],
    ) -> bool:
        # A worker takes the next update only when it is free, so nothing piles up.
        job = await plan.next()
        if job is None:
            return False
        index, item = job
        if isinstance(item, AttendeeResult):
            await deliver(index, item)
        elif isinstance(item, BatchExcept):
            for offset, result in enumerate(await self._settle_batch(run, item)):
                await deliver(index + offset, result)
        else:
            await deliver(index, await self._settle(run, item))
        return True

    async def _settle(self, run: RunState, update: Update) -> AttendeeResult:
        """Everything that happens to one update, ending in its one result."""
        capabilities = update.capabilities.to_api()

        async def call(client: Any) -> dict[str, Any]:
            response: dict[str, Any] = await client.update_attendee_capabilities(
                MeetingId=update.meeting_id,
                AttendeeId=update.attendee_id,
                Capabilities=capabilities,
            )
            return response

        request = Request(
            operation=_OPERATION,
            region=update.region,
            call=call,
            meeting_id=update.meeting_id,
            attendee_id=update.attendee_id,
        )
        problems = update_problems(update, features=self._features.get(update.meeting_id))
        (result,) = await self._send(run, (update,), request, problems=problems)
        return result

    async def _settle_batch(self, run: RunState, batch: BatchExcept) -> list[AttendeeResult]:
        """One batch request; each member's result tells how it went."""
        capabilities = batch.capabilities.to_api()
        excluded = [{"AttendeeId": attendee} for attendee in batch.excluded_ids]

        async def call(client: Any) -> dict[str, Any]:
            response: dict[str, Any] = await client.batch_update_attendee_capabilities_except(
                MeetingId=batch.meeting_id,
                ExcludedAttendeeIds=excluded,
                Capabilities=capabilities,
            )
            return response

        request = Request(
            operation=_BATCH_OPERATION, region=batch.region, call=call, meeting_id=batch.meeting_id
        )
        return await self._send(run, batch.members, request, problems=batch_problems(batch))

    async def _send(
        self,
        run: RunState,
        updates: Sequence[Update],
        request: Request,
        *,
        problems: list[str],
    ) -> list[AttendeeResult]:
        """Send `request` on behalf of `updates` (one, or a batch's members); their results."""
        if run.stopping:
            message = "run stopped before this update was sent"
            return [AttendeeResult.unsent(update, Status.CANCELLED, message) for update in updates]
        if problems:
            return [
                AttendeeResult.unsent(update, Status.INVALID, "; ".join(problems))
                for update in updates
            ]
        outcome = await self._sending().perform(run, request)
        results = [_result(update, outcome) for update in updates]
        if outcome.fatal and run.fatal is None:
            run.fatal = results[0]
        return results

    async def _client(self, region: str | None) -> Any:
        assert self._clients is not None
        return await self._clients.get(region)

    def _sending(self) -> Sender:
        assert self._sender is not None
        return self._sender

    def _pacer(self, region: str | None, operation: str) -> Pacer:
        key = (region, operation)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = self._new_pacer(region, operation)
        if self._run is not None:
            self._run.gate.subscribe(pacer)  # a brownout pause is not a spell to learn from
        return pacer

    def _new_pacer(self, region: str | None, operation: str) -> Pacer:
        """The pacer of one quota: in Redis when coordinated, else the process's own."""
        default = self._clients.default_region if self._clients is not None else None
        scope = QuotaScope(
            access_key_id=self._access_key_id,
            endpoint_url=self._clients.endpoint_url if self._clients is not None else None,
            region=region or default,
            operation=operation,
        )
        if self._link is not None and isinstance(self._pacing, Adaptive):
            return self._link.pacer(scope, self._pacing, clock=self._clock)
        return self._registry.pacer(scope, self._pacing, clock=self._clock)


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


_END: Final = object()


class _Plan:
    """The caller's updates, pulled by whichever worker is free; numbers the results.

    A batch takes one index per member. `run.fed` is the number handed out so far: the run's
    total once the plan is drained.
    """

    def __init__(self, updates: Iterable[Item] | AsyncIterable[Item], run: RunState) -> None:
        self._run = run
        self._sync: Iterator[Item] | None = None
        self._async: AsyncIterator[Item] | None = None
        if isinstance(updates, AsyncIterable):
            self._async = aiter(updates)
        else:
            self._sync = iter(updates)
        self._lock = anyio.Lock()  # an async iterator must not be advanced by two at once

    async def next(self) -> tuple[int, Item] | None:
        if self._sync is not None:
            item = next(self._sync, _END)  # no await: no other worker can interleave
        else:
            assert self._async is not None
            async with self._lock:
                item = await anext(self._async, _END)
        if item is _END:
            return None
        assert isinstance(item, Update | BatchExcept | AttendeeResult)
        index = self._run.fed
        self._run.fed += _width(item)
        return index, item


def _width(item: Item) -> int:
    """How many results an item becomes."""
    return len(item.members) if isinstance(item, BatchExcept) else 1


def _total(updates: Iterable[Item] | AsyncIterable[Item]) -> int | None:
    # A collection can be walked twice; anything else is known only once it is consumed.
    if isinstance(updates, Collection):
        return sum(_width(item) for item in updates)
    return None


def _result(update: Update, outcome: Outcome) -> AttendeeResult:
    failure = outcome.failure
    message = failure.message if failure is not None else None
    if outcome.status is Status.CANCELLED:
        last = f" (last error {failure.code})" if failure is not None else ""
        message = f"run stopped before this update finished{last}"
    return AttendeeResult(
        meeting_id=update.meeting_id,
        attendee_id=update.attendee_id,
        status=outcome.status,
        desired=update.capabilities,
        previous=update.previous,
        attempts=outcome.attempts,
        throttled=outcome.throttled,
        error_code=failure.code if failure is not None else None,
        error_message=message,
        request_id=outcome.request_id,
        elapsed_s=outcome.elapsed_s,
        region=update.region,
    )


def _summary_fields(report: Report) -> dict[str, Any]:
    summary = report.summary
    return {
        "total": summary.total,
        "by_status": summary.by_status,
        "requests": summary.requests,
        "throttled": summary.throttled,
        "retried": summary.retried,
        "elapsed_s": summary.elapsed_s,
    }
