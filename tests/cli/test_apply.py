"""End to end: the real `chime-bulk apply` process against the emulator."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from chime_bulk import Report, Status
from chime_bulk.emulator import Emulator, Faults

from .conftest import MUTE_VIDEO, chime_bulk, plan_for, start_chime_bulk, writes


def test_clean_run_exits_0_and_writes_the_report(emulator: Emulator, tmp_path: Path) -> None:
    """Every update succeeds: exit 0, a report with each attendee, the emulator changed."""
    plan, updates = plan_for(emulator, tmp_path, meetings=2, attendees=30)
    report_path = tmp_path / "report.json"
    done = chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--region",
        "us-east-1",
        "--report",
        str(report_path),
    )
    assert done.returncode == 0, done.stderr
    report = Report.read(report_path)
    assert [r.attendee_id for r in report.results] == [u.attendee_id for u in updates]
    assert report.summary.by_status == {"succeeded": 60}
    assert all(emulator.capabilities(*u.key) == MUTE_VIDEO.to_api() for u in updates)
    assert "succeeded" in done.stderr
    assert done.stdout == ""  # nothing machine-readable was asked for


def test_bad_plan_line_exits_2_and_sends_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """A typo on line 3 is reported with its number, exit 2, and no write reaches the service."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=5)
    lines = plan.read_text().splitlines()
    lines[2] = lines[2].replace('"Capabilities"', '"Capabilites"')
    plan.write_text("\n".join(lines) + "\n")
    done = chime_bulk("apply", str(plan), "--endpoint-url", emulator.endpoint_url)
    assert done.returncode == 2
    assert f"{plan}:3:" in done.stderr
    assert "Capabilites" in done.stderr
    assert "Traceback" not in done.stderr
    assert writes(emulator) == []


def test_gone_attendees_exit_1(emulator: Emulator, tmp_path: Path) -> None:
    """Attendees that left are `not_found` in the report and the exit code is 1."""
    plan, updates = plan_for(emulator, tmp_path, meetings=1, attendees=10)
    for update in updates[:3]:
        emulator.remove_attendee(*update.key)
    report_path = tmp_path / "report.csv"
    done = chime_bulk(
        "apply", str(plan), "--endpoint-url", emulator.endpoint_url, "--report", str(report_path)
    )
    assert done.returncode == 1
    report = Report.read(report_path)
    assert report.summary.by_status == {"not_found": 3, "succeeded": 7}
    assert "not_found" in done.stderr


def test_auth_failure_exits_3(emulator: Emulator, tmp_path: Path) -> None:
    """A 401 aborts the run: exit 3, the error on stderr even with --quiet, a full report."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=40)
    emulator.set_faults(Faults(unauthorized=True))
    report_path = tmp_path / "report.jsonl"
    done = chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--report",
        str(report_path),
        "--quiet",
        "--concurrency",
        "4",
    )
    assert done.returncode == 3
    assert "UnauthorizedException" in done.stderr
    report = Report.read(report_path)
    assert len(report.results) == 40
    assert report.summary.by_status["cancelled"] >= 36
    assert len(writes(emulator)) <= 4


def test_dry_run_sends_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """--dry-run says so, lists what would be sent, reports `planned`, and sends nothing."""
    plan, updates = plan_for(emulator, tmp_path, meetings=1, attendees=5)
    report_path = tmp_path / "report.json"
    done = chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--dry-run",
        "--report",
        str(report_path),
    )
    assert done.returncode == 0, done.stderr
    assert "DRY RUN" in done.stderr
    assert len(done.stdout.splitlines()) == 5
    assert Report.read(report_path).summary.by_status == {"planned": 5}
    assert writes(emulator) == []
    assert all(emulator.write_count(*u.key) == 0 for u in updates)


def test_json_lines_on_stdout_only(emulator: Emulator, tmp_path: Path) -> None:
    """--json prints exactly one JSON result per update on stdout, and nothing else there."""
    plan, updates = plan_for(emulator, tmp_path, meetings=1, attendees=12)
    done = chime_bulk("apply", str(plan), "--endpoint-url", emulator.endpoint_url, "--json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(line["attendee_id"] for line in lines) == sorted(u.attendee_id for u in updates)
    assert {line["status"] for line in lines} == {"succeeded"}


def test_plan_from_stdin(emulator: Emulator, tmp_path: Path) -> None:
    """`apply -` reads the plan from standard input."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=3)
    done = chime_bulk(
        "apply", "-", "--endpoint-url", emulator.endpoint_url, input_text=plan.read_text()
    )
    assert done.returncode == 0, done.stderr
    assert len(writes(emulator)) == 3


