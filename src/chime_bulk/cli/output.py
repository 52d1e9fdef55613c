"""Everything the CLI shows a person — on stderr — and how it configures logging.

stdout carries only machine-readable output (`--json` result lines, dry-run plans); progress,
logs, summaries and errors go to stderr through one rich console, so a pipeline never sees
them and a person always does (errors even with `--quiet`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections import Counter
from typing import IO, Any, Literal

import structlog
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from .._model.errors import PlanError
from .._model.report import Report
from .._model.results import AttendeeResult, Status
from .._model.summary import Summary
from .._policy.classification import ErrorKind, Failure
from ..progress import NullProgress

__all__ = [
    "JsonLines",
    "ProgressBar",
    "configure_logging",
    "print_error",
    "print_problems",
    "print_summary",
    "print_warning",
    "stderr_console",
]

LogFormat = Literal["console", "json"]


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is *now*, so a live progress bar can redirect logs."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def stderr_console(*, quiet: bool = False) -> Console:
    """The console for people. Rich follows `sys.stderr` itself (and sees a terminal as one);
    long lines are not wrapped, so IDs stay whole for grep."""
    return Console(stderr=True, highlight=False, soft_wrap=True, quiet=quiet)


def print_error(console: Console, message: str) -> None:
    """An error line on stderr, even when `console` is quiet; the message is text, never
    markup (it may quote input)."""
    if console.quiet:
        console = stderr_console()
    console.print(f"[red]error:[/] {escape(message)}", highlight=False)


#: Problems shown in full: a few of each kind, a handful in all; the rest are counted by kind,
#: so a wholly wrong file reads in a glance instead of scrolling for minutes.
_SHOWN_PROBLEMS = 10
_SHOWN_PER_KIND = 3

#: How the rest of a kind of problem is summed up: "… and 7,633 more lines that are not UTF-8".
_KIND_PHRASES: tuple[tuple[str, str], ...] = (
    ("not UTF-N", "that are not UTF-8 text"),  # kinds have their numbers taken out
    ("binary data", "of binary data"),
    ("line is N bytes long", "that are too long"),
    ("not valid JSON", "that are not valid JSON"),
    ("not valid CSV", "that are not valid CSV"),
    ("expected N fields", "with a missing or extra field"),
    ("unknown key", "with an unknown key"),
    ("is not a capability", "with a value that is not a capability"),
    ("is not a valid Chime ID", "with an ID that is not a Chime ID"),
)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]")
_NUMBER = re.compile(r"\d[\d,]*")


def _kind(message: str) -> str:
    """A problem's kind: its message with the values it quotes and its numbers taken out."""
    return _NUMBER.sub("N", _QUOTED.sub("…", message))


def _phrase(kind: str) -> str:
    return next((text for key, text in _KIND_PHRASES if key in kind), f"like: {kind}")


def print_problems(console: Console, error: PlanError, *, what: str, skipped: bool = False) -> None:
    """The problems of an input file, one line each: a few of every kind in full, the rest
    counted by kind. One problem is one line; `skipped` reports lines `--skip-invalid`
    left out (a warning: the run goes on)."""
    problems = error.problems
    if console.quiet and not skipped:
        console = stderr_console()  # errors, even with --quiet
    if len(problems) == 1 and not skipped:
        print_error(console, f"{problems[0]}; nothing was sent")
        return
    lines = len({problem.line for problem in problems if problem.line is not None})
    if skipped:
        print_warning(
            console,
            f"--skip-invalid skipped {lines:,} line(s) of {what} with no attendee to report:",
        )
    else:
        where = f" on {lines:,} line(s)" if lines else ""
        print_error(console, f"{what} has {len(problems):,} problem(s){where}; nothing was sent")
    shown: Counter[str] = Counter()
    printed: set[int | None] = set()
    rest: dict[str, set[int | None]] = {}
    for problem in problems:
        kind = _kind(problem.message)
        if shown.total() < _SHOWN_PROBLEMS and shown[kind] < _SHOWN_PER_KIND:
            shown[kind] += 1
            printed.add(problem.line)
            console.print(str(problem), markup=False, highlight=False)
        elif problem.line not in printed or problem.line is None:
            # Counted by line, not by problem: "… and 297 more lines", each counted once.
            rest.setdefault(_phrase(kind), set()).add(problem.line)
    for phrase, lines_of_kind in sorted(rest.items(), key=lambda item: -len(item[1])):
        count = len(lines_of_kind)
        console.print(
            f"… and {count:,} more line{'s' if count > 1 else ''} {phrase}",
            markup=False,
            highlight=False,
        )


