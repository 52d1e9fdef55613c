"""Run a batch of updates for a command: progress, signals, report file, summary, exit code.

Every changing command (`apply`, `mute`, `unmute`, `restore`, `demo`) ends here, so they all
behave alike: a dry run lists what would be sent and sends nothing; Ctrl-C once stops
dispatching and lets requests in flight finish, twice cancels them too, and either way the
report and journal are written and the exit code is 130.
"""

from __future__ import annotations

import signal
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import anyio
import click
from rich.console import Console

from .._aws.clients import NO_REGION
from .._engine.intake import Item
from .._engine.updater import BulkUpdater
from .._io.journal import Journal
from .._io.result_spool import ResultSpool
from .._model.errors import ConfigurationError, ListingFailed, RunAborted
from .._model.report import Report, ReportBuilder
from .._model.results import AttendeeResult, Status
from .._model.update import BatchExcept, Update
from .._policy.classification import ErrorKind
from ..progress import FanOut, ProgressListener
from ..state_aware import StatePlan
from .common import CommonOptions, ExitCode
from .output import JsonLines, ProgressBar, print_error, print_summary

__all__ = ["RunRequest", "execute", "finish"]

#: How long requests in flight may take to finish after the first Ctrl-C.
_INTERRUPT_GRACE_S = 15.0

#: Reads what to do once a client exists (state-aware commands list attendees first).
ItemSource = Callable[[BulkUpdater], Awaitable[Iterable[Item] | StatePlan]]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    """What a command wants run and where its results go."""

    items: ItemSource
    common: CommonOptions
    report_path: str | None
    json_lines: bool
    title: str
    dry_run: bool = False
    journal: Journal | None = None
    #: Where results go, on disk, in plan order (apply); None keeps the report in memory.
    spool: ResultSpool | None = None


@dataclass(slots=True)
class _Interrupts:
    count: int = 0


async def _watch_signals(bulk: BulkUpdater, interrupts: _Interrupts, console: Console) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            interrupts.count += 1
            if interrupts.count == 1:
                console.print(
                    "[yellow]interrupted: finishing requests in flight, then writing the report "
                    "(Ctrl-C again to stop at once)[/]"
                )
                bulk.request_stop(grace_s=_INTERRUPT_GRACE_S)
            else:
                bulk.request_stop(grace_s=0)


def _listeners(
    request: RunRequest, console: Console
) -> tuple[list[ProgressListener], ProgressBar | None]:
    listeners: list[ProgressListener] = []
    bar: ProgressBar | None = None
    common = request.common
    if common.progress and not common.quiet and console.is_terminal and not request.dry_run:
        bar = ProgressBar(console=console, description=request.title)
        listeners.append(bar)
    if request.json_lines:
        listeners.append(JsonLines())
    return listeners, bar


def _planned(item: Item) -> list[AttendeeResult]:
    if isinstance(item, AttendeeResult):
        return [item]
    updates = item.members if isinstance(item, BatchExcept) else (item,)
    return [AttendeeResult.unsent(update, Status.PLANNED) for update in updates]


def _dry_run(
    items: Iterable[Item] | StatePlan,
    *,
    json_lines: bool,
    console: Console,
    spool: ResultSpool | None = None,
) -> Report:
    """The report a run would start from: `planned` for what would be sent; nothing is sent."""
    builder: ReportBuilder | ResultSpool = ReportBuilder() if spool is None else spool
    if isinstance(items, StatePlan):
        for meeting in items.meetings:
            console.print(meeting.describe(), highlight=False)
        items = items.items()
    listener = JsonLines() if json_lines else None
    planned = requests = 0
    for item in items:
        if isinstance(item, BatchExcept):
            requests += 1
            console.print(
                f"one BatchUpdateAttendeeCapabilitiesExcept for meeting {item.meeting_id}: "
                f"{len(item.members)} attendee(s), {len(item.excluded_ids)} left out",
                highlight=False,
            )
        elif isinstance(item, Update):
            requests += 1
        for result in _planned(item):
            builder.add(result, index=len(builder))
            planned += result.status is Status.PLANNED
            if listener is not None:
                listener.on_result(result)
            elif result.status is Status.PLANNED:
                where = f" in {result.region}" if result.region else ""
                was = f" (now {result.previous})" if result.previous else ""
                click.echo(
                    f"would set meeting {result.meeting_id} attendee {result.attendee_id} "
                    f"to {result.desired}{was}{where}"
                )
    console.print(
        f"[bold yellow]DRY RUN[/]: {planned} attendee(s) would change in {requests} "
        "request(s); nothing was sent."
    )
    return builder.build()


