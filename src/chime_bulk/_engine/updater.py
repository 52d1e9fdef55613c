"""`BulkUpdater`: bounded fan-out of capability updates with one retry layer and a full report.

Data flows one way. `max_concurrency` workers pull the caller's updates lazily (any iterable
or async iterable, through `PlanIntake`), each only when it is free. A worker validates the
update and hands its request to the `Sender` (gate, pacer, attempts, retries). Every update
becomes exactly one `AttendeeResult`, which flows to the report (or to the caller of
`stream()`), the journal and the progress listener.

Stopping (a deadline, a fatal error, `request_stop()`) never loses an update: the workers keep
draining the plan, and everything that will not be sent is reported `cancelled`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random as _random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from os import PathLike
from typing import Any, Self, cast

import anyio
import structlog

from .._aws.clients import (
    DEFAULT_READ_TIMEOUT_S,
    ClientFactory,
    ClientSettings,
    warn_if_retrying,
)
from .._aws.preflight import preflight
from .._aws.reads import (
    AttendeeState,
    list_attendees,
    meeting_features,
)
from .._io.journal import CLEANUP_TIMEOUT_S, Journal
from .._model.capabilities import MeetingFeatures
from .._model.errors import RunAborted
from .._model.report import Report, ReportBuilder
from .._model.results import AttendeeResult, Status
from .._model.summary import Summary, Traffic
from .._model.update import BatchExcept
from .._policy.brownout import BrownoutPolicy
from .._policy.circuit import CircuitPolicy
from .._policy.concurrency import ConcurrencyPolicy
from .._policy.pacing import Adaptive, Pacing
from .._policy.registry import PacerRegistry, shared_pacers
from .._policy.retry import RetryPolicy
from .._shared.redis_quota import RedisQuota
from ..progress import NullProgress, ProgressListener
from ..state_aware import Hosts, MediaSelection, SendingChange, StatePlan, Strategy
from .groups import unwrapped_group
from .intake import Items, PlanIntake, check_items, total_of
from .loop_clock import loop_time
from .meetings import MeetingWatch
from .pacers import PacerSource
from .request import Outcome, Request
from .run_state import RunState, new_run_state
from .sender import SERVICE_UNHEALTHY, Sender
from .settle import Settler
from .state_runs import plan_restore, plan_sending, settle_verified
from .workforce import Workforce

__all__ = ["BulkUpdater"]

_log = structlog.get_logger("chime_bulk")

JournalTarget = str | PathLike[str] | Journal
HostsArg = Hosts | Collection[str] | Mapping[str, Collection[str]]
Sink = Callable[[int, AttendeeResult], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class _RunSettings:
    """The settings one run goes by: the updater's defaults unless the call gave its own."""

    deadline: float | None
    journal: JournalTarget | None
    features: Mapping[str, MeetingFeatures]


@dataclass(slots=True, eq=False)
class _Run:
    """One run: the state its requests share, its settings, how it settles updates, and the
    state-aware plan it carries out, if any."""

    state: RunState
    settings: _RunSettings
    settler: Settler
    plan: StatePlan | None = None
    intake: PlanIntake | None = None


