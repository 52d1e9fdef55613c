"""Progress without a terminal and the summary's figures, on an injected clock."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from chime_bulk import AttendeeResult, Capabilities, Report, Status, Summary, Update
from chime_bulk._policy.classification import ErrorKind, Failure
from chime_bulk.cli import output
from chime_bulk.cli.output import ProgressLines, print_summary

MUTED = Capabilities("SendReceive", "Receive", "None")
UPDATE = Update(
    meeting_id="00000000-1111-4111-8111-000000000000",
    attendee_id="00000000-2222-4222-8222-000000000000",
    capabilities=MUTED,
)
RESULT = AttendeeResult.unsent(UPDATE, Status.SUCCEEDED)
THROTTLE = Failure(kind=ErrorKind.THROTTLE, code="ThrottlingException", message="", status=429)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _feed(lines: ProgressLines, clock: Clock) -> None:
    """40 results over 8 s (5/s), one throttled retry at 1 s, of a run of 100."""
    lines.on_start(total=100)
    for n in range(1, 41):
        clock.now = 100.0 + n * 0.2
        if n == 5:
            lines.on_retry(
                meeting_id="m", attendee_id="a", failure=THROTTLE, attempt=1, delay_s=0.1
            )
        lines.on_result(RESULT)


def test_progress_lines_come_every_interval_with_exact_figures() -> None:
    """One line per 5 s of results: at 5 s, 25/100 at 5.0/s with an ETA of 15 s."""
    screen = io.StringIO()
    clock = Clock()
    lines = ProgressLines(console=Console(file=screen, width=200), description="apply", clock=clock)
    _feed(lines, clock)
    assert screen.getvalue() == (
        "apply: 25/100 done, 5.0/s, throttled 1, retried 1, elapsed 0m 05s, ETA 0m 15s\n"
    )


def test_progress_in_json_log_format_is_an_event(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In json log format the same figures are one `progress` event on stderr."""
    monkeypatch.setattr(output, "_format", "json")
    clock = Clock()
    lines = ProgressLines(console=Console(file=io.StringIO()), description="apply", clock=clock)
    _feed(lines, clock)
    (line,) = capsys.readouterr().err.splitlines()
    event = json.loads(line)
    assert event["event"] == "progress"
    assert {k: event[k] for k in ("done", "total", "rate_per_s", "eta_s", "throttled")} == {
        "done": 25,
        "total": 100,
        "rate_per_s": 5.0,
        "eta_s": 15.0,
        "throttled": 1,
    }


SUMMARY = Summary(
    total=30,
    by_status={"succeeded": 10, "cancelled": 20},
    requests=12,
    throttled=2,
    retried=2,
    elapsed_s=1.0,
    started_at="2026-12-02T10:00:00Z",
    finished_at="2026-12-02T10:00:01Z",
    latency_ms={"p50": 40.0, "p90": 55.0, "p99": 60.0, "max": 61.0},
    queued_ms={"p50": 500.0, "p90": 900.0, "p99": 990.0, "max": 1000.0},
    sent=10,
)


def test_summary_table_rates_only_what_was_sent() -> None:
    """30 updates, 20 cancelled, 10 sent in 12 requests over 1 s: 10.0 updates/s and
    12.0 requests/s, latency and queueing on rows of their own."""
    screen = io.StringIO()
    report = Report(results=[], summary=SUMMARY)
    print_summary(report, console=Console(file=screen, width=200), report_path=None)
    shown = screen.getvalue()
    assert "10.0 updates/s sent" in shown
    assert "30.0" not in shown
    assert "│ requests/s │" in shown
    assert "12.0 │" in shown
    assert "p50 40 ms  p90 55 ms  p99 60 ms  max 61 ms" in shown
    assert "p50 500 ms  p90 900 ms  p99 990 ms  max 1000 ms" in shown


def test_summary_in_json_log_format_is_one_event(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In json log format the summary is a `run summary` event with the rates in it."""
    monkeypatch.setattr(output, "_format", "json")
    report = Report(results=[], summary=SUMMARY)
    print_summary(report, console=Console(file=io.StringIO()), report_path="r.json")
    (line,) = capsys.readouterr().err.splitlines()
    event = json.loads(line)
    assert (event["event"], event["updates_per_s"], event["requests_per_s"]) == (
        "run summary",
        10.0,
        12.0,
    )
    assert event["queued_ms"]["max"] == 1000.0
    assert event["report"] == "r.json"