async def execute(request: RunRequest, *, console: Console) -> ExitCode:
    """Run `request`, write its report, print its summary; the exit code says how it went."""
    listeners, bar = _listeners(request, console)
    try:
        async with BulkUpdater(
            **request.common.updater_kwargs(),
            progress=FanOut(*listeners),
            journal=request.journal,
        ) as bulk:
            return await _execute(request, bulk, bar=bar, console=console)
    except ConfigurationError as error:  # before anything is sent: the client cannot be made
        print_error(console, f"{error}; nothing was sent")
        return ExitCode.USAGE


async def _execute(
    request: RunRequest, bulk: BulkUpdater, *, bar: ProgressBar | None, console: Console
) -> ExitCode:
    if bulk.region is None:
        print_error(console, f"{NO_REGION}; nothing was sent")
        return ExitCode.USAGE
    try:
        items = await request.items(bulk)
    except ListingFailed as error:
        print_error(console, f"{error}; nothing was sent")
        failure = error.failure
        stopped = failure.kind is ErrorKind.FATAL or failure.unreachable
        return ExitCode.ABORTED if stopped else ExitCode.USAGE
    interrupts = _Interrupts()
    aborted: RunAborted | None = None
    if request.dry_run:
        report = _dry_run(
            items, json_lines=request.json_lines, console=console, spool=request.spool
        )
    else:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_watch_signals, bulk, interrupts, console)
            try:
                if bar is not None:
                    with bar:
                        report = await _run(bulk, items, request.spool)
                else:
                    report = await _run(bulk, items, request.spool)
            except RunAborted as error:
                aborted = error
                report = error.report
            tg.cancel_scope.cancel()
    return finish(
        report,
        console=console,
        common=request.common,
        report_path=request.report_path,
        title="dry run" if request.dry_run else request.title,
        aborted=aborted,
        interrupted=interrupts.count > 0,
    )


async def _run(
    bulk: BulkUpdater, items: Iterable[Item] | StatePlan, spool: ResultSpool | None
) -> Report:
    """The run's report: in memory from `run()`, or (with a spool) streamed to disk, so that
    memory is bounded by the concurrency, not by the plan."""
    if spool is None:
        return await bulk.run(items)
    try:
        async with bulk.stream(items) as results:
            async for result in results:
                spool.add(result)
    except RunAborted as error:
        # The stream's report holds only the update that met the fatal error.
        for result in error.report.results:
            spool.add(result)
        raise RunAborted(spool.build(), error_code=error.error_code, message=str(error)) from None
    return spool.build()


def _write_report(report: Report, path: Path, *, console: Console) -> None:
    """Write the report; if that fails (disk full, folder gone), keep it somewhere else."""
    try:
        report.write(path)
    except OSError as error:
        fallback = Path(tempfile.mkstemp(prefix="chime-bulk-report-", suffix=path.suffix)[1])
        report.write(fallback)
        print_error(
            console, f"cannot write the report to {path} ({error.strerror}); it is in {fallback}"
        )


def finish(
    report: Report,
    *,
    console: Console,
    common: CommonOptions,
    report_path: str | None,
    title: str,
    aborted: RunAborted | None = None,
    interrupted: bool = False,
) -> ExitCode:
    """Write the report, show the summary, and choose the exit code."""
    if report_path is not None:
        _write_report(report, Path(report_path), console=console)
    print_summary(report, console=console, report_path=report_path, title=title)
    if aborted is not None:
        print_error(console, str(aborted))
        return ExitCode.ABORTED
    if interrupted:
        console.print("[yellow]interrupted[/]: the report lists what did not finish as cancelled")
        return ExitCode.INTERRUPTED
    if report.ok:
        return ExitCode.OK
    if console.quiet:  # the summary above was silent; a failing exit code never is
        failed = report.failed()
        counts = Counter(result.status.value for result in failed)
        detail = ", ".join(f"{status} {count}" for status, count in sorted(counts.items()))
        where = f"; see {report_path}" if report_path else ""
        print_error(console, f"{len(failed)} update(s) did not succeed ({detail}){where}")
    return ExitCode.SOME_FAILED