class BulkUpdater:
    """Update many attendees' capabilities, paced, retried and fully reported.

    >>> async with BulkUpdater(region="us-east-1", max_concurrency=16) as bulk:  # doctest: +SKIP
    ...     report = await bulk.run(
    ...         Update(meeting_id=m, attendee_id=a, capabilities=Capabilities("SendReceive",
    ...                "Receive", "None")) for m, a in pairs)
    >>> report.write("report.json")  # doctest: +SKIP

    Per-attendee failures never raise: they are rows of the report. A fatal error (401, 403,
    no credentials) stops the run and raises `RunAborted`, whose `.report` is complete.

    `circuit` (a `CircuitPolicy`) says when a failing service pauses the run and how long it
    is waited out before `RunAborted` (`ServiceUnhealthy`); `read_timeout_s` turns a request
    left unanswered that long into a transient failure, retried.

    `deadline`, `journal` and `meeting_features` are defaults for every run; `run()` and
    `stream()` take their own. `meeting_features` (meeting ID → `MeetingFeatures`, e.g. from
    `meeting_features()`) lets updates a meeting would reject be reported `invalid` without
    being sent.

    `clock` and `random` are for tests that need exact timing. The default clock is the event
    loop's (trio's, a mock clock included; `time.monotonic()` on asyncio): an asyncio loop with
    a virtual clock of its own needs `clock=anyio.current_time`.
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
        circuit: CircuitPolicy | None = None,
        deadline: float | None = None,
        journal: JournalTarget | None = None,
        progress: ProgressListener | None = None,
        meeting_features: Mapping[str, MeetingFeatures] | None = None,
        grace_s: float = 3.0,
        read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
        random: _random.Random | None = None,
        clock: Callable[[], float] = loop_time,
    ) -> None:
        _check_settings(
            max_concurrency=max_concurrency, deadline=deadline, read_timeout_s=read_timeout_s
        )
        # A number is a fixed worker count (and so a hard cap); None sizes the workers from
        # the pacers' rate and the latency (`ConcurrencySizer`) up to the policy's maximum.
        policy = concurrency or ConcurrencyPolicy()
        self._settings = ClientSettings(
            region=region,
            profile=profile,
            endpoint_url=endpoint_url,
            # The pool follows the workers' upper bound (botocore's 10 would cap it silently).
            max_pool_connections=max(max_concurrency or policy.maximum, 10),
            read_timeout_s=read_timeout_s,
        )
        if client is not None:
            warn_if_retrying(client)
        self._given_client = client
        self._retry = retry or RetryPolicy()
        self._pacing = pacing or Adaptive()
        self._brownout = brownout or BrownoutPolicy()
        self._circuit = circuit or CircuitPolicy()
        self._defaults = _RunSettings(
            deadline=deadline, journal=journal, features=dict(meeting_features or {})
        )
        self._progress: ProgressListener = progress or NullProgress()
        self._grace_s, self._random, self._clock = grace_s, random or _random.Random(), clock
        self._clients: ClientFactory | None = None
        self._sender: Sender | None = None
        self._run: _Run | None = None
        self._pacers = PacerSource(
            pacing=self._pacing, registry=pacers or shared_pacers, clock=self._clock
        )
        self._workforce = Workforce(
            fixed=max_concurrency, policy=policy, rate=lambda: self._pacers.rate, clock=clock
        )
        self._coordinator, self._stack = coordinator, cast("AsyncExitStack | None", None)

    async def __aenter__(self) -> Self:
        self._clients = ClientFactory(self._settings, client=self._given_client)
        self._pacers.account = (await self._clients.access_key_id(), self._clients.endpoint_url)
        self._pacers.default_region = self._clients.default_region
        if self._coordinator is not None:
            self._stack = AsyncExitStack()
            self._pacers.link = await self._stack.enter_async_context(self._coordinator.connect())
        self._sender = Sender(
            clients=self._clients,
            pacer_for=self._pacers.pacer,
            observe_latency=self._workforce.observe,
            retry=self._retry,
            progress=self._progress,
            random=self._random,
            clock=self._clock,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._sender = None
        if self._stack is not None:
            # Not shielded: the link's task group must be exited in its own cancel scope.
            stack, self._stack, self._pacers.link = self._stack, None, None
            await stack.aclose()
        if self._clients is not None:
            clients, self._clients = self._clients, None
            # Bounded: a connection that hangs on close must not hang the program.
            with anyio.move_on_after(CLEANUP_TIMEOUT_S, shield=True):
                await clients.aclose()

    # -- public ----------------------------------------------------------------------------

    @property
    def region(self) -> str | None:
        """The Region updates without one go to (from `region=`, the profile or the
        environment); `None` when nothing says. Known once the updater is entered."""
        return self._clients.default_region if self._clients is not None else None

    async def run(
        self,
        updates: Items | StatePlan,
        *,
        deadline: float | None = None,
        journal: JournalTarget | None = None,
        meeting_features: Mapping[str, MeetingFeatures] | None = None,
    ) -> Report:
        """Apply every update (or carry out a `StatePlan`); return the report in which each
        appears exactly once.

        `deadline` (seconds), `journal` and `meeting_features` override the updater's.
        """
        items, plan = _items_of(updates)
        builder = ReportBuilder(clock=self._clock)

        async def keep(index: int, result: AttendeeResult) -> None:
            builder.add(result, index=index)

        settings = self._settings_for(deadline, journal, meeting_features)
        async with self._session(settings) as run:
            run.plan = plan
            await self._drive(items, run, keep)
        assert run.intake is not None
        report = builder.build(total=run.intake.fed, traffic=self._traffic(run))
        self._finish(report, run)
        return report

    @asynccontextmanager
    async def stream(
        self,
        updates: Items | StatePlan,
        *,
        deadline: float | None = None,
        journal: JournalTarget | None = None,
        meeting_features: Mapping[str, MeetingFeatures] | None = None,
    ) -> AsyncIterator[ResultStream]:
        """Results as they finish; memory bounded by the concurrency, not the plan.

        Once the `async with` block is left, `results.summary` is the run's summary.
        `RunAborted` from a stream carries the summary of the whole run, and as `results`
        only the update that met the fatal error (the caller has been given the rest).
        """
        items, plan = _items_of(updates)
        builder = ReportBuilder(clock=self._clock, keep_results=False)
        send, receive = anyio.create_memory_object_stream[AttendeeResult](
            max_buffer_size=self._workforce.workers
        )

        async def forward(index: int, result: AttendeeResult) -> None:
            builder.add(result, index=index)
            # If the reader left early the run is being cancelled: nobody wants this result.
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await send.send(result)

        async def drive() -> None:
            async with send:
                await self._drive(items, run, forward)

        settings = self._settings_for(deadline, journal, meeting_features)
        async with self._session(settings) as run, unwrapped_group() as tg:
            run.plan = plan
            tg.start_soon(drive)
            results = ResultStream(receive)
            try:
                yield results
            finally:
                # Every result is out, or the reader left early: then stop the run at once.
                tg.cancel_scope.cancel()
                receive.close()
        report = builder.build(traffic=self._traffic(run))
        results.summary = report.summary
        if run.settler.fatal_result is not None:
            report = Report(results=[run.settler.fatal_result], summary=report.summary)
        self._finish(report, run)

    async def preflight(self) -> None:
        """Check the default Region, the credentials and the endpoint before sending anything;
        `PreflightFailed` (one clear message, `.code`, `.fatal`) when one of them is wrong.

        Optional: without it a run meets the same problems on its first requests and ends in
        `RunAborted`. A `client=` given is not checked.
        """
        if self._clients is None:
            raise RuntimeError("use BulkUpdater as `async with BulkUpdater(...) as bulk:`")
        await preflight(self._clients)

    async def list_attendees(
        self, meeting_id: str, *, region: str | None = None
    ) -> list[AttendeeState]:
        """Every attendee of a meeting with its current capabilities (never its JoinToken).

        Sent like updates (paced, retried, held at the brownout gate; during a run, the
        run's); raises `ListingFailed` when the meeting cannot be read.
        """
        return await list_attendees(self._reader(), meeting_id=meeting_id, region=region)

    async def meeting_features(
        self, meeting_id: str, *, region: str | None = None
    ) -> MeetingFeatures:
        """What the meeting allows (GetMeeting): a meeting created without video or content
        sharing rejects any capability but `None` for it. Sent like updates."""
        return await meeting_features(self._reader(), meeting_id=meeting_id, region=region)

    # -- state-aware operations ------------------------------------------------------------

    async def plan_mute(
        self,
        meeting_ids: Iterable[str],
        *,
        media: MediaSelection | Collection[str],
        except_attendees: HostsArg = (),
        strategy: Strategy = "auto",
        region: str | None = None,
        resume: Mapping[tuple[str, str], AttendeeResult] | None = None,
    ) -> StatePlan:
        """Read the meetings and plan taking sending away from `media` (e.g. `{"video"}`)
        for everyone but `except_attendees` (attendee IDs or ExternalUserIds, everywhere, or
        a mapping meeting → IDs). Sends nothing; `ListingFailed` if a meeting cannot be read.
        `resume` (from `load_journal`) keeps attendees already final as they are."""
        return await self._plan_sending(
            meeting_ids,
            SendingChange(
                media=MediaSelection.of(media), allow_send=False, hosts=Hosts.of(except_attendees)
            ),
            strategy=strategy,
            region=region,
            resume=resume,
        )

    async def plan_unmute(
        self,
        meeting_ids: Iterable[str],
        *,
        media: MediaSelection | Collection[str],
        except_attendees: HostsArg = (),
        strategy: Strategy = "auto",
        region: str | None = None,
        resume: Mapping[tuple[str, str], AttendeeResult] | None = None,
    ) -> StatePlan:
        """`plan_mute`, giving sending back instead (receiving is left as it is)."""
        return await self._plan_sending(
            meeting_ids,
            SendingChange(
                media=MediaSelection.of(media), allow_send=True, hosts=Hosts.of(except_attendees)
            ),
            strategy=strategy,
            region=region,
            resume=resume,
        )

    async def plan_restore(self, report: Report, *, strategy: Strategy = "auto") -> StatePlan:
        """Read the meetings `report` changed and plan putting back each attendee's previous
        capabilities; attendees already back are `unchanged`, those changed by someone else
        since are not overwritten (`failed`, `ChangedSinceRun`), those gone `not_found`."""
        plan, without_previous = await plan_restore(
            self._reader(), report, strategy=strategy, concurrency=self._workforce.workers
        )
        return dataclasses.replace(plan, without_previous=without_previous)

    async def mute(
        self,
        meeting_ids: Iterable[str],
        *,
        media: MediaSelection | Collection[str],
        except_attendees: HostsArg = (),
        strategy: Strategy = "auto",
        region: str | None = None,
        deadline: float | None = None,
        journal: JournalTarget | None = None,
    ) -> Report:
        """Stop everyone but `except_attendees` sending `media` in whole meetings, with the
        fewest requests, verified afterwards: `run(await plan_mute(...))`.

        >>> await bulk.mute(ids, media={"video"}, except_attendees={host})  # doctest: +SKIP
        """
        plan = await self.plan_mute(
            meeting_ids,
            media=media,
            except_attendees=except_attendees,
            strategy=strategy,
            region=region,
        )
        return await self.run(plan, deadline=deadline, journal=journal)

    async def unmute(
        self,
        meeting_ids: Iterable[str],
        *,
        media: MediaSelection | Collection[str],
        except_attendees: HostsArg = (),
        strategy: Strategy = "auto",
        region: str | None = None,
        deadline: float | None = None,
        journal: JournalTarget | None = None,
    ) -> Report:
        """Let everyone but `except_attendees` send `media` again: `run(await plan_unmute(...))`."""
        plan = await self.plan_unmute(
            meeting_ids,
            media=media,
            except_attendees=except_attendees,
            strategy=strategy,
            region=region,
        )
        return await self.run(plan, deadline=deadline, journal=journal)

    async def restore(
        self,
        report: Report,
        *,
        strategy: Strategy = "auto",
        deadline: float | None = None,
        journal: JournalTarget | None = None,
    ) -> Report:
        """Put back exactly what `report`'s run changed: `run(await plan_restore(report))`."""
        plan = await self.plan_restore(report, strategy=strategy)
        return await self.run(plan, deadline=deadline, journal=journal)

    async def _plan_sending(
        self,
        meeting_ids: Iterable[str],
        change: SendingChange,
        *,
        strategy: Strategy,
        region: str | None,
        resume: Mapping[tuple[str, str], AttendeeResult] | None,
    ) -> StatePlan:
        if isinstance(meeting_ids, str):
            meeting_ids = [meeting_ids]
        return await plan_sending(
            self._reader(),
            meeting_ids,
            change=change,
            strategy=strategy,
            region=region,
            concurrency=self._workforce.workers,
            resumed=resume,
        )

    def request_stop(self, *, grace_s: float | None = None) -> None:
        """Stop dispatching; requests in flight get `grace_s` to finish, the rest are cancelled.

        Safe to call from a signal handler task; a no-op when no run is going.
        """
        if self._run is not None:
            self._run.state.stop(grace_s=self._grace_s if grace_s is None else grace_s)

    # -- the run ---------------------------------------------------------------------------

    def _settings_for(
        self,
        deadline: float | None,
        journal: JournalTarget | None,
        features: Mapping[str, MeetingFeatures] | None,
    ) -> _RunSettings:
        _check_deadline(deadline)
        defaults = self._defaults
        return _RunSettings(
            deadline=defaults.deadline if deadline is None else deadline,
            journal=defaults.journal if journal is None else journal,
            features=defaults.features if features is None else dict(features),
        )

    def _new_state(self) -> RunState:
        return new_run_state(brownout=self._brownout, circuit=self._circuit, clock=self._clock)

    @asynccontextmanager
    async def _session(self, settings: _RunSettings) -> AsyncIterator[_Run]:
        """The updater's one run at a time: released however the run ends or fails to start."""
        if self._clients is None:
            raise RuntimeError("use BulkUpdater as `async with BulkUpdater(...) as bulk:`")
        if self._run is not None:
            raise RuntimeError("one run at a time per BulkUpdater")
        state = self._new_state()
        sender = self._sending()

        async def read(request: Request) -> Outcome:
            return await sender.perform(state, request)

        meetings = MeetingWatch(
            read=read, clock=self._clock, default_region=self._clients.default_region
        )
        settler = Settler(
            sender=sender,
            state=state,
            features=settings.features,
            meetings=meetings,
            clock=self._clock,
        )
        self._run = run = _Run(state=state, settings=settings, settler=settler)
        self._pacers.gate = state.gate  # its pauses are not spells to learn the quota from
        try:
            yield run
        finally:
            self._run = self._pacers.gate = None
            state.gate.release()

    def _reader(self) -> Callable[[Request], Awaitable[Outcome]]:
        """Sends reads through the current run (its gate and stop), or a state of their own."""
        state = self._run.state if self._run is not None else self._new_state()

        async def send(request: Request) -> Outcome:
            return await self._sending().perform(state, request)

        return send

    @staticmethod
    def _traffic(run: _Run) -> Traffic:
        """The run's traffic for its summary, with what the circuit breaker went through."""
        traffic, circuit = run.state.traffic, run.state.circuit
        traffic.circuit_pauses = circuit.pauses
        traffic.sick_s = circuit.sick_for()
        return traffic

    def _finish(self, report: Report, run: _Run) -> None:
        self._progress.on_finish(report.summary)
        circuit = run.state.circuit
        _log.info(
            "run finished",
            **_summary_fields(report),
            brownouts=run.state.gate.pauses,
            circuit_pauses=circuit.pauses,
            sick_s=round(circuit.sick_for(), 3),
        )
        fatal = run.state.fatal
        if fatal is not None:
            message = None
            if fatal.code == SERVICE_UNHEALTHY:
                # Not an error of any one update: say what the circuit breaker saw.
                cancelled = report.summary.count(Status.CANCELLED)
                message = (
                    f"run aborted ({fatal.code}): {fatal.message}; "
                    f"{cancelled} of {report.summary.total} updates cancelled"
                )
            raise RunAborted(report=report, error_code=fatal.code, message=message)

    async def _drive(self, updates: Items, run: _Run, sink: Sink) -> None:
        """Settle every update with `max_concurrency` workers; each result goes to the
        journal, the progress listener and `sink`, exactly once."""
        journal, owned = _open_journal(run.settings.journal)
        try:
            total = run.plan.total if run.plan is not None else total_of(updates)
            self._progress.on_start(total=total)
            run.intake = intake = PlanIntake(updates)

            async def deliver(index: int, result: AttendeeResult) -> None:
                # A result a fatal error ended (401/403…) is left out of the journal, so a
                # resume with good credentials sends it again.
                if journal is not None and not run.settler.ended_by_fatal_error(result):
                    journal.record(index, result)
                self._progress.on_result(result)
                await sink(index, result)

            with self._workforce.run():
                async with unwrapped_group() as tg:
                    if run.settings.deadline is not None:
                        tg.start_soon(self._stop_at_deadline, run.state, run.settings.deadline)
                    async with unwrapped_group() as workers:
                        for _ in range(self._workforce.workers):
                            workers.start_soon(self._work, run, intake, deliver)
                    tg.cancel_scope.cancel()  # all settled: nothing left for the deadline
        finally:
            if journal is not None:
                # Shielded and bounded: a cancelled run still keeps what it learned.
                await (journal.aclose() if owned else journal.aflush())

    async def _stop_at_deadline(self, state: RunState, seconds: float) -> None:
        await anyio.sleep(seconds)
        _log.warning("deadline passed; cancelling what is left", deadline_s=seconds)
        state.stop(grace_s=self._grace_s)

    async def _work(
        self,
        run: _Run,
        intake: PlanIntake,
        deliver: Callable[[int, AttendeeResult], Awaitable[None]],
    ) -> None:
        # A worker takes the next update only when it is free, so nothing piles up.
        async def step() -> bool:
            job = await intake.next()
            if job is None:
                return False
            index, item = job
            if isinstance(item, AttendeeResult):
                await deliver(index, item)
            elif isinstance(item, BatchExcept):
                await self._deliver_batch(run, intake, deliver, index=index, batch=item)
            else:
                await deliver(index, await run.settler.update(item))
            return True

        await self._workforce.work(step)

    async def _deliver_batch(
        self,
        run: _Run,
        intake: PlanIntake,
        deliver: Callable[[int, AttendeeResult], Awaitable[None]],
        *,
        index: int,
        batch: BatchExcept,
    ) -> None:
        results = await settle_verified(
            batch, settler=run.settler, read=self._reader(), plan=run.plan
        )
        # Attendees who joined during the run get indexes of their own.
        extra = len(results) - len(batch.members)
        first_extra = intake.allocate(extra) if extra > 0 else index
        for offset, result in enumerate(results):
            where = index + offset if offset < len(batch.members) else first_extra
            first_extra += offset >= len(batch.members)
            await deliver(where, result)

    def _sending(self) -> Sender:
        if self._sender is None:
            raise RuntimeError("use BulkUpdater as `async with BulkUpdater(...) as bulk:`")
        return self._sender


class ResultStream:
    """What `stream()` yields: the results as they finish (an async iterator), and, once the
    stream's block is left, the run's `summary`."""

    def __init__(self, receive: AsyncIterator[AttendeeResult]) -> None:
        self._receive = receive
        self.summary: Summary | None = None

    def __aiter__(self) -> ResultStream:
        return self

    async def __anext__(self) -> AttendeeResult:
        return await anext(self._receive)


def _items_of(updates: Items | StatePlan) -> tuple[Items, StatePlan | None]:
    """What the workers pull, and the state-aware plan behind it, if any."""
    if isinstance(updates, StatePlan):
        return updates.items(), updates
    check_items(updates)
    return updates, None


def _check_settings(
    *, max_concurrency: int | None, deadline: float | None, read_timeout_s: float
) -> None:
    if max_concurrency is not None and max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    _check_deadline(deadline)
    if not read_timeout_s > 0:
        raise ValueError(f"read_timeout_s must be positive seconds, got {read_timeout_s}")


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and not deadline > 0:
        raise ValueError(f"deadline must be positive seconds, got {deadline}")


def _open_journal(target: JournalTarget | None) -> tuple[Journal | None, bool]:
    """The run's journal, and whether the run opened it (and so must close it)."""
    if target is None or isinstance(target, Journal):
        return target, False
    return Journal.open(target), True


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