def print_warning(console: Console, message: str) -> None:
    console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


def configure_logging(*, log_format: LogFormat, quiet: bool, verbose: int) -> None:
    """The application's structlog setup: events to stderr, level from the flags.

    Default is warnings and errors only (retries are summed up in the progress bar and the
    summary); `-v` shows retries and the run summary, `-vv` every attempt.
    """
    if quiet:
        level = logging.ERROR
    else:
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


class ProgressBar(NullProgress):
    """A rich progress bar on stderr: done/total, rate, throttles, retries, ETA."""

    def __init__(self, *, console: Console, description: str) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>6.1f}/s"),
            TextColumn("throttled {task.fields[throttled]}  retried {task.fields[retried]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            redirect_stderr=True,
            transient=False,
        )
        self._description = description
        self._task: TaskID | None = None
        self._throttled = 0
        self._retried = 0

    def __enter__(self) -> ProgressBar:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.__exit__(None, None, None)

    def on_start(self, *, total: int | None) -> None:
        self._task = self._progress.add_task(
            self._description, total=total, rate=0.0, throttled=0, retried=0
        )

    def on_retry(
        self,
        *,
        meeting_id: str,
        attendee_id: str | None,
        failure: Failure,
        attempt: int,
        delay_s: float,
    ) -> None:
        self._retried += 1
        if failure.kind is ErrorKind.THROTTLE:
            self._throttled += 1
        self._refresh(advance=0)

    def on_result(self, result: AttendeeResult) -> None:
        self._refresh(advance=1)

    def _refresh(self, *, advance: int) -> None:
        if self._task is None:
            return
        task = self._progress.tasks[self._task]
        self._progress.update(
            self._task,
            advance=advance,
            rate=task.speed or 0.0,
            throttled=self._throttled,
            retried=self._retried,
        )

    def on_finish(self, summary: Summary) -> None:
        if self._task is not None:
            self._progress.update(self._task, refresh=True)


class JsonLines(NullProgress):
    """`--json`: one JSON object per result on stdout, as results finish."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stdout
        self._reader_gone = False

    def on_result(self, result: AttendeeResult) -> None:
        if self._reader_gone:
            return
        try:
            self._stream.write(json.dumps(result.to_dict(), separators=(",", ":")) + "\n")
            self._stream.flush()
        except BrokenPipeError:
            # `| head`: whoever read stdout has had enough. The run and its report go on;
            # stdout goes to /dev/null so the interpreter's final flush does not fail too.
            self._reader_gone = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)


_SHOWN_FAILURES = 10


def print_summary(
    report: Report, *, console: Console, report_path: str | None, title: str = "chime-bulk"
) -> None:
    """The end-of-run table, and the first few failures with where to find the rest."""
    summary = report.summary
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for status in Status:
        count = summary.by_status.get(status.value, 0)
        if count:
            style = "green" if status.ok else "red"
            table.add_row(status.value, f"[{style}]{count}[/]")
    table.add_row("total", str(summary.total))
    table.add_row("requests", str(summary.requests))
    table.add_row("throttled", str(summary.throttled))
    table.add_row("retried", str(summary.retried))
    table.add_row("elapsed", f"{summary.elapsed_s:.1f} s")
    if summary.requests and summary.elapsed_s > 0:
        table.add_row("rate", f"{summary.total / summary.elapsed_s:.1f} updates/s")
    console.print(table)
    failures = report.failed()
    for result in failures[:_SHOWN_FAILURES]:
        # The message comes from the service or the plan: never let it be read as markup.
        detail = escape(f"{result.error_code or ''} {result.error_message or ''}".strip())
        console.print(
            f"[red]{result.status}[/] meeting {result.meeting_id} attendee "
            f"{result.attendee_id}: {detail}",
            highlight=False,
        )
    if len(failures) > _SHOWN_FAILURES:
        where = f"; all of them are in {report_path}" if report_path else ""
        console.print(f"… and {len(failures) - _SHOWN_FAILURES} more{where}")
