"""Everything the CLI shows a person — on stderr — and how it configures logging.

stdout carries only machine-readable output (`--json` result lines, dry-run plans); progress,
logs, summaries and errors go to stderr through one rich console, so a pipeline never sees
them and a person always does (errors even with `--quiet`).

With `--log-format json` every line on stderr is one JSON object with at least `event`,
`level` and `timestamp`: structlog's events, the standard library's log records and Python
warnings, the console's lines (each one an `info` event), errors and warnings, progress
(`event: "progress"`) and the summary (`event: "run summary"`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
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
    "ProgressLines",
    "configure_logging",
    "emit_event",
    "json_logs",
    "print_error",
    "print_problems",
    "print_summary",
    "print_warning",
    "stderr_console",
]

LogFormat = Literal["console", "json"]

#: The process's log format, set once by `configure_logging` (the CLI's only global).
_format: LogFormat = "console"


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is *now*, so a live progress bar can redirect logs."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _timestamp() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def emit_event(event: str, *, level: str = "info", **fields: Any) -> None:
    """One JSON event on stderr, shaped as structlog's JSON renderer shapes its own."""
    line = json.dumps({"event": event, "level": level, "timestamp": _timestamp(), **fields})
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


class _JsonEventFile:
    """What rich writes to in json log format: each line it prints becomes an `info` event
    (rich sees no terminal here, so the text carries no colour codes)."""

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            if line.strip():
                emit_event(line.strip())
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def json_logs() -> bool:
    """Whether the CLI was asked for `--log-format json`."""
    return _format == "json"


def stderr_console(*, quiet: bool = False) -> Console:
    """The console for people. Rich follows `sys.stderr` itself (and sees a terminal as one);
    long lines are not wrapped, so IDs stay whole for grep. In json log format, each line
    printed to it is a JSON event instead."""
    if json_logs():
        return Console(
            file=_JsonEventFile(),  # type: ignore[arg-type]
            highlight=False,
            soft_wrap=True,
            quiet=quiet,
            no_color=True,
        )
    return Console(stderr=True, highlight=False, soft_wrap=True, quiet=quiet)


def print_error(console: Console, message: str) -> None:
    """An error line on stderr, even when `console` is quiet; the message is text, never
    markup (it may quote input)."""
    if json_logs():
        emit_event(message, level="error")
        return
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
    if console.quiet:
        return
    if json_logs():
        emit_event(message, level="warning")
        return
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
    global _format
    _format = log_format
    renderer: Any = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    processors: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        processors.append(structlog.processors.format_exc_info)
    _route_standard_logging(json_format=log_format == "json", level=level)
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