def test_insecure_remote_endpoint_is_refused(tmp_path: Path) -> None:
    """Plain http to a non-loopback host is a usage error unless explicitly allowed."""
    plan = tmp_path / "plan.jsonl"
    plan.write_text("")
    done = chime_bulk("apply", str(plan), "--endpoint-url", "http://example.com")
    assert done.returncode == 2
    assert "--allow-insecure-endpoint" in done.stderr


def test_interrupt_exits_130_with_a_complete_report(emulator: Emulator, tmp_path: Path) -> None:
    """SIGINT mid-run: exit 130, and the report lists every update, the rest `cancelled`."""
    plan, _ = plan_for(emulator, tmp_path, meetings=2, attendees=150)
    report_path = tmp_path / "report.json"
    process = start_chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--max-rate",
        "20",
        "--json",
        "--report",
        str(report_path),
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # the run is under way once a result is out
    assert json.loads(first)["status"] == "succeeded"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    report = Report.read(report_path)
    assert len(report.results) == 300
    assert report.summary.by_status.get("cancelled", 0) > 0
    assert {r.status for r in report.results} <= {Status.SUCCEEDED, Status.CANCELLED}
    succeeded = report.summary.by_status["succeeded"]
    assert succeeded == len(writes(emulator))


def test_many_bad_lines_are_summarised(emulator: Emulator, tmp_path: Path) -> None:
    """A plan with hundreds of bad lines shows the first ones and how many more there are."""
    plan = tmp_path / "plan.csv"
    rows = ["meeting_id,attendee_id,audio,video,content"]
    rows += [f"bad-{n},also-bad,SendReceive,Receive,None" for n in range(300)]
    plan.write_text("\n".join(rows) + "\n")
    done = chime_bulk("apply", str(plan), "--endpoint-url", emulator.endpoint_url)
    assert done.returncode == 2
    assert "600 problem(s) on 300 line(s)" in done.stderr  # a bad meeting and attendee ID each
    assert f"{plan}:2:" in done.stderr
    # Two of each kind of ID in full (lines 2, 3 and 4: three per kind), the rest by kind.
    assert done.stderr.splitlines()[-1] == "… and 297 more lines with an ID that is not a Chime ID"
    assert len(done.stderr.splitlines()) == 8
    assert writes(emulator) == []


def test_interrupted_run_resumes_without_resending(emulator: Emulator, tmp_path: Path) -> None:
    """After SIGINT, `--resume` with the same journal sends only what had not finished: every
    attendee ends up written exactly once and the resumed report covers the whole plan."""
    plan, updates = plan_for(emulator, tmp_path, meetings=1, attendees=200)
    journal = tmp_path / "run.journal"
    process = start_chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--max-rate",
        "40",
        "--json",
        "--journal",
        str(journal),
    )
    assert process.stdout is not None
    for _ in range(10):  # ten results are out: the run is well under way
        process.stdout.readline()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130
    first_pass = len(writes(emulator))
    assert 10 <= first_pass < 200

    report_path = tmp_path / "report.json"
    done = chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--journal",
        str(journal),
        "--resume",
        "--report",
        str(report_path),
    )
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr
    report = Report.read(report_path)
    assert report.summary.by_status == {"succeeded": 200}
    assert all(emulator.write_count(*u.key) == 1 for u in updates)
    assert len(writes(emulator)) == 200


