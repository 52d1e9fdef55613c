"""End to end: the real `chime-bulk apply` against a sick emulator, a wrong Region, and
nothing at all listening."""

from __future__ import annotations

from pathlib import Path

import anyio

from chime_bulk import (
    AttendeeResult,
    BulkUpdater,
    Journal,
    NullProgress,
    Report,
    RunAborted,
    Status,
    load_journal,
    read_plan,
)
from chime_bulk.emulator import Emulator, Faults

from .conftest import MUTE_VIDEO, chime_bulk, plan_for, writes


def test_max_sick_s_aborts_an_outage_with_exit_3_and_a_complete_report(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Every write 500 and `--max-sick-s 2`: the run pauses and probes, then aborts with
    exit 3 about 2 s after the service fell sick, a report naming every update, and only a
    few dozen writes sent instead of 200 updates' worth of retries."""
    plan, updates = plan_for(emulator, tmp_path, meetings=2, attendees=100)
    emulator.set_faults(Faults(p500=1.0))
    report_path = tmp_path / "report.json"
    done = chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--max-sick-s",
        "2",
        "--report",
        str(report_path),
    )
    assert done.returncode == 3, done.stderr
    assert "ServiceUnhealthy" in done.stderr
    assert "Traceback" not in done.stderr
    report = Report.read(report_path)
    assert [r.attendee_id for r in report.results] == [u.attendee_id for u in updates]
    assert report.summary.count(Status.SUCCEEDED) == 0
    assert report.summary.circuit is not None
    assert report.summary.circuit["pauses"] == 1
    assert 1.9 <= report.summary.circuit["sick_s"] <= 4.0
    sent = writes(emulator)
    assert len(sent) <= 40
    assert report.summary.requests == len(sent)
    times = [record.time for record in emulator.requests]
    assert 1.9 <= max(times) - min(times) <= 4.0


def test_a_wrong_region_reports_its_meetings_not_found_with_a_hint(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Meetings created in us-east-1, `--region us-west-2`: one GetMeeting per meeting finds
    it is not there, every update is `not_found` (exit 1) with a message naming the Region,
    and only the first requests of each meeting are sent."""
    plan, _ = plan_for(emulator, tmp_path, meetings=2, attendees=60)
    report_path = tmp_path / "report.json"
    done = chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--region",
        "us-west-2",
        "--concurrency",
        "4",
        "--report",
        str(report_path),
    )
    assert done.returncode == 1, done.stderr
    report = Report.read(report_path)
    assert report.summary.by_status == {"not_found": 120}
    assert all("not found in Region us-west-2" in (r.error_message or "") for r in report.results)
    assert all("check --region" in (r.error_message or "") for r in report.results)
    assert len(writes(emulator)) <= 2 * 4 + 4


def test_a_hung_service_times_out_and_trips_the_circuit(emulator: Emulator, tmp_path: Path) -> None:
    """Every answer 2 s late, `--read-timeout 0.3 --max-sick-s 1.5`: the timeouts are
    transient failures that count as sickness, so the run aborts (exit 3) in seconds with a
    complete report instead of waiting out every hung request's retries."""
    plan, updates = plan_for(emulator, tmp_path, meetings=1, attendees=60)
    emulator.set_faults(Faults(latency_ms=2000))
    report_path = tmp_path / "report.json"
    done = chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--read-timeout",
        "0.3",
        "--max-sick-s",
        "1.5",
        "--report",
        str(report_path),
    )
    assert done.returncode == 3, done.stderr
    assert "ServiceUnhealthy" in done.stderr
    assert "ReadTimeoutError" in done.stderr
    report = Report.read(report_path)
    assert len(report.results) == len(updates)
    assert report.summary.elapsed_s < 5
    # (The emulator logs a request once it has answered it, seconds later: count ours.)
    assert report.summary.requests <= 24


def test_resume_after_credentials_were_revoked_finishes_the_plan(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A run whose token expired after 60 of 200 results aborted with its journal; then
    `apply PLAN --journal J --resume` with good credentials sends exactly the updates not
    yet final (the ones the 403 met included) and the ground truth equals the plan."""
    plan, updates = plan_for(emulator, tmp_path, meetings=2, attendees=100)
    journal_path = tmp_path / "run.journal"
    revoked = Faults(auth_failure="ExpiredTokenException")

    class _Revoke(NullProgress):
        seen = 0

        def on_result(self, result: AttendeeResult) -> None:
            self.seen += 1
            if self.seen == 60:
                emulator.set_faults(revoked)

    async def first_run() -> RunAborted:
        journal = Journal.open(journal_path, plan_sha256=read_plan(plan).sha256)
        async with (
            journal,
            BulkUpdater(
                endpoint_url=emulator.endpoint_url, max_concurrency=8, progress=_Revoke()
            ) as bulk,
        ):
            try:
                await bulk.run(updates, journal=journal)
            except RunAborted as aborted:
                return aborted
        raise AssertionError("the run was not aborted")

    aborted = anyio.run(first_run)
    assert aborted.error_code == "ExpiredTokenException"
    done_before = load_journal(journal_path)
    assert 60 <= len(done_before) < 200
    emulator.set_faults(Faults())
    emulator.clear_requests()
    report_path = tmp_path / "report.json"
    done = chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--journal",
        str(journal_path),
        "--resume",
        "--report",
        str(report_path),
    )
    assert done.returncode == 0, done.stderr
    assert len(writes(emulator)) == 200 - len(done_before)
    assert Report.read(report_path).summary.by_status == {"succeeded": 200}
    assert all(emulator.capabilities(*u.key) == MUTE_VIDEO.to_api() for u in updates)
