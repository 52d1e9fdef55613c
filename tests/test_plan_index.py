"""The CLI's on-disk plan index and result spool: the same plan as `read_plan`, results back
in plan order, an exact summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chime_bulk._io.plan_index import index_plan
from chime_bulk._io.plans import read_plan
from chime_bulk._io.result_spool import ResultSpool
from chime_bulk._model.errors import PlanError
from chime_bulk._model.results import AttendeeResult, Status

MEETING = "11111111-1111-1111-1111-111111111111"
IDS = [f"22222222-2222-2222-2222-2222222222{n:02d}" for n in range(10)]


def line(attendee: str, *, audio: str = "SendReceive", **extra: str) -> str:
    capabilities = {"Audio": audio, "Video": "None", "Content": "None"}
    return json.dumps(
        {"MeetingId": MEETING, "AttendeeId": attendee, "Capabilities": capabilities, **extra}
    )


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "plan.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_index_reads_the_plan_as_read_plan_does(tmp_path: Path) -> None:
    """Updates, their lines, repeats and the digest are the same as `read_plan`'s."""
    path = write(tmp_path, [line(IDS[0]), "", line(IDS[1]), line(IDS[0].upper()), line(IDS[2])])
    plan = read_plan(path)
    with index_plan(path) as index:
        assert [(n, u) for n, u in index.updates()] == list(
            zip(plan.lines, plan.updates, strict=True)
        )
        assert index.warnings == plan.warnings
        assert index.sha256 == plan.sha256
        assert len(index) == 3


def test_index_reports_the_same_problems(tmp_path: Path) -> None:
    """A bad plan raises the same PlanError from the index as from `read_plan`."""
    path = write(tmp_path, [line(IDS[0]), line("x"), line(IDS[0], audio="Receive"), "{"])
    with pytest.raises(PlanError) as from_plan:
        read_plan(path)
    with pytest.raises(PlanError) as from_index:
        index_plan(path)
    assert from_index.value.problems == from_plan.value.problems


def test_index_skips_invalid_lines_as_read_plan_does(tmp_path: Path) -> None:
    """With skip_invalid, the index's invalid and skipped lines are `read_plan`'s."""
    path = write(tmp_path, [line(IDS[0]), line("x"), line(IDS[1], audio="Loud"), "{"])
    plan = read_plan(path, skip_invalid=True)
    with index_plan(path, skip_invalid=True) as index:
        assert list(index.invalid()) == plan.invalid
        assert index.skipped == plan.skipped


def test_spool_returns_results_in_plan_order_with_an_exact_summary(tmp_path: Path) -> None:
    """Results added in any order come back in plan order; a second one for a line is
    ignored; the summary counts each once."""
    path = write(tmp_path, [line(attendee) for attendee in IDS])
    with index_plan(path) as index:
        updates = [update for _, update in index.updates()]
        spool = ResultSpool(index)
        for update in reversed(updates):
            spool.add(AttendeeResult.unsent(update, Status.PLANNED))
        spool.add(AttendeeResult.unsent(updates[0], Status.PLANNED))
        report = spool.build()
        assert [r.attendee_id for r in report.results] == IDS
        assert report.results[3].attendee_id == IDS[3]
        assert report.summary.by_status == {"planned": 10}
        assert len(report.results) == 10
        spool.close()


def test_journal_results_are_kept_on_disk_and_joined_in_plan_order(tmp_path: Path) -> None:
    """A journal's final results, matched by case-folded IDs, come back beside their updates;
    the rest have none, and the count is of this plan's attendees only."""
    path = write(tmp_path, [line(attendee) for attendee in IDS[:3]])
    with index_plan(path) as index:
        updates = [update for _, update in index.updates()]
        done = AttendeeResult.unsent(updates[1], Status.NOT_FOUND)
        stranger = AttendeeResult.unsent(updates[0], Status.SUCCEEDED)
        stranger = AttendeeResult.from_dict({**stranger.to_dict(), "attendee_id": IDS[9]})
        upper = AttendeeResult.from_dict({**done.to_dict(), "attendee_id": IDS[1].upper()})
        assert index.keep_done([done, stranger, upper]) == 1
        assert [(n, u, d) for n, u, d in index.resumed_updates()] == [
            (1, updates[0], None),
            (2, updates[1], upper),
            (3, updates[2], None),
        ]


def test_spooled_failures_are_read_from_disk(tmp_path: Path) -> None:
    """`failed()` of a spooled report counts, slices and iterates the not-ok results in plan
    order without holding them."""
    path = write(tmp_path, [line(attendee) for attendee in IDS])
    with index_plan(path) as index:
        spool = ResultSpool(index)
        for number, (_, update) in enumerate(index.updates()):
            status = Status.CANCELLED if number % 2 else Status.SUCCEEDED
            spool.add(AttendeeResult.unsent(update, status))
        failed = spool.build().failed()
        assert len(failed) == 5
        assert [r.attendee_id for r in failed[:2]] == [IDS[1], IDS[3]]
        assert [r.attendee_id for r in failed] == IDS[1::2]
        spool.close()