def test_resume_refuses_a_journal_of_another_plan(emulator: Emulator, tmp_path: Path) -> None:
    """A journal written for one plan cannot resume another: exit 2, nothing sent."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=3)
    journal = tmp_path / "run.journal"
    done = chime_bulk(
        "apply", str(plan), "--endpoint-url", emulator.endpoint_url, "--journal", str(journal)
    )
    assert done.returncode == 0, done.stderr
    other, _ = plan_for(emulator, tmp_path, meetings=1, attendees=3, name="other.jsonl")
    sent_before = len(writes(emulator))
    done = chime_bulk(
        "apply",
        str(other),
        "--endpoint-url",
        emulator.endpoint_url,
        "--journal",
        str(journal),
        "--resume",
    )
    assert done.returncode == 2
    assert "journal" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(writes(emulator)) == sent_before


def test_an_existing_journal_is_not_overwritten(emulator: Emulator, tmp_path: Path) -> None:
    """--journal naming a journal that exists, without --resume, is refused: exit 2."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=2)
    journal = tmp_path / "run.journal"
    journal.write_text('{"schema": "chime-bulk.journal/1", "plan": null}\n')
    done = chime_bulk(
        "apply", str(plan), "--endpoint-url", emulator.endpoint_url, "--journal", str(journal)
    )
    assert done.returncode == 2
    assert "--resume" in done.stderr
    assert writes(emulator) == []
    assert journal.read_text() == '{"schema": "chime-bulk.journal/1", "plan": null}\n'


def test_report_folder_must_exist_before_anything_is_sent(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A report path in a missing folder is a usage error up front: nothing sent."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=2)
    done = chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--report",
        str(tmp_path / "missing" / "report.json"),
    )
    assert done.returncode == 2
    assert "does not exist" in done.stderr
    assert writes(emulator) == []


def test_json_into_a_closed_pipe_keeps_the_run_and_report(
    emulator: Emulator, tmp_path: Path
) -> None:
    """`--json | head -1`: the reader leaves, the run finishes and its report is written."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=40)
    report_path = tmp_path / "report.json"
    process = start_chime_bulk(
        "apply",
        str(plan),
        "--endpoint-url",
        emulator.endpoint_url,
        "--json",
        "--report",
        str(report_path),
    )
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # what `head -1` does
    assert process.stderr is not None
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr
    assert Report.read(report_path).summary.by_status == {"succeeded": 40}


def test_no_region_is_a_usage_error(tmp_path: Path) -> None:
    """Without --region, a profile or AWS_DEFAULT_REGION: a clear error, exit 2, no trace."""
    plan = tmp_path / "plan.jsonl"
    plan.write_text(
        '{"MeetingId": "11111111-1111-1111-1111-111111111111", "AttendeeId": '
        '"22222222-2222-2222-2222-222222222222", "Capabilities": {"Audio": "SendReceive", '
        '"Video": "Receive", "Content": "None"}}\n'
    )
    done = chime_bulk("apply", str(plan))
    assert done.returncode == 2
    assert "AWS_DEFAULT_REGION" in done.stderr
    assert "Traceback" not in done.stderr


def test_skip_invalid_sends_the_good_lines_and_reports_the_rest_in_order(
    emulator: Emulator, tmp_path: Path
) -> None:
    """--skip-invalid: bad lines are `invalid` at their place in the report, the rest sent."""
    plan, updates = plan_for(emulator, tmp_path, meetings=1, attendees=4)
    lines = plan.read_text().splitlines()
    lines[1] = (
        lines[1]
        .replace('"Video": "Receive"', '"Video": "None"')
        .replace('"Content": "SendReceive"', '"Content": "Receive"')
    )
    plan.write_text("\n".join(lines) + "\n")
    report_path = tmp_path / "report.json"
    done = chime_bulk(
        "apply",
        str(plan),
        "--skip-invalid",
        "--endpoint-url",
        emulator.endpoint_url,
        "--report",
        str(report_path),
    )
    assert done.returncode == 1
    report = Report.read(report_path)
    assert [r.attendee_id for r in report.results] == [u.attendee_id for u in updates]
    assert [r.status for r in report.results] == [
        Status.SUCCEEDED,
        Status.INVALID,
        Status.SUCCEEDED,
        Status.SUCCEEDED,
    ]
    assert len(writes(emulator)) == 3
