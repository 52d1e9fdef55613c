"""The resume journal: append-only, torn-tail tolerant, strict elsewhere, tied to one plan."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from chime_bulk._io.journal import JOURNAL_SCHEMA, Journal, load_journal
from chime_bulk._model.capabilities import Capabilities
from chime_bulk._model.errors import JournalError, PlanError
from chime_bulk._model.results import AttendeeResult, Status

MEETING = "11111111-1111-1111-1111-111111111111"
PLAN = "a" * 64
OTHER_PLAN = "b" * 64
OPEN = Capabilities("SendReceive", "None", "None")


def result(attendee: str, status: Status = Status.SUCCEEDED, **fields: object) -> AttendeeResult:
    return AttendeeResult(
        meeting_id=MEETING,
        attendee_id=attendee,
        status=status,
        desired=OPEN,
        attempts=1,
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_first_line_is_the_header_naming_the_plan(tmp_path: Path) -> None:
    """A new journal starts with the schema header carrying the plan's digest (or null)."""
    with Journal.open(tmp_path / "j.jsonl", plan_sha256=PLAN):
        pass
    with Journal.open(tmp_path / "k.jsonl"):
        pass
    assert json.loads(lines_of(tmp_path / "j.jsonl")[0]) == {"schema": JOURNAL_SCHEMA, "plan": PLAN}
    assert json.loads(lines_of(tmp_path / "k.jsonl")[0]) == {"schema": JOURNAL_SCHEMA, "plan": None}


def test_recorded_final_results_load_by_attendee(tmp_path: Path) -> None:
    """Final results come back keyed by (meeting, attendee); cancelled and planned do not."""
    path = tmp_path / "j.jsonl"
    done = result("a1", request_id="r1", elapsed_s=0.25)
    failed = result("a2", Status.FAILED, error_code="BadRequestException")
    with Journal.open(path, plan_sha256=PLAN) as journal:
        journal.record(0, done)
        journal.record(1, failed)
        journal.record(2, result("a3", Status.CANCELLED))
        journal.record(3, result("a4", Status.PLANNED))
        journal.record(4, result("a5", Status.NOT_FOUND))
    loaded = load_journal(path, plan_sha256=PLAN)
    assert loaded == {
        (MEETING, "a1"): done,
        (MEETING, "a2"): failed,
        (MEETING, "a5"): result("a5", Status.NOT_FOUND),
    }
    assert json.loads(lines_of(path)[1])["index"] == 0


def test_the_last_final_result_for_an_attendee_wins(tmp_path: Path) -> None:
    """A later final record replaces an earlier one; a later cancelled one does not."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as journal:
        journal.record(0, result("a1", Status.FAILED))
        journal.record(1, result("a1", Status.SUCCEEDED))
        journal.record(2, result("a1", Status.CANCELLED))
    assert load_journal(path)[(MEETING, "a1")].status is Status.SUCCEEDED


def test_records_are_written_every_flush_every_results(tmp_path: Path) -> None:
    """Records reach the file in batches of `flush_every`, and on `flush()`."""
    path = tmp_path / "j.jsonl"
    journal = Journal.open(path, flush_every=3)
    try:
        journal.record(0, result("a1"))
        journal.record(1, result("a2"))
        assert len(lines_of(path)) == 1  # only the header so far
        journal.record(2, result("a3"))
        assert len(lines_of(path)) == 4
        journal.record(3, result("a4"))
        journal.flush()
        assert len(lines_of(path)) == 5
    finally:
        journal.close()
    assert journal.closed


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    """A crash mid-write leaves half a line at the end: it is skipped, the rest loads."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as journal:
        journal.record(0, result("a1"))
    with path.open("ab") as stream:
        stream.write(b'{"index": 1, "meeting_id": "11111111-')
    assert list(load_journal(path)) == [(MEETING, "a1")]


def test_garbage_before_the_last_line_is_an_error_with_its_line(tmp_path: Path) -> None:
    """Only the last line may be torn: a bad line elsewhere is a JournalError on that line."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as journal:
        journal.record(0, result("a1"))
    with path.open("ab") as stream:
        stream.write(b'{"index": 1, "meeting_id"\n')
        stream.write(json.dumps({"index": 2, "status": "succeeded"}).encode() + b"\n")
        stream.write(json.dumps({"index": 3, **result("a4").to_dict()}).encode() + b"\n")
    with pytest.raises(JournalError) as caught:
        load_journal(path)
    assert [problem.line for problem in caught.value.problems] == [3, 4]
    assert "missing key(s) ['meeting_id', 'attendee_id']" in caught.value.problems[1].message
    assert isinstance(caught.value, PlanError)
    assert str(caught.value).startswith(f"{path}:3: not a journal record")


def test_a_complete_last_line_of_garbage_is_an_error(tmp_path: Path) -> None:
    """A last line that ends with a newline was written whole, so garbage there is an error."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path):
        pass
    with path.open("ab") as stream:
        stream.write(b"garbage\n")
    with pytest.raises(JournalError, match=r"j\.jsonl:2: not a journal record"):
        load_journal(path)


