"""Run a batch of updates for a command: progress, signals, report file, summary, exit code.

Every changing command (`apply`, `demo`, `restore`, `mute`, `unmute`) ends here, so they all
behave alike: Ctrl-C once stops dispatching and lets requests in flight finish, twice cancels
them too, and either way the report and journal are written and the exit code is 130.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog
from rich.console import Console

from ..engine import BulkUpdater, Item
from ..errors import RunAborted
from ..journal import Journal
from ..progress import ProgressListener
from ..report import Report
from .common import CommonOptions, ExitCode
from .output import JsonLines, Listeners, ProgressBar, print_summary

__all__ = ["RunRequest", "execute"]

_log = structlog.get_logger("chime_bulk.cli")

#: How long requests in flight may take to finish after the first Ctrl-C.
_INTERRUPT_GRACE_S = 15.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRequest:
    """What a command wants run and where its results go."""

    items: Iterable[Item]
    total: int | None
    common: CommonOptions
    report_path: str | None
    json_lines: bool
    title: str
    journal: Journal | None = None


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


async def execute(request: RunRequest, *, console: Console) -> ExitCode:
    """Run `request`, write its report, print its summary; the exit code says how it went."""
    common = request.common
    listeners: list[ProgressListener] = []
    bar: ProgressBar | None = None
    if common.progress and not common.quiet and console.is_terminal:
        bar = ProgressBar(console=console, description=request.title)
        listeners.append(bar)
    if request.json_lines:
        listeners.append(JsonLines())
    interrupts = _Interrupts()
    aborted: RunAborted | None = None
    async with (
        BulkUpdater(
            **common.updater_kwargs(), progress=Listeners(*listeners), journal=request.journal
        ) as bulk,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(_watch_signals, bulk, interrupts, console)
        try:
            if bar is not None:
                with bar:
                    report = await bulk.run(request.items)
            else:
                report = await bulk.run(request.items)
        except RunAborted as error:
            aborted = error
            report = error.report
        tg.cancel_scope.cancel()
    return finish(
        report,
        console=console,
        common=common,
        report_path=request.report_path,
        title=request.title,
        aborted=aborted,
        interrupted=interrupts.count > 0,
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
        report.write(Path(report_path))
    if not common.quiet:
        print_summary(report, console=console, report_path=report_path, title=title)
    if aborted is not None:
        console.print(f"[red]error:[/] {aborted}", highlight=False)
        return ExitCode.ABORTED
    if interrupted:
        console.print("[yellow]interrupted[/]: the report lists what did not finish as cancelled")
        return ExitCode.INTERRUPTED
    return ExitCode.OK if report.ok else ExitCode.SOME_FAILED
