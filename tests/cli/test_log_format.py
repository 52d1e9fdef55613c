"""`--log-format json`: every line on stderr is one JSON object, whatever the run meets;
without a terminal, progress is a plain line (or a `progress` event) every few seconds."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chime_bulk.emulator import Emulator, Faults, RateLimit

from .conftest import chime_bulk, plan_for, start_chime_bulk


def _events(stderr: str) -> list[dict[str, Any]]:
    """Every stderr line parsed as JSON (a line that is not JSON fails the test, quoted)."""
    events = []
    for line in stderr.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"stderr line is not JSON: {line!r}")
        assert isinstance(event, dict), line
        assert {"event", "level", "timestamp"} <= event.keys(), line
        events.append(event)
    return events


def _results(stdout: str) -> list[dict[str, Any]]:
    """`--json` stdout: result objects only, one per line."""
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert all({"meeting_id", "attendee_id", "status"} <= line.keys() for line in lines)
    return lines


def _apply(plan: Path, emulator: Emulator, *extra: str) -> list[str]:
    return [
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--region",
        "us-east-1",
        "--log-format",
        "json",
        "--json",
        *extra,
    ]


@pytest.mark.parametrize(
    ("faults", "exit_code", "event"),
    [
        pytest.param(Faults(), 0, None, id="success"),
        pytest.param(Faults(p503=0.4, retry_after_s=0), 0, "retrying", id="retries"),
        pytest.param(Faults(unauthorized=True), 3, "fatal error; aborting the run", id="abort"),
    ],
)
def test_every_stderr_line_is_json(
    emulator: Emulator, tmp_path: Path, faults: Faults, exit_code: int, event: str | None
) -> None:
    """A run that succeeds, retries, or is aborted by a 401 writes only JSON lines on stderr
    (its log events, the summary as a `run summary` event) and only results on stdout."""
    plan, updates = plan_for(emulator, tmp_path, meetings=1, attendees=20)
    emulator.set_faults(faults)
    done = chime_bulk(*_apply(plan, emulator, "-v", "--report", str(tmp_path / "r.json")))
    assert done.returncode == exit_code, done.stderr
    events = _events(done.stderr)
    names = [e["event"] for e in events]
    (summary,) = [e for e in events if e["event"] == "run summary"]
    assert summary["total"] == len(updates)
    assert len(_results(done.stdout)) == len(updates)
    assert 0 < summary["sent"] <= len(updates)
    if event is not None:
        assert event in names
    if exit_code == 3:
        assert any(e["level"] == "error" for e in events)


def test_an_interrupted_run_logs_json_only(emulator: Emulator, tmp_path: Path) -> None:
    """SIGINT mid-run: the interrupt notice, the summary and the exit note are JSON too."""
    plan, _ = plan_for(emulator, tmp_path, meetings=2, attendees=150)
    process = start_chime_bulk(*_apply(plan, emulator, "--max-rate", "20"))
    assert process.stdout is not None
    first = process.stdout.readline()  # the run is under way once a result is out
    assert json.loads(first)["status"] == "succeeded"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    events = _events(stderr)
    assert any("interrupted" in e["event"] for e in events)
    (summary,) = [e for e in events if e["event"] == "run summary"]
    assert summary["by_status"]["cancelled"] > 0
    _results(first + stdout)


def test_a_plan_error_is_json(emulator: Emulator, tmp_path: Path) -> None:
    """Bad plan lines, reported before anything is sent, are JSON events as well."""
    plan = tmp_path / "plan.jsonl"
    plan.write_text('{"MeetingId": "nope"}\n')
    done = chime_bulk(*_apply(plan, emulator))
    assert done.returncode == 2
    events = _events(done.stderr)
    assert events[0]["level"] == "error"
    assert done.stdout == ""


_PROGRESS = re.compile(
    r"^apply: (\d+)/60 done, [\d.]+/s, throttled \d+, retried \d+, elapsed \d+m \d\ds, ETA "
)


def test_progress_lines_reach_a_pipe(tmp_path: Path) -> None:
    """With stderr a pipe, a 4 s run (60 updates at 10/s after a burst of 20) shows a
    progress line every `--progress-interval` seconds while it runs, each further along than
    the last."""
    with Emulator(rates={"*": RateLimit(10, 20)}, seed=4) as emulator:
        plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=60)
        process = start_chime_bulk(
            "apply", str(plan), "--endpoint-url", emulator.endpoint_url, "--region", "us-east-1",
            "--max-rate", "10", "--progress-interval", "0.5",
        )  # fmt: skip
        assert process.stderr is not None
        done_counts = []
        with process:
            while match := _PROGRESS.match(line := process.stderr.readline()):
                assert process.poll() is None  # read as it goes: each line arrives mid-run
                done_counts.append(int(match.group(1)))
            rest = line + process.stderr.read()
    assert process.returncode == 0, rest
    assert len(done_counts) >= 2, rest
    assert done_counts == sorted(done_counts)
    assert done_counts[0] < 60  # the first line came mid-run
    assert "sent" in rest
    assert "updates/s sent" in rest


def test_library_records_warnings_and_crashes_are_json_too() -> None:
    """In json format a standard-library log record, a Python warning and an uncaught
    exception each reach stderr as one JSON event."""
    code = (
        "import logging, warnings\n"
        "from chime_bulk.cli.output import configure_logging\n"
        "configure_logging(log_format='json', quiet=False, verbose=0)\n"
        "logging.getLogger('botocore').warning('from botocore')\n"
        "warnings.warn('careful')\n"
        "raise RuntimeError('boom')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    events = _events(done.stderr)
    assert [(e["level"], e["event"].strip()) for e in events] == [
        ("warning", "from botocore"),
        ("warning", "<string>:5: UserWarning: careful"),
        ("critical", "crashed: RuntimeError: boom"),
    ]
    assert "Traceback" in events[2]["exception"]
    assert done.stdout == ""