def test_record_without_an_index_is_an_error(tmp_path: Path) -> None:
    """Every record names the run index it belongs to."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path):
        pass
    with path.open("a") as stream:
        stream.write(json.dumps(result("a1").to_dict()) + "\n")
    with pytest.raises(JournalError, match="'index' must be an integer >= 0, got None"):
        load_journal(path)


def test_a_journal_of_another_plan_is_refused(tmp_path: Path) -> None:
    """Loading with a plan digest that differs from the header's fails on line 1."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path, plan_sha256=PLAN) as journal:
        journal.record(0, result("a1"))
    with pytest.raises(JournalError) as caught:
        load_journal(path, plan_sha256=OTHER_PLAN)
    [problem] = caught.value.problems
    assert problem.line == 1
    assert "belongs to another plan" in problem.message
    assert load_journal(path) != {}  # without a digest to check against, it loads


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    """A file whose first line is not the journal header (a plan, say) is refused."""
    path = tmp_path / "j.jsonl"
    path.write_text('{"MeetingId": "x"}\n')
    with pytest.raises(JournalError, match=r"j\.jsonl:1: not a chime-bulk journal"):
        load_journal(path)


@pytest.mark.parametrize("content", [b"", b'{"schema": "chime-bu'], ids=["empty", "torn-header"])
def test_journal_torn_before_its_header_was_written_is_empty(
    tmp_path: Path, content: bytes
) -> None:
    """A crash before the header was complete means nothing was recorded."""
    path = tmp_path / "j.jsonl"
    path.write_bytes(content)
    assert load_journal(path, plan_sha256=PLAN) == {}


def test_resume_appends_after_cutting_the_torn_line(tmp_path: Path) -> None:
    """Resuming checks the plan, drops a torn tail, and appends; the result loads cleanly."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path, plan_sha256=PLAN) as journal:
        journal.record(0, result("a1"))
    with path.open("ab") as stream:
        stream.write(b'{"index": 1, "meet')
    with Journal.open(path, plan_sha256=PLAN, resume=True) as journal:
        journal.record(1, result("a2"))
    assert set(load_journal(path, plan_sha256=PLAN)) == {(MEETING, "a1"), (MEETING, "a2")}
    assert len(lines_of(path)) == 3


def test_resume_refuses_another_plans_journal(tmp_path: Path) -> None:
    """Appending to a journal of a different plan is refused, and the file is untouched."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path, plan_sha256=PLAN) as journal:
        journal.record(0, result("a1"))
    before = path.read_bytes()
    with pytest.raises(JournalError, match="another plan"):
        Journal.open(path, plan_sha256=OTHER_PLAN, resume=True)
    assert path.read_bytes() == before


def test_resume_without_a_journal_starts_one(tmp_path: Path) -> None:
    """`resume=True` on a missing file starts a fresh journal with the header."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path, plan_sha256=PLAN, resume=True) as journal:
        journal.record(0, result("a1"))
    assert load_journal(path, plan_sha256=PLAN) == {(MEETING, "a1"): result("a1")}


def test_opening_without_resume_starts_afresh(tmp_path: Path) -> None:
    """Without resume, an old journal at the path is replaced."""
    path = tmp_path / "j.jsonl"
    with Journal.open(path, plan_sha256=OTHER_PLAN) as journal:
        journal.record(0, result("a1"))
    with Journal.open(path, plan_sha256=PLAN):
        pass
    assert load_journal(path, plan_sha256=PLAN) == {}


def test_record_after_close_is_an_error(tmp_path: Path) -> None:
    """A closed journal refuses records rather than losing them silently; closing twice is fine."""
    journal = Journal.open(tmp_path / "j.jsonl")
    journal.close()
    journal.close()
    with pytest.raises(ValueError, match="closed"):
        journal.record(0, result("a1"))


def test_flush_every_must_be_positive(tmp_path: Path) -> None:
    """A batch size below one is a ValueError naming the setting."""
    with pytest.raises(ValueError, match="flush_every"):
        Journal.open(tmp_path / "j.jsonl", flush_every=0)


@pytest.mark.anyio
async def test_async_context_manager_flushes_and_closes(tmp_path: Path) -> None:
    """`async with` closes the journal (in a worker thread) with every record on disk."""
    path = tmp_path / "j.jsonl"
    async with Journal.open(path, flush_every=1000) as journal:
        journal.record(0, result("a1"))
    assert journal.closed
    assert list(load_journal(path)) == [(MEETING, "a1")]


@pytest.mark.anyio
async def test_aclose_in_a_cancelled_scope_still_closes(tmp_path: Path) -> None:
    """A cancelled run still gets its journal written: aclose is shielded."""
    path = tmp_path / "j.jsonl"
    journal = Journal.open(path, flush_every=1000)
    journal.record(0, result("a1"))
    with anyio.CancelScope() as scope:
        scope.cancel()
        await journal.aclose()
    assert journal.closed
    assert list(load_journal(path)) == [(MEETING, "a1")]
