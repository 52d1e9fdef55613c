"""Run a batch of updates for a command: progress, signals, report file, summary, exit code.

Every changing command (`apply`, `mute`, `unmute`, `restore`, `demo`) ends here, so they all
behave alike: a dry run lists what would be sent and sends nothing; Ctrl-C once stops
dispatching and lets requests in flight finish, twice cancels them too, and either way the
report and journal are written and the exit code is 130. A Ctrl-C before the run starts
(client setup, listing meetings) exits 130 and sends nothing.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import anyio
import click
from rich.console import Console

from .._aws.clients import NO_REGION
from .._engine.intake import Item
from .._engine.updater import BulkUpdater
from .._io.journal import Journal
from .._io.result_spool import ResultSpool
from .._model.errors import ConfigurationError, ListingFailed, PreflightFailed, RunAborted
from .._model.report import Report, ReportBuilder
from .._model.results import AttendeeResult, Status
from .._model.update import BatchExcept, Update
from .._policy.classification import ErrorKind
from ..progress import FanOut, NullProgress, ProgressListener
from ..state_aware import StatePlan
from .common import CommonOptions, ExitCode
from .output import JsonLines, ProgressBar, ProgressLines, print_error, print_summary

__all__ = ["RunRequest", "execute", "finish"]

#: How long requests in flight may take to finish after the first Ctrl-C.
_INTERRUPT_GRACE_S = 15.0

#: How often the signal watcher looks at the count the handler keeps.
_SIGNAL_POLL_S = 0.05

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


class _Signals:
    """SIGINT and SIGTERM from the start of a command to the end of the process.

    The handler only counts, so a signal can never raise in the middle of writing the report
    or the journal (Python's default raises KeyboardInterrupt anywhere; anyio's signal
    receiver covers only the time it is open, and asyncio resets SIGINT to that default when
    it closes). A task acts on the count: before the run it cancels the setup (nothing was
    sent), during the run it stops the run, after it nothing is left to stop.
    """

    def __init__(self, *, console: Console) -> None:
        self.count = 0
        self.setup = anyio.CancelScope()  # client setup and listing, until the run starts
        self.running: BulkUpdater | None = None
        self._acted_on = 0
        self._console = console

    def install(self) -> None:
        _set_handlers(self._count)

    def ignore_from_now(self) -> None:
        """Ignore any later signal: everything is written and the exit code chosen.

        Ignored, not counted: Python resets counting handlers to the default while it shuts
        down, and a signal then would kill the process instead of letting it exit with its
        code. An ignored signal stays ignored through the shutdown.
        """
        _set_handlers(signal.SIG_IGN)

    def _count(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1

    async def watch(self) -> None:
        # Polled rather than woken: the handler may run between any two bytecodes, where
        # touching the event loop or a cancel scope is not safe.
        while True:
            await anyio.sleep(_SIGNAL_POLL_S)
            if self.count > self._acted_on:
                first = self._acted_on == 0
                self._acted_on = self.count
                self._act(first=first)

    def _act(self, *, first: bool) -> None:
        bulk = self.running
        if bulk is None:
            self.setup.cancel()  # a no-op once the run has started or ended
            return
        if first:
            self._console.print(
                "[yellow]interrupted: finishing requests in flight, then writing the report "
                "(Ctrl-C again to stop at once)[/]"
            )
        if self.count == 1:
            bulk.request_stop(grace_s=_INTERRUPT_GRACE_S)
        else:
            bulk.request_stop(grace_s=0)


def _set_handlers(handler: Callable[[int, FrameType | None], None] | signal.Handlers) -> None:
    # Left as set when the command ends: it exits right after. Only the main thread may
    # set handlers; elsewhere (a library caller's thread) signals stay theirs.
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, handler)
    except ValueError:
        pass


class _Seen(NullProgress):
    """Every result the run has delivered, for a report if the run itself fails."""

    def __init__(self) -> None:
        self.results: list[AttendeeResult] = []

    def on_result(self, result: AttendeeResult) -> None:
        self.results.append(result)

    def report(self) -> Report:
        builder = ReportBuilder()
        for index, result in enumerate(self.results):
            builder.add(result, index=index)
        return builder.build()


def _listeners(
    request: RunRequest, console: Console
) -> tuple[list[ProgressListener], ProgressBar | ProgressLines | None]:
    listeners: list[ProgressListener] = []
    bar: ProgressBar | ProgressLines | None = None
    common = request.common
    if common.progress and not common.quiet and not request.dry_run:
        if console.is_terminal:
            bar = ProgressBar(console=console, description=request.title)
        else:  # a pipe, a CI log, cron, or json log format: a line every few seconds
            bar = ProgressLines(
                console=console,
                description=request.title,
                interval_s=common.progress_interval_s,
            )
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
    """Run `request`, write its report, print its summary; the exit code says how it went.

    Takes over SIGINT and SIGTERM for the rest of the process (the commands exit right after),
    so that no signal, at any moment, can cut the report or the journal short.
    """
    listeners, bar = _listeners(request, console)
    seen = _Seen()
    signals = _Signals(console=console)
    signals.install()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(signals.watch)
            try:
                async with BulkUpdater(
                    **request.common.updater_kwargs(),
                    progress=FanOut(*listeners, seen),
                    journal=request.journal,
                ) as bulk:
                    code = await _execute(
                        request, bulk, signals=signals, seen=seen, bar=bar, console=console
                    )
            except ConfigurationError as error:  # before anything is sent: no client
                print_error(console, f"{error}; nothing was sent")
                code = ExitCode.USAGE
            finally:
                tg.cancel_scope.cancel()
    finally:
        signals.ignore_from_now()
    return code


async def _run_or_plan(
    request: RunRequest,
    bulk: BulkUpdater,
    items: Iterable[Item] | StatePlan,
    *,
    signals: _Signals,
    seen: _Seen,
    bar: ProgressBar | ProgressLines | None,
    console: Console,
) -> tuple[Report, RunAborted | None, Exception | None]:
    """The dry run's report, or the run's: with the fatal error that aborted it, or the
    unexpected one that stopped it (then the report holds what had finished)."""
    if request.dry_run:
        report = _dry_run(
            items, json_lines=request.json_lines, console=console, spool=request.spool
        )
        return report, None, None
    aborted: RunAborted | None = None
    failed: Exception | None = None
    # No await between here and the run's start, so a stop cannot fall between the two.
    signals.running = bulk
    try:
        if bar is not None:
            with bar:
                report = await _run(bulk, items, request.spool)
        else:
            report = await _run(bulk, items, request.spool)
    except RunAborted as error:
        aborted = error
        report = error.report
    except Exception as error:  # a bug or a full disk: still keep what has finished
        failed = error
        report = seen.report()
    finally:
        signals.running = None
    return report, aborted, failed


async def _execute(
    request: RunRequest,
    bulk: BulkUpdater,
    *,
    signals: _Signals,
    seen: _Seen,
    bar: ProgressBar | ProgressLines | None,
    console: Console,
) -> ExitCode:
    with signals.setup:
        if bulk.region is None:
            print_error(console, f"{NO_REGION}; nothing was sent")
            return ExitCode.USAGE
        if not request.dry_run:
            checked = await _preflight(bulk, console=console)
            if checked is not None:
                return checked
        try:
            items = await request.items(bulk)
        except ListingFailed as error:
            print_error(console, f"{error}; nothing was sent")
            failure = error.failure
            stopped = failure.kind is ErrorKind.FATAL or failure.unreachable
            return ExitCode.ABORTED if stopped else ExitCode.USAGE
    if signals.count:  # the count, not the scope: a signal may have come as the listing ended
        console.print("[yellow]interrupted[/] before the run started; nothing was sent")
        return ExitCode.INTERRUPTED
    report, aborted, failed = await _run_or_plan(
        request, bulk, items, signals=signals, seen=seen, bar=bar, console=console
    )
    if request.report_path is not None:
        _write_report(report, Path(request.report_path), console=console)
    if request.journal is not None:
        _close_journal(request.journal, console=console)
    title = "dry run" if request.dry_run else request.title
    print_summary(report, console=console, report_path=request.report_path, title=title)
    if failed is not None:
        where = f"; the report {request.report_path} lists them" if request.report_path else ""
        print_error(
            console,
            f"the run stopped on an unexpected error ({type(failed).__name__}: {failed}); "
            f"{len(report.results)} update(s) had finished{where}",
        )
        return ExitCode.ABORTED
    return _exit_code(
        report,
        console=console,
        report_path=request.report_path,
        aborted=aborted,
        interrupted=signals.count > 0,  # counted after the writes: one during them counts too
    )


async def _preflight(bulk: BulkUpdater, *, console: Console) -> ExitCode | None:
    """Region, credentials and endpoint, before any update is taken from the plan: one line
    and exit 2 (Region) or 3 (credentials, unreachable endpoint) instead of a run of failures."""
    try:
        await bulk.preflight()
    except PreflightFailed as error:
        print_error(console, f"{error}; nothing was sent")
        return ExitCode.ABORTED if error.fatal else ExitCode.USAGE
    return None


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
        report = spool.build(run=error.report.summary)
        raise RunAborted(report, error_code=error.error_code, message=str(error)) from None
    return spool.build(run=results.summary)


def _write_report(report: Report, path: Path, *, console: Console) -> None:
    """Write the report; if that fails (disk full, folder gone), keep it somewhere else."""
    try:
        report.write(path)
    except OSError as error:
        try:
            fallback = _write_fallback(report, suffix=path.suffix)
        except OSError as second:
            print_error(
                console,
                f"cannot write the report to {path} ({error.strerror}) nor to a temporary "
                f"file ({second.strerror}); the summary below is all that is left of it",
            )
            return
        print_error(
            console, f"cannot write the report to {path} ({error.strerror}); it is in {fallback}"
        )


def _write_fallback(report: Report, *, suffix: str) -> str:
    """Write the report to a new temporary file and return its name."""
    fd, name = tempfile.mkstemp(prefix="chime-bulk-report-", suffix=suffix)
    os.close(fd)  # only the name is wanted: the report is written by name, atomically
    try:
        report.write(name)
    except OSError:
        os.unlink(name)
        raise
    return name


def _close_journal(journal: Journal, *, console: Console) -> None:
    """Flush, fsync and close the journal; a failure is an error line, not a traceback."""
    try:
        journal.close()
    except OSError as error:
        print_error(console, f"cannot finish the journal {journal.path} ({error.strerror})")


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
    return _exit_code(
        report, console=console, report_path=report_path, aborted=aborted, interrupted=interrupted
    )


def _exit_code(
    report: Report,
    *,
    console: Console,
    report_path: str | None,
    aborted: RunAborted | None,
    interrupted: bool,
) -> ExitCode:
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