class _JsonRecords(logging.Formatter):
    """A standard-library log record (botocore's, a Python warning) as one JSON event."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "timestamp": _timestamp(),
        }
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event)


_handler: logging.Handler | None = None


def _json_excepthook(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """A crash, too, is one JSON event (its traceback a field), not lines of plain text."""
    text = "".join(traceback.format_exception(kind, error, trace))
    emit_event(f"crashed: {kind.__name__}: {error}", level="critical", exception=text)


def _route_standard_logging(*, json_format: bool, level: int) -> None:
    """In json format, records of the standard library's logging (and Python warnings)
    reach stderr as JSON events too; otherwise its defaults stay as they are."""
    global _handler
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler = None
    logging.captureWarnings(json_format)
    sys.excepthook = _json_excepthook if json_format else sys.__excepthook__
    if json_format:
        _handler = logging.StreamHandler(_CurrentStderr())
        _handler.setFormatter(_JsonRecords())
        _handler.setLevel(max(level, logging.WARNING))
        root.addHandler(_handler)


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


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


class ProgressLines(NullProgress):
    """Progress without a terminal (a pipe, a CI log, cron): one plain line on stderr every
    `interval_s` — done/total, results per second so far, throttled, retried, ETA. In json
    log format a `progress` event instead. A line is due when a result or a retry comes in
    `interval_s` after the last line; used as a context manager around the run, a ticker
    also shows one when nothing comes in."""

    def __init__(
        self,
        *,
        console: Console,
        description: str,
        interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._description = description
        self._interval_s = interval_s
        self._clock = clock
        self._started = self._last = clock()
        self._total: int | None = None
        self._done = self._throttled = self._retried = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> ProgressLines:
        """Also show a line when nothing comes in for `interval_s` (a brownout, a long
        backoff): a daemon thread ticks until the run is over."""
        self._ticker = threading.Thread(target=self._tick, name="progress-lines", daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()

    def _tick(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._maybe_show()

    def on_start(self, *, total: int | None) -> None:
        self._total = total
        self._started = self._last = self._clock()

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
        self._throttled += failure.kind is ErrorKind.THROTTLE
        self._maybe_show()

    def on_result(self, result: AttendeeResult) -> None:
        self._done += 1
        self._maybe_show()

    def figures(self) -> dict[str, Any]:
        """What a progress line says, as numbers (`eta_s` None while it cannot be told)."""
        elapsed = self._clock() - self._started
        rate = self._done / elapsed if elapsed > 0 else 0.0
        eta = None
        if self._total is not None and rate > 0:
            eta = round(max(self._total - self._done, 0) / rate, 1)
        return {
            "done": self._done,
            "total": self._total,
            "rate_per_s": round(rate, 1),
            "throttled": self._throttled,
            "retried": self._retried,
            "elapsed_s": round(elapsed, 1),
            "eta_s": eta,
        }

    def _maybe_show(self) -> None:
        with self._lock:  # the loop and the ticker both come here
            now = self._clock()
            if now - self._last < self._interval_s:
                return
            self._last = now
            self._show(self.figures())

    def _show(self, figures: dict[str, Any]) -> None:
        if json_logs():
            emit_event("progress", command=self._description, **figures)
            return
        total = "?" if figures["total"] is None else figures["total"]
        eta = "?" if figures["eta_s"] is None else _duration(figures["eta_s"])
        self._console.print(
            f"{self._description}: {figures['done']}/{total} done, "
            f"{figures['rate_per_s']:.1f}/s, throttled {figures['throttled']}, "
            f"retried {figures['retried']}, elapsed {_duration(figures['elapsed_s'])}, "
            f"ETA {eta}",
            highlight=False,
            markup=False,
        )


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


def _percentiles(figures: dict[str, float]) -> str:
    return "  ".join(f"{name} {value:.0f} ms" for name, value in figures.items())


def _summary_table(summary: Summary, *, title: str) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for status in Status:
        count = summary.by_status.get(status.value, 0)
        if count:
            style = "green" if status.ok else "red"
            table.add_row(status.value, f"[{style}]{count}[/]")
    table.add_row("total", str(summary.total))
    if summary.sent is not None:
        table.add_row("sent", str(summary.sent))
    table.add_row("requests", str(summary.requests))
    table.add_row("throttled", str(summary.throttled))
    table.add_row("retried", str(summary.retried))
    table.add_row("elapsed", f"{summary.elapsed_s:.1f} s")
    if summary.updates_per_s is not None and summary.requests:
        table.add_row("rate", f"{summary.updates_per_s:.1f} updates/s sent")
    if summary.requests_per_s is not None and summary.requests:
        table.add_row("requests/s", f"{summary.requests_per_s:.1f}")
    if summary.latency_ms:
        table.add_row("latency", _percentiles(summary.latency_ms))
    if summary.queued_ms:
        table.add_row("queued", _percentiles(summary.queued_ms))
    return table


def _summary_events(report: Report, *, report_path: str | None, title: str) -> None:
    summary = report.summary
    emit_event(
        "run summary",
        command=title,
        **summary.to_dict(),
        updates_per_s=summary.updates_per_s,
        requests_per_s=summary.requests_per_s,
        report=report_path,
    )
    failures = report.failed()
    for result in failures[:_SHOWN_FAILURES]:
        emit_event(
            "update did not succeed",
            level="warning",
            status=result.status.value,
            meeting_id=result.meeting_id,
            attendee_id=result.attendee_id,
            error_code=result.error_code,
            error_message=result.error_message,
        )
    if len(failures) > _SHOWN_FAILURES:
        emit_event(
            "more updates did not succeed",
            level="warning",
            more=len(failures) - _SHOWN_FAILURES,
            report=report_path,
        )


def print_summary(
    report: Report, *, console: Console, report_path: str | None, title: str = "chime-bulk"
) -> None:
    """The end-of-run table, and the first few failures with where to find the rest (in json
    log format: a `run summary` event and one event per failure shown)."""
    if console.quiet:
        return
    if json_logs():
        _summary_events(report, report_path=report_path, title=title)
        return
    console.print(_summary_table(report.summary, title=title))
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
