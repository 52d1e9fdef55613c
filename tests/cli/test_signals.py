"""Ctrl-C, once or twice, at any moment: exit 130 and a report that matches the server.

Each test runs the real CLI against an emulator with a quota, so the run is still going when
the signals arrive, and checks the report (and the journal) against the emulator's own record
of what it changed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chime_bulk import Report, Status
from chime_bulk.emulator import Emulator, Faults, RateLimit

from .conftest import plan_for, start_chime_bulk, writes

_MEETINGS = 2
_ATTENDEES = 100
#: Writes seen by the emulator before the first Ctrl-C: the run is well under way.
_STARTED = 30


@pytest.fixture
def paced_emulator() -> Iterator[Emulator]:
    """An emulator with a 100/s quota per operation, so a run of 200 takes seconds."""
    with Emulator(rates={"*": RateLimit(100, 20)}, seed=8) as emu:
        yield emu


def _wait_until(condition: Callable[[], bool], *, process: subprocess.Popen[str]) -> None:
    """Poll `condition` until it holds; fail at once if the CLI ended first."""
    give_up = time.monotonic() + 20
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < give_up, "the run never got under way"
        time.sleep(0.002)


def _interrupt_twice(process: subprocess.Popen[str], *, gap_s: float) -> str:
    """Two SIGINTs `gap_s` apart; the CLI's stderr once it has ended."""
    process.send_signal(signal.SIGINT)
    time.sleep(gap_s)  # the gap between the two signals is what is tested, not a wait
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    return stderr


def _journal_statuses(path: Path) -> dict[tuple[str, str], str]:
    lines = path.read_bytes().splitlines()
    records = [json.loads(line) for line in lines[1:] if line.strip()]
    return {(r["meeting_id"], r["attendee_id"]): r["status"] for r in records}


def _check_against_the_server(
    emulator: Emulator, report: Report, planned: list[tuple[str, str]]
) -> None:
    """The report has every planned attendee once; what the server changed is never
    reported as unsent, and what the report calls succeeded was changed."""
    by_key = {(r.meeting_id, r.attendee_id): r for r in report.results}
    assert sorted(by_key) == sorted(planned)
    assert len(report.results) == len(planned)
    changed = {key for key in planned if emulator.write_count(*key) > 0}
    assert changed, "nothing reached the server: the test interrupted too early"
    for key in changed:
        result = by_key[key]
        assert result.status is Status.SUCCEEDED or result.attempts >= 1, result
    succeeded = {key for key, r in by_key.items() if r.status is Status.SUCCEEDED}
    assert succeeded <= changed


_GAPS = [
    pytest.param(0.01, id="10ms"),
    pytest.param(0.05, id="50ms"),
    pytest.param(0.3, id="300ms"),
]


@pytest.mark.parametrize("gap_s", _GAPS)
def test_apply_interrupted_twice_keeps_report_and_journal(
    paced_emulator: Emulator, tmp_path: Path, gap_s: float
) -> None:
    """Two Ctrl-Cs during `apply`: exit 130, and the report and journal agree with the server."""
    plan, updates = plan_for(paced_emulator, tmp_path, meetings=_MEETINGS, attendees=_ATTENDEES)
    report_path = tmp_path / "report.json"
    journal_path = tmp_path / "run.journal"
    process = start_chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        paced_emulator.endpoint_url,
        "--region",
        "us-east-1",
        "--journal",
        str(journal_path),
        "--report",
        str(report_path),
    )
    _wait_until(lambda: len(writes(paced_emulator)) >= _STARTED, process=process)
    stderr = _interrupt_twice(process, gap_s=gap_s)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "nothing was sent" not in stderr
    report = Report.read(report_path)
    planned = [update.key for update in updates]
    _check_against_the_server(paced_emulator, report, planned)
    journal = _journal_statuses(journal_path)
    assert journal == {(r.meeting_id, r.attendee_id): r.status.value for r in report.results}


@pytest.mark.parametrize("gap_s", _GAPS)
def test_mute_interrupted_twice_keeps_the_report(
    paced_emulator: Emulator, tmp_path: Path, gap_s: float
) -> None:
    """Two Ctrl-Cs during `mute --video`: exit 130, and the report agrees with the server."""
    meetings = paced_emulator.seed(meetings=_MEETINGS, attendees=_ATTENDEES)
    report_path = tmp_path / "mute.json"
    args = ["mute", "--video", "--report", str(report_path)]
    for meeting_id in meetings:
        args += ["--meeting", meeting_id]
    process = start_chime_bulk(
        *args, "--endpoint-url", paced_emulator.endpoint_url, "--region", "us-east-1"
    )
    _wait_until(lambda: len(writes(paced_emulator)) >= _STARTED, process=process)
    stderr = _interrupt_twice(process, gap_s=gap_s)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "nothing was sent" not in stderr
    planned = [(m, a) for m, attendees in meetings.items() for a in attendees]
    _check_against_the_server(paced_emulator, Report.read(report_path), planned)


def test_mute_interrupted_while_listing_sends_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """Ctrl-C twice while `mute` still reads its meetings: exit 130, "nothing was sent", and
    indeed no write reached the server."""
    meetings = emulator.seed(meetings=2, attendees=5)
    emulator.set_faults(Faults(latency_ms=300))
    args = ["mute", "--video", "--report", str(tmp_path / "mute.json")]
    for meeting_id in meetings:
        args += ["--meeting", meeting_id]
    process = start_chime_bulk(*args, "--endpoint-url", emulator.endpoint_url)
    _wait_until(lambda: len(emulator.requests) >= 1, process=process)  # listing is under way
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "nothing was sent" in stderr
    assert writes(emulator) == []
