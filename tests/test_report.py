"""The report: its file shape, its three formats, and the builder a run feeds."""

from __future__ import annotations

import csv
import json
import os
import pickle
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chime_bulk._io.report_files import CSV_COLUMNS, REPORT_SCHEMA
from chime_bulk._model.capabilities import Capabilities, Media
from chime_bulk._model.errors import ChimeBulkError, PlanError, RunAborted
from chime_bulk._model.report import Report, ReportBuilder
from chime_bulk._model.results import AttendeeResult, Status
from chime_bulk._model.summary import Summary, iso_utc, latency_percentiles, summarize

MEETING = "11111111-1111-1111-1111-111111111111"
A1 = "22222222-2222-2222-2222-222222222221"
A2 = "22222222-2222-2222-2222-222222222222"
A3 = "22222222-2222-2222-2222-222222222223"
OPEN = Capabilities("SendReceive", "Receive", "None")
MUTED = Capabilities("Receive", "Receive", "None")
START = datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)
END = datetime(2026, 11, 26, 10, 1, 2, 400_000, tzinfo=UTC)

SUCCEEDED = AttendeeResult(
    meeting_id=MEETING,
    attendee_id=A1,
    status=Status.SUCCEEDED,
    desired=OPEN,
    previous=MUTED,
    attempts=2,
    throttled=1,
    request_id="req-1",
    elapsed_s=0.41,
)
NOT_FOUND = AttendeeResult(
    meeting_id=MEETING,
    attendee_id=A2,
    status=Status.NOT_FOUND,
    desired=OPEN,
    attempts=1,
    error_code="NotFoundException",
    error_message="Attendee not found",
    elapsed_s=0.1,
    region="us-east-1",
)
UNCHANGED = AttendeeResult(
    meeting_id=MEETING, attendee_id=A3, status=Status.UNCHANGED, desired=OPEN, previous=OPEN
)


def ticking(*values: Any) -> Callable[[], Any]:
    """A clock that returns `values` one call after another."""
    iterator: Iterator[Any] = iter(values)
    return lambda: next(iterator)


def built(*results: AttendeeResult) -> Report:
    """A report built from `results` (in order) with a 62.4 s run from START to END."""
    builder = ReportBuilder(clock=ticking(100.0, 162.4), wall_clock=ticking(START, END))
    for index, result in enumerate(results):
        builder.add(result, index=index)
    return builder.build()


# -- the builder -------------------------------------------------------------------------------


def test_builder_orders_results_by_index_and_summarizes_the_run() -> None:
    """Results added in any order come out in index order, with exact totals and times."""
    builder = ReportBuilder(clock=ticking(100.0, 162.4), wall_clock=ticking(START, END))
    builder.add(UNCHANGED, index=2)
    builder.add(SUCCEEDED, index=0)
    builder.add(NOT_FOUND, index=1)
    assert len(builder) == 3
    report = builder.build(total=3)
    assert report.results == [SUCCEEDED, NOT_FOUND, UNCHANGED]
    assert report.summary == Summary(
        total=3,
        by_status={"succeeded": 1, "unchanged": 1, "not_found": 1},
        requests=3,
        throttled=1,
        retried=1,
        elapsed_s=62.4,
        started_at="2026-11-26T10:00:00Z",
        finished_at="2026-11-26T10:01:02Z",
        # nearest rank over the two results that sent something: 0.1 s and 0.41 s
        latency_ms={"p50": 100.0, "p90": 410.0, "p99": 410.0, "max": 410.0},
        sent=2,
    )


def test_builder_refuses_a_second_result_for_one_index() -> None:
    """Each update has exactly one result: adding an index twice is a ValueError."""
    builder = ReportBuilder()
    builder.add(SUCCEEDED, index=0)
    with pytest.raises(ValueError, match="index 0 was already added"):
        builder.add(NOT_FOUND, index=0)


def test_builder_refuses_to_build_with_a_gap() -> None:
    """An index without a result (an update lost) makes build() fail, naming the index."""
    builder = ReportBuilder()
    builder.add(SUCCEEDED, index=0)
    builder.add(SUCCEEDED, index=2)
    with pytest.raises(ValueError, match=r"1 update\(s\) have no result \(index 1\)"):
        builder.build()


def test_builder_total_catches_a_missing_last_result() -> None:
    """With `total`, missing results at the end are caught as well."""
    builder = ReportBuilder()
    builder.add(SUCCEEDED, index=0)
    with pytest.raises(ValueError, match=r"index 1, 2"):
        builder.build(total=3)


