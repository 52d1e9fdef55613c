"""End to end: each kind of bad input is a short, exact message, exit 2, nothing sent."""

from __future__ import annotations

import json
from pathlib import Path

from chime_bulk import Report, Status
from chime_bulk.emulator import Emulator

from .conftest import chime_bulk, plan_for, writes


def _apply(emulator: Emulator, *args: str) -> tuple[int, list[str]]:
    done = chime_bulk("apply", *args, "--endpoint-url", emulator.endpoint_url)
    assert "Traceback" not in done.stderr
    return done.returncode, done.stderr.splitlines()


def test_one_bad_line_is_one_error_line(emulator: Emulator, tmp_path: Path) -> None:
    """A plan with one bad line gets exactly one line on stderr, with the path and line."""
    plan = tmp_path / "plan.csv"
    plan.write_text("11111111-1111-1111-1111-111111111111,22222222-2222-2222-2222-222222222222\n")
    code, lines = _apply(emulator, str(plan))
    assert (code, lines) == (
        2,
        [
            f"error: {plan}:1: no header row: the first line must name the columns "
            "meeting_id,attendee_id,audio,video,content (and optionally region); nothing was sent"
        ],
    )
    assert writes(emulator) == []


def test_many_undecodable_lines_are_counted_by_kind(emulator: Emulator, tmp_path: Path) -> None:
    """Thousands of non-UTF-8 lines show three in full, then one line counting the rest."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=2)
    plan.write_bytes(plan.read_bytes() + b"\xff\xfe\n" * 7_636 + b"x" * 70_000 + b"\n")
    code, lines = _apply(emulator, str(plan))
    assert code == 2
    assert lines == [
        "error: the plan has 7,637 problem(s) on 7,637 line(s); nothing was sent",
        f"{plan}:3: not UTF-8 text",
        f"{plan}:4: not UTF-8 text",
        f"{plan}:5: not UTF-8 text",
        f"{plan}:7639: line is 70,000 bytes long; a plan line is at most 65,536",
        "… and 7,633 more lines that are not UTF-8 text",
    ]
    assert writes(emulator) == []


def test_skip_invalid_reports_unknown_keys_and_bad_values_as_invalid(
    emulator: Emulator, tmp_path: Path
) -> None:
    """--skip-invalid sends the good lines; an unknown key or a bad value is `invalid` at its
    place; a line with no readable attendee is one warning line; exit 1."""
    plan, updates = plan_for(emulator, tmp_path, meetings=1, attendees=4)
    lines = plan.read_text().splitlines()
    lines[1] = lines[1].replace('"Capabilities"', '"Capabilites"')
    lines[2] = lines[2].replace('"Audio": "', '"Audio": "Loud')
    plan.write_text("\n".join([*lines, "{not json"]) + "\n")
    report_path = tmp_path / "report.jsonl"
    code, stderr = _apply(emulator, str(plan), "--skip-invalid", "--report", str(report_path))
    assert code == 1
    report = Report.read(report_path)
    assert [r.attendee_id for r in report.results] == [u.attendee_id for u in updates]
    assert [r.status for r in report.results] == [
        Status.SUCCEEDED,
        Status.INVALID,
        Status.INVALID,
        Status.SUCCEEDED,
    ]
    assert report.results[1].error_message == (
        "unknown key 'Capabilites' (did you mean 'Capabilities'?)"
    )
    assert stderr[:2] == [
        "warning: --skip-invalid skipped 1 line(s) of the plan with no attendee to report:",
        f"{plan}:5: not valid JSON: Expecting property name enclosed in double quotes (column 2)",
    ]
    assert len(writes(emulator)) == 2


def test_resume_without_a_journal_is_an_error(emulator: Emulator, tmp_path: Path) -> None:
    """--resume naming a journal that does not exist is one error line, exit 2, nothing sent;
    --resume-if-exists starts afresh."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=2)
    journal = tmp_path / "run.journal"
    code, lines = _apply(emulator, str(plan), "--journal", str(journal), "--resume")
    assert (code, lines) == (
        2,
        [
            f"error: journal {journal} does not exist, so there is nothing to resume: check the "
            "path, or pass --resume-if-exists to start afresh when it is missing; nothing was sent"
        ],
    )
    assert writes(emulator) == []
    code, _ = _apply(emulator, str(plan), "--journal", str(journal), "--resume-if-exists")
    assert code == 0
    assert len(writes(emulator)) == 2


def test_corrupt_journal_names_its_path_once(emulator: Emulator, tmp_path: Path) -> None:
    """A journal that is not one is one error line naming the file once, with its line."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=2)
    journal = tmp_path / "run.journal"
    journal.write_text("garbage\n" + json.dumps({"x": 1}) + "\n")
    code, lines = _apply(emulator, str(plan), "--journal", str(journal), "--resume")
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {journal}:1: ")
    assert lines[0].count(str(journal)) == 1
    assert writes(emulator) == []


def test_restore_from_a_truncated_or_foreign_report_is_one_line(
    emulator: Emulator, tmp_path: Path
) -> None:
    """`restore` of a report cut short, or of another schema, is one error line, exit 2."""
    truncated = tmp_path / "cut.json"
    truncated.write_text('{"schema": "chime-bulk.report/1",\n "summary": {"total": 1')
    foreign = tmp_path / "other.json"
    foreign.write_text('{"schema": "other/1"}')
    expected = {
        truncated: f"error: {truncated}:2: the file ends early (truncated?); nothing was sent",
        foreign: f"error: {foreign}:1: not a chime-bulk report (expected schema "
        "'chime-bulk.report/1', found 'other/1'); nothing was sent",
    }
    for path, message in expected.items():
        done = chime_bulk("restore", str(path), "--endpoint-url", emulator.endpoint_url)
        assert (done.returncode, done.stderr.splitlines()) == (2, [message])
    assert writes(emulator) == []
