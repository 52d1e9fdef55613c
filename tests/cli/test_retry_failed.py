"""`chime-bulk apply --retry-failed REPORT` and `Report.retry_updates()`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from chime_bulk import AttendeeResult, Report, Status, Update
from chime_bulk._model.report import ReportBuilder
from chime_bulk.emulator import Emulator, Faults

from .conftest import MUTE_VIDEO, chime_bulk, plan_for, writes

#: The status each of six updates ended with in the first run.
FIRST_RUN = [
    Status.SUCCEEDED,
    Status.FAILED,
    Status.CANCELLED,
    Status.NOT_FOUND,
    Status.INVALID,
    Status.CANCELLED,
]


def _report_of(updates: list[Update], statuses: list[Status]) -> Report:
    builder = ReportBuilder()
    for index, (update, status) in enumerate(zip(updates, statuses, strict=True)):
        builder.add(AttendeeResult.unsent(update, status, "first run"), index=index)
    return builder.build()


def test_retry_updates_are_the_failed_and_cancelled_ones_in_order() -> None:
    """Only `failed` and `cancelled` results come back as updates (with their capabilities
    and Region), in report order; a restore's `ChangedSinceRun` refusal is not retried."""
    updates = [
        Update(
            meeting_id=f"{n:08x}-1111-4111-8111-000000000000",
            attendee_id=f"{n:08x}-2222-4222-8222-000000000000",
            capabilities=MUTE_VIDEO,
            region="eu-central-1" if n == 2 else None,
        )
        for n in range(6)
    ]
    report = _report_of(updates, FIRST_RUN)
    assert report.retry_updates() == [updates[1], updates[2], updates[5]]
    refused = dataclasses.replace(report.results[1], error_code="ChangedSinceRun")
    report = dataclasses.replace(report, results=[refused, *report.results[2:]])
    assert report.retry_updates() == [updates[2], updates[5]]


def test_retry_failed_sends_exactly_the_failed_and_cancelled_updates(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A first run (every write 500, one attempt) leaves all 10 failed; `--retry-failed` its
    report sends each of them once more, writes a new complete report, and the emulator
    ends with every attendee as planned."""
    # 10 failures stay under the circuit breaker's 16 of 20, so the first run ends at once.
    plan, updates = plan_for(emulator, tmp_path, meetings=1, attendees=10)
    emulator.set_faults(Faults(p500=1.0))
    first = tmp_path / "first.json"
    common = ["--endpoint-url", emulator.endpoint_url]
    done = chime_bulk("apply", str(plan), *common, "--max-attempts", "1", "--report", str(first))
    assert done.returncode == 1, done.stderr
    assert Report.read(first).summary.by_status == {"failed": 10}
    emulator.set_faults(Faults())
    emulator.clear_requests()
    second = tmp_path / "second.jsonl"
    done = chime_bulk("apply", "--retry-failed", str(first), *common, "--report", str(second))
    assert done.returncode == 0, done.stderr
    retried = Report.read(second)
    assert [r.attendee_id for r in retried.results] == [u.attendee_id for u in updates]
    assert retried.summary.by_status == {"succeeded": 10}
    assert len(writes(emulator)) == 10
    assert all(emulator.capabilities(*u.key) == MUTE_VIDEO.to_api() for u in updates)


def test_retry_failed_leaves_the_rest_of_a_mixed_report_alone(
    emulator: Emulator, tmp_path: Path
) -> None:
    """From a report of six mixed results only the failed and the two cancelled are sent."""
    _, updates = plan_for(emulator, tmp_path, meetings=1, attendees=6)
    first = tmp_path / "first.json"
    _report_of(updates, FIRST_RUN).write(first)
    done = chime_bulk(
        "apply", "--retry-failed", str(first), "--endpoint-url", emulator.endpoint_url
    )
    assert done.returncode == 0, done.stderr
    sent = sorted(record.attendee_id or "" for record in emulator.requests)
    assert sent == sorted(updates[i].attendee_id for i in (1, 2, 5))


def test_retry_failed_refuses_a_report_of_another_schema(tmp_path: Path) -> None:
    """A report whose schema is not `chime-bulk.report/1`: a clear message, exit 2."""
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "chime-bulk.report/9", "summary": {}, "results": []}))
    done = chime_bulk("apply", "--retry-failed", str(other), "--region", "us-east-1")
    assert done.returncode == 2, done.stderr
    assert "chime-bulk.report/1" in done.stderr
    assert "chime-bulk.report/9" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_plan_and_retry_failed_together_are_a_usage_error(tmp_path: Path) -> None:
    """Both a PLAN and --retry-failed (or neither): a usage error, exit 2."""
    report = tmp_path / "r.json"
    _report_of([], []).write(report)
    assert chime_bulk("apply", "plan.jsonl", "--retry-failed", str(report)).returncode == 2
    assert chime_bulk("apply").returncode == 2