def test_builder_without_results_keeps_only_totals() -> None:
    """`keep_results=False` (streaming) builds a report with the summary but no results."""
    builder = ReportBuilder(keep_results=False)
    builder.add(NOT_FOUND, index=1)
    builder.add(SUCCEEDED, index=0)
    report = builder.build()
    assert report.results == []
    assert report.summary.total == 2
    assert report.summary.requests == 3
    assert report.summary.count(Status.NOT_FOUND) == 1


def test_builder_rejects_a_negative_index() -> None:
    """Indexes are positions in the run, so a negative one is a ValueError."""
    with pytest.raises(ValueError, match=">= 0"):
        ReportBuilder().add(SUCCEEDED, index=-1)


def test_latency_percentiles_are_nearest_rank_in_milliseconds() -> None:
    """1..100 ms gives p50 50, p90 90, p99 99, max 100; no values give no percentiles."""
    assert latency_percentiles([n / 1000 for n in range(100, 0, -1)]) == {
        "p50": 50.0,
        "p90": 90.0,
        "p99": 99.0,
        "max": 100.0,
    }
    assert latency_percentiles([]) == {}


def test_iso_utc_converts_to_utc_with_z() -> None:
    """Times are written in UTC with a Z; a naive datetime is taken to be UTC already."""
    plus_two = datetime.fromisoformat("2026-11-26T12:00:00.9+02:00")
    assert iso_utc(plus_two) == "2026-11-26T10:00:00Z"
    assert iso_utc(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"


def test_summary_count_is_zero_for_absent_statuses() -> None:
    """`Summary.count` answers for any status, 0 when none ended that way."""
    summary = built(SUCCEEDED).summary
    assert summary.count("succeeded") == 1
    assert summary.count(Status.FAILED) == 0


def test_ok_and_failed() -> None:
    """A report is ok only if every result is; `failed()` lists the others in order."""
    assert built(SUCCEEDED, UNCHANGED).ok
    report = built(SUCCEEDED, NOT_FOUND, UNCHANGED)
    assert not report.ok
    assert report.failed() == [NOT_FOUND]


# -- the file shape ----------------------------------------------------------------------------


def test_to_dict_has_the_documented_shape() -> None:
    """`to_dict` is the schema-1 document, capabilities as API dicts, region only when set."""
    document = built(SUCCEEDED, NOT_FOUND).to_dict()
    assert list(document) == ["schema", "summary", "results"]
    assert document["schema"] == REPORT_SCHEMA == "chime-bulk.report/1"
    assert document["summary"]["by_status"] == {"succeeded": 1, "not_found": 1}
    assert document["summary"]["started_at"] == "2026-11-26T10:00:00Z"
    assert document["results"][0] == {
        "meeting_id": MEETING,
        "attendee_id": A1,
        "status": "succeeded",
        "desired": {"Audio": "SendReceive", "Video": "Receive", "Content": "None"},
        "previous": {"Audio": "Receive", "Video": "Receive", "Content": "None"},
        "attempts": 2,
        "throttled": 1,
        "error_code": None,
        "error_message": None,
        "request_id": "req-1",
        "elapsed_s": 0.41,
    }
    assert document["results"][1]["region"] == "us-east-1"
    assert document["results"][1]["previous"] is None


def test_json_file_is_the_to_dict_document(tmp_path: Path) -> None:
    """The .json file parses to exactly `to_dict()`."""
    report = built(SUCCEEDED, NOT_FOUND, UNCHANGED)
    report.write(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == report.to_dict()


def test_empty_report_writes_valid_json(tmp_path: Path) -> None:
    """A run with no updates still writes a valid document with an empty results list."""
    built().write(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["results"] == []


def test_jsonl_file_is_one_result_per_line_then_the_summary(tmp_path: Path) -> None:
    """.jsonl: a result object per line, then one `{"summary": …}` line."""
    report = built(SUCCEEDED, NOT_FOUND)
    report.write(tmp_path / "r.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert lines == [
        SUCCEEDED.to_dict(),
        NOT_FOUND.to_dict(),
        {"summary": report.summary.to_dict()},
    ]


def test_csv_file_flattens_capabilities(tmp_path: Path) -> None:
    """.csv: one row per result, capabilities as audio…content and prev_audio…prev_content."""
    built(SUCCEEDED, NOT_FOUND).write(tmp_path / "r.csv")
    with (tmp_path / "r.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [rows[0][c] for c in ("audio", "video", "content")] == ["SendReceive", "Receive", "None"]
    assert [rows[0][c] for c in ("prev_audio", "prev_video", "prev_content")] == [
        "Receive",
        "Receive",
        "None",
    ]
    assert rows[1]["prev_audio"] == ""
    assert rows[1]["error_code"] == "NotFoundException"
    assert rows[1]["region"] == "us-east-1"
    assert len(rows) == 2


def test_unknown_suffix_is_a_value_error(tmp_path: Path) -> None:
    """Only .json, .jsonl and .csv are report formats; nothing is written otherwise."""
    with pytest.raises(ValueError, match=r"\.json, \.jsonl or \.csv"):
        built(SUCCEEDED).write(tmp_path / "r.txt")
    assert list(tmp_path.iterdir()) == []


def test_format_argument_overrides_the_suffix(tmp_path: Path) -> None:
    """`format=` writes and reads a file whose name says nothing."""
    report = built(SUCCEEDED)
    report.write(tmp_path / "report", format="jsonl")
    assert Report.read(tmp_path / "report", format="jsonl") == report


def test_no_report_ever_contains_a_join_token(tmp_path: Path) -> None:
    """Results carry no JoinToken, so no report format can leak one."""
    assert not any("token" in name.lower() for name in AttendeeResult.__dataclass_fields__)
    report = built(SUCCEEDED, NOT_FOUND, UNCHANGED)
    for suffix in (".json", ".jsonl", ".csv"):
        report.write(tmp_path / f"r{suffix}")
        assert "JoinToken" not in (tmp_path / f"r{suffix}").read_text()
    assert "JoinToken" not in json.dumps(report.to_dict())


# -- atomic writing ----------------------------------------------------------------------------


def test_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    """Writing over an old report replaces it whole; no temporary file is left behind."""
    target = tmp_path / "r.json"
    target.write_text("old")
    built(SUCCEEDED).write(target)
    assert json.loads(target.read_text())["summary"]["total"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    """If writing fails half-way, the old report is untouched and the temporary removed."""
    target = tmp_path / "r.json"
    target.write_text("old")
    good = built(SUCCEEDED)

    class FailingResults(Sequence[AttendeeResult]):
        """Results whose second item cannot be produced: the write fails mid-file."""

        def __len__(self) -> int:
            return 2

        def __getitem__(self, index: Any) -> Any:
            if index == 0:
                return good.results[0]
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        Report(results=FailingResults(), summary=good.summary).write(target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_written_file_mode_follows_the_umask(tmp_path: Path) -> None:
    """The report gets the mode a plain open() would give, not a temp file's 0600."""
    old = os.umask(0o022)
    try:
        built(SUCCEEDED).write(tmp_path / "r.json")
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


# -- reading back ------------------------------------------------------------------------------

# CSV cannot tell an empty string from a missing value, so generated strings are non-empty;
# lone surrogates cannot be UTF-8 encoded at all.
text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)
optional_text = st.none() | text
seconds = st.floats(min_value=0, max_value=1e5, allow_nan=False, allow_infinity=False)
capabilities = st.none() | st.builds(Capabilities, *[st.sampled_from(Media)] * 3)
counts = st.integers(min_value=0, max_value=10_000)
results = st.builds(
    AttendeeResult,
    meeting_id=text,
    attendee_id=text,
    status=st.sampled_from(Status),
    desired=capabilities,
    previous=capabilities,
    attempts=counts,
    throttled=counts,
    error_code=optional_text,
    error_message=optional_text,
    request_id=optional_text,
    elapsed_s=seconds,
    region=optional_text,
)
summaries = st.builds(
    Summary,
    total=counts,
    by_status=st.dictionaries(st.sampled_from([s.value for s in Status]), counts),
    requests=counts,
    throttled=counts,
    retried=counts,
    elapsed_s=seconds,
    started_at=text,
    finished_at=text,
    latency_ms=st.dictionaries(st.sampled_from(["p50", "p90", "p99", "max"]), seconds),
)
reports = st.builds(Report, results=st.lists(results, max_size=8), summary=summaries)
file_test = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@file_test
@given(report=reports, suffix=st.sampled_from([".json", ".jsonl"]))
def test_json_and_jsonl_round_trip(tmp_path: Path, report: Report, suffix: str) -> None:
    """`Report.read(write(report))` equals the report, results and summary alike."""
    path = tmp_path / f"{uuid.uuid4().hex}{suffix}"
    report.write(path)
    assert Report.read(path) == report


@file_test
@given(report=reports)
def test_csv_round_trips_results_and_recomputes_the_summary(tmp_path: Path, report: Report) -> None:
    """CSV keeps every result exactly; the summary is recomputed from them, times unknown."""
    path = tmp_path / f"{uuid.uuid4().hex}.csv"
    report.write(path)
    read = Report.read(path)
    assert read.results == report.results
    assert read.summary == summarize(report.results, started_at="", finished_at="", elapsed_s=0.0)


def test_csv_of_a_built_report_keeps_its_counts(tmp_path: Path) -> None:
    """For a builder-made report, CSV loses only the times: counts and latencies match."""
    report = built(SUCCEEDED, NOT_FOUND, UNCHANGED)
    report.write(tmp_path / "r.csv")
    summary = Report.read(tmp_path / "r.csv").summary
    assert summary.by_status == report.summary.by_status
    assert summary.latency_ms == report.summary.latency_ms
    assert (summary.requests, summary.retried, summary.throttled) == (3, 1, 1)
    assert summary.started_at == ""


def test_jsonl_without_summary_line_is_summarized(tmp_path: Path) -> None:
    """Result lines alone (say, filtered with grep) still read, with a recomputed summary."""
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(SUCCEEDED.to_dict()) + "\n")
    report = Report.read(path)
    assert report.results == [SUCCEEDED]
    assert report.summary.requests == 2


def read_problems(path: Path) -> list[tuple[int | None, str]]:
    with pytest.raises(PlanError) as caught:
        Report.read(path)
    return [(problem.line, problem.message) for problem in caught.value.problems]


def test_invalid_json_report_names_the_line(tmp_path: Path) -> None:
    """A .json report that is not JSON fails with the line of the syntax error."""
    path = tmp_path / "r.json"
    path.write_text('{"schema": "chime-bulk.report/1",\n oops}')
    assert read_problems(path) == [
        (2, "not valid JSON: Expecting property name enclosed in double quotes")
    ]


def test_json_of_another_schema_is_refused(tmp_path: Path) -> None:
    """A JSON file that is not a chime-bulk report is refused as such."""
    path = tmp_path / "r.json"
    path.write_text('{"schema": "other/2"}')
    [(line, message)] = read_problems(path)
    assert line == 1
    assert message.startswith("not a chime-bulk report")


def test_bad_result_in_json_report_is_located(tmp_path: Path) -> None:
    """A bad result in a .json report is named by its position in `results`."""
    document = built(SUCCEEDED, NOT_FOUND).to_dict()
    document["results"][1]["status"] = "done"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(document))
    [(_, message)] = read_problems(path)
    assert message.startswith("results[1]: status 'done' is not one of succeeded, unchanged")


def test_every_bad_jsonl_line_is_reported(tmp_path: Path) -> None:
    """Bad lines of a .jsonl report are all reported, each with its line number."""
    good = json.dumps(SUCCEEDED.to_dict())
    wrong_type = json.dumps({**SUCCEEDED.to_dict(), "attempts": "2"})
    unknown_key = json.dumps({**SUCCEEDED.to_dict(), "JoinToken": "x"})
    summary = json.dumps({"summary": built(SUCCEEDED).summary.to_dict()})
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([good, "{", wrong_type, unknown_key, summary, good]) + "\n")
    assert read_problems(path) == [
        (2, "not valid JSON: Expecting property name enclosed in double quotes"),
        (3, "attempts must be an integer, got a string"),
        (4, "unknown key(s) ['JoinToken']"),
        (6, "nothing may follow the summary line (line 5)"),
    ]


def test_bad_csv_rows_are_reported_with_their_lines(tmp_path: Path) -> None:
    """Bad cells and short rows of a CSV report are reported with physical line numbers."""
    path = tmp_path / "r.csv"
    built(SUCCEEDED, NOT_FOUND).write(path)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace(",2,1,", ",two,1,")
    lines.append("a,b")
    path.write_text("\n".join(lines) + "\n")
    assert read_problems(path) == [
        (2, "attempts must be a number, got 'two'"),
        (4, f"expected {len(CSV_COLUMNS)} fields, got 2"),
    ]


def test_csv_with_foreign_header_is_refused(tmp_path: Path) -> None:
    """A CSV without the report's columns (a plan, say) is refused on its header line."""
    path = tmp_path / "r.csv"
    path.write_text("meeting_id,attendee_id,audio,video,content\n")
    [(line, message)] = read_problems(path)
    assert line == 1
    assert "missing ['status'" in message


def test_missing_report_is_a_plan_error(tmp_path: Path) -> None:
    """Reading a report that is not there is a PlanError naming it."""
    with pytest.raises(PlanError, match=r"nope\.json: cannot read"):
        Report.read(tmp_path / "nope.json")


# -- RunAborted --------------------------------------------------------------------------------


def test_run_aborted_carries_the_report_and_the_error_code() -> None:
    """RunAborted keeps the complete report and the fatal error code, and says both."""
    cancelled = AttendeeResult(
        meeting_id=MEETING, attendee_id=A2, status=Status.CANCELLED, desired=OPEN
    )
    report = built(SUCCEEDED, cancelled)
    error = RunAborted(report, error_code="ForbiddenException")
    assert isinstance(error, ChimeBulkError)
    assert error.report is report
    assert error.error_code == "ForbiddenException"
    assert (
        str(error) == "run aborted by a fatal error (ForbiddenException); 1 of 2 updates cancelled"
    )


def test_run_aborted_survives_pickling() -> None:
    """RunAborted pickles (as exceptions crossing process boundaries must) with its report."""
    error = RunAborted(built(SUCCEEDED), error_code="UnauthorizedClientException", message="stop")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.report, copy.error_code, str(copy)) == (error.report, error.error_code, "stop")


def test_plan_error_survives_pickling() -> None:
    """PlanError pickles with its problems."""
    error = PlanError.single("bad", line=3, source="p.csv")
    assert pickle.loads(pickle.dumps(error)).problems == error.problems


def test_summary_of_an_older_report_reads_without_the_new_figures() -> None:
    """A `chime-bulk.report/1` summary written before `sent` and `queued_ms` existed reads,
    with `sent=None`, no queueing figures and no updates/s (it cannot be known)."""
    old = {
        "total": 3000,
        "by_status": {"succeeded": 2998, "not_found": 2},
        "requests": 3107,
        "throttled": 61,
        "retried": 107,
        "elapsed_s": 62.4,
        "started_at": "2026-11-26T10:00:00Z",
        "finished_at": "2026-11-26T10:01:02Z",
    }
    summary = Summary.from_dict(old)
    assert (summary.sent, summary.queued_ms, summary.latency_ms) == (None, {}, {})
    assert summary.updates_per_s is None
    assert summary.requests_per_s == pytest.approx(3107 / 62.4)
    assert Summary.from_dict(summary.to_dict()) == summary


def test_truncated_json_report_says_it_ends_early(tmp_path: Path) -> None:
    """A .json report cut off part-way is one problem saying the file ends early, on its line."""
    path = tmp_path / "r.json"
    text = json.dumps(built(SUCCEEDED, NOT_FOUND).to_dict(), indent=1)
    path.write_text(text[: len(text) // 2])
    [(line, message)] = read_problems(path)
    assert message == "the file ends early (truncated?)"
    assert line == text[: len(text) // 2].count("\n") + 1


def test_truncated_jsonl_report_names_its_torn_last_line(tmp_path: Path) -> None:
    """A .jsonl report whose last line is cut off says so on that line."""
    path = tmp_path / "r.jsonl"
    good = json.dumps(SUCCEEDED.to_dict())
    path.write_text(f"{good}\n{good[:40]}")
    assert read_problems(path) == [(2, "the last line is cut short (truncated?)")]


def test_jsonl_of_another_kind_is_refused_once(tmp_path: Path) -> None:
    """A plan passed as a .jsonl report is one problem on line 1, not one per line."""
    path = tmp_path / "r.jsonl"
    line = json.dumps({"MeetingId": "m", "AttendeeId": "a", "Capabilities": {}})
    path.write_text(f"{line}\n" * 50)
    assert read_problems(path) == [
        (
            1,
            "not a chime-bulk .jsonl report: its first line has no 'status' "
            "(found keys ['AttendeeId', 'Capabilities', 'MeetingId'])",
        )
    ]


def test_csv_report_without_its_header_row_says_so(tmp_path: Path) -> None:
    """A CSV whose first line is data is 'no header row', not one unknown column per cell."""
    path = tmp_path / "r.csv"
    path.write_text("79ee1d05-0000-4000-8000-000000000000,x,succeeded\n")
    assert read_problems(path) == [
        (1, "not a chime-bulk CSV report: no header row (expected meeting_id,attendee_id,status,…)")
    ]
