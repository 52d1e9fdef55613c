"""Reading and writing plan files: every bad line reported with its number, nothing lost."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chime_bulk._io.plans import InvalidLine, Plan, read_plan, write_plan
from chime_bulk._model.capabilities import Capabilities, Media
from chime_bulk._model.errors import ChimeBulkError, PlanError, PlanProblem
from chime_bulk._model.update import Update

MEETING = "11111111-1111-1111-1111-111111111111"
OTHER_MEETING = "33333333-3333-3333-3333-333333333333"
A1 = "22222222-2222-2222-2222-222222222221"
A2 = "22222222-2222-2222-2222-222222222222"
A3 = "22222222-2222-2222-2222-222222222223"
CSV_COLUMNS = ("meeting_id", "attendee_id", "audio", "video", "content", "region")
AUDIO_ONLY = Capabilities("SendReceive", "None", "None")
MUTED = Capabilities("Receive", "None", "None")


def obj(
    attendee: str = A1,
    *,
    meeting: Any = MEETING,
    audio: Any = "SendReceive",
    video: Any = "None",
    content: Any = "None",
    **extra: Any,
) -> str:
    """One JSONL plan line."""
    data = {
        "MeetingId": meeting,
        "AttendeeId": attendee,
        "Capabilities": {"Audio": audio, "Video": video, "Content": content},
        **extra,
    }
    return json.dumps(data)


def plan_file(tmp_path: Path, text: str, name: str = "plan.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, **kwargs: Any) -> list[tuple[int | None, str]]:
    """The (line, message) pairs of the PlanError reading `path` raises."""
    with pytest.raises(PlanError) as caught:
        read_plan(path, **kwargs)
    return [(problem.line, problem.message) for problem in caught.value.problems]


# -- JSONL -----------------------------------------------------------------------------------


def test_jsonl_plan_is_read_in_order_with_line_numbers_and_digest(tmp_path: Path) -> None:
    """Updates come back in file order, with physical line numbers (blank lines counted)."""
    text = f"{obj(A1)}\n\n{obj(A2, audio='Receive', Region='eu-central-1')}\n   \n{obj(A3)}\n"
    path = plan_file(tmp_path, text)
    plan = read_plan(path)
    assert plan.updates == [
        Update(meeting_id=MEETING, attendee_id=A1, capabilities=AUDIO_ONLY),
        Update(meeting_id=MEETING, attendee_id=A2, capabilities=MUTED, region="eu-central-1"),
        Update(meeting_id=MEETING, attendee_id=A3, capabilities=AUDIO_ONLY),
    ]
    assert plan.lines == [1, 3, 5]
    assert plan.source == str(path)
    assert plan.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert plan.warnings == []
    assert plan.invalid == []
    assert len(plan) == 3


def test_ndjson_suffix_is_jsonl(tmp_path: Path) -> None:
    """`.ndjson` is read as JSON lines."""
    plan = read_plan(plan_file(tmp_path, obj() + "\n", "plan.NDJSON"))
    assert plan.updates == [Update(meeting_id=MEETING, attendee_id=A1, capabilities=AUDIO_ONLY)]


def test_equal_capabilities_are_one_shared_object(tmp_path: Path) -> None:
    """Updates with the same capabilities share one `Capabilities` object (memory)."""
    plan = read_plan(plan_file(tmp_path, f"{obj(A1)}\n{obj(A2)}\n"))
    assert plan.updates[0].capabilities is plan.updates[1].capabilities


def test_misspelt_top_level_key_is_named_with_its_likely_meaning(tmp_path: Path) -> None:
    """`Capabilites` is an error on its line that suggests `Capabilities`, said once."""
    bad = obj().replace('"Capabilities"', '"Capabilites"')
    path = plan_file(tmp_path, f"{obj(A2)}\n{bad}\n")
    assert problems_of(path) == [
        (2, "unknown key 'Capabilites' (did you mean 'Capabilities'?)"),
    ]


def test_misspelt_capability_key_is_named(tmp_path: Path) -> None:
    """A typo inside Capabilities is caught too, with its suggestion and line."""
    bad = obj().replace('"Video"', '"Vidoe"')
    assert problems_of(plan_file(tmp_path, bad + "\n")) == [
        (1, "unknown key 'Vidoe' in Capabilities (did you mean 'Video'?)")
    ]


def test_unknown_key_without_a_likely_meaning_lists_the_expected_keys(tmp_path: Path) -> None:
    """A key resembling nothing gets the list of allowed keys instead of a guess."""
    path = plan_file(tmp_path, obj(Zzz=1) + "\n")
    assert problems_of(path) == [
        (1, "unknown key 'Zzz'; expected MeetingId, AttendeeId, Capabilities, Region")
    ]


def test_missing_key_is_an_error(tmp_path: Path) -> None:
    """A line without AttendeeId is reported as missing that key."""
    text = json.dumps({"MeetingId": MEETING, "Capabilities": AUDIO_ONLY.to_api()})
    assert problems_of(plan_file(tmp_path, text + "\n")) == [(1, "missing key 'AttendeeId'")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(obj(meeting=7), "MeetingId must be a string, got a number", id="meeting"),
        pytest.param(obj(Region=["x"]), "Region must be a string, got an array", id="region"),
        pytest.param(
            obj(video=None),
            'Capabilities.Video must be a string, got null (write "None" to turn it off)',
            id="null-capability",
        ),
        pytest.param(
            json.dumps({"MeetingId": MEETING, "AttendeeId": A1, "Capabilities": "None"}),
            "Capabilities must be an object, got a string",
            id="capabilities",
        ),
        pytest.param(
            obj(audio="sendreceive"),
            "Capabilities.Audio 'sendreceive' is not a capability "
            "(expected SendReceive | Send | Receive | None) (did you mean 'SendReceive'?)",
            id="value",
        ),
        pytest.param("[1, 2]", "expected a JSON object {...}, got an array", id="array"),
        pytest.param('{"MeetingId": 1,', "not valid JSON: Expecting property name", id="syntax"),
        pytest.param(
            obj().replace("{", '{"AttendeeId": "x", ', 1),
            "key 'AttendeeId' appears twice",
            id="duplicate-key",
        ),
    ],
)
def test_malformed_line_is_reported_on_its_line(tmp_path: Path, line: str, message: str) -> None:
    """Wrong types, values, syntax and repeated keys are errors on the line they are on."""
    path = plan_file(tmp_path, f"{obj(A2)}\n{obj(A3)}\n{line}\n")
    [(number, found)] = problems_of(path)
    assert number == 3
    assert found.startswith(message)


def test_every_bad_line_is_reported_not_just_the_first(tmp_path: Path) -> None:
    """Three bad lines among good ones give three problems, in line order, and nothing else."""
    lines = [obj(A1), "{oops", obj(A2), obj("not-an-id"), obj(A3, content="Receive")]
    path = plan_file(tmp_path, "\n".join(lines) + "\n")
    problems = problems_of(path)
    assert [number for number, _ in problems] == [2, 4, 5]
    assert "attendee ID 'not-an-id' is not a valid Chime ID" in problems[1][1]
    assert "Content Receive requires Video SendReceive or Receive" in problems[2][1]


def test_plan_error_lists_every_problem_as_path_line_message(tmp_path: Path) -> None:
    """`str(PlanError)` is one `path:LINE: message` line per problem."""
    path = plan_file(tmp_path, f"{{\n{obj(meeting='m')}\n")
    with pytest.raises(PlanError) as caught:
        read_plan(path)
    assert str(caught.value).splitlines() == [
        f"{path}:1: not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{path}:2: meeting ID 'm' is not a valid Chime ID",
    ]
    assert isinstance(caught.value, ChimeBulkError)


def test_plan_problem_without_line_or_source_still_reads_well() -> None:
    """A file-level problem has no line number; an unnamed source prints as <plan>."""
    assert str(PlanProblem(None, "empty", "p.csv")) == "p.csv: empty"
    assert str(PlanProblem(4, "bad")) == "<plan>:4: bad"


def test_bad_region_is_invalid(tmp_path: Path) -> None:
    """A Region that is not a Region name (a likely typo) is a problem on its line."""
    path = plan_file(tmp_path, f"{obj(A1, Region='us-east1')}\n{obj(A2, Region=None)}\n")
    assert problems_of(path) == [
        (1, "Region 'us-east1' is not an AWS Region name such as 'us-east-1'")
    ]
    assert read_plan(plan_file(tmp_path, obj(Region=None) + "\n")).updates[0].region is None


def test_undecodable_line_is_reported_on_its_line(tmp_path: Path) -> None:
    """A line that is not UTF-8 is an error with its line number; later lines keep theirs."""
    path = tmp_path / "plan.jsonl"
    path.write_bytes(f"{obj(A1)}\n".encode() + b"\xff\xfe\n" + f"{obj('x')}\n".encode())
    assert problems_of(path) == [
        (2, "not UTF-8 text"),
        (3, "attendee ID 'x' is not a valid Chime ID"),
    ]


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    """A UTF-8 BOM (as some editors write) does not break the first line."""
    path = tmp_path / "plan.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + obj().encode() + b"\n")
    assert read_plan(path).updates == [
        Update(meeting_id=MEETING, attendee_id=A1, capabilities=AUDIO_ONLY)
    ]


# -- validation, skipping and duplicates -----------------------------------------------------


def test_skip_invalid_keeps_bad_but_parseable_lines_aside(tmp_path: Path) -> None:
    """With skip_invalid, bad IDs and forbidden combinations go to `plan.invalid`."""
    lines = [obj(A1), obj("nope"), obj(A2, content="SendReceive"), obj(A3)]
    plan = read_plan(plan_file(tmp_path, "\n".join(lines)), skip_invalid=True)
    assert [u.attendee_id for u in plan.updates] == [A1, A3]
    assert plan.lines == [1, 4]
    assert [(entry.line, entry.attendee_id) for entry in plan.invalid] == [
        (2, "nope"),
        (3, A2),
    ]
    first: InvalidLine = plan.invalid[0]
    assert first.problems == ("attendee ID 'nope' is not a valid Chime ID",)


def test_skip_invalid_skips_every_line_level_problem(tmp_path: Path) -> None:
    """With skip_invalid, a bad value or an unknown key is `invalid` with the IDs read from
    its line, and a line with no readable IDs (bad JSON) is a skipped problem, not an error."""
    lines = [obj(A1), obj(A2, audio="Loud"), obj(A3, Capabilites={}), "{oops", obj(A3)]
    plan = read_plan(plan_file(tmp_path, "\n".join(lines)), skip_invalid=True)
    assert [u.attendee_id for u in plan.updates] == [A1, A3]
    assert [(e.line, e.update, e.meeting_id, e.attendee_id) for e in plan.invalid] == [
        (2, None, MEETING, A2),
        (3, None, MEETING, A3),
    ]
    assert plan.invalid[0].result().error_message == (
        "Capabilities.Audio 'Loud' is not a capability "
        "(expected SendReceive | Send | Receive | None)"
    )
    assert plan.invalid[1].result().status == "invalid"
    assert [(p.line, p.message) for p in plan.skipped] == [
        (4, "not valid JSON: Expecting property name enclosed in double quotes (column 2)")
    ]


def test_skip_invalid_still_rejects_contradicting_lines(tmp_path: Path) -> None:
    """One attendee with two sets of capabilities fails the plan even with skip_invalid."""
    path = plan_file(tmp_path, f"{obj(A1)}\n{obj(A1, audio='Receive')}\n")
    assert [number for number, _ in problems_of(path, skip_invalid=True)] == [2]


def test_ids_differing_only_in_case_are_the_same_attendee(tmp_path: Path) -> None:
    """IDs are UUIDs (case-insensitive): upper and lower case of one attendee are a repeat."""
    path = plan_file(tmp_path, f"{obj(A1)}\n{obj(A1.upper(), meeting=MEETING.upper())}\n")
    plan = read_plan(path)
    assert plan.lines == [1]
    assert plan.warnings == [
        f"{path}:2: attendee {A1.upper()} of meeting {MEETING.upper()} repeats line 1 "
        "with the same capabilities; it is sent once"
    ]
    conflict = plan_file(tmp_path, f"{obj(A1)}\n{obj(A1.upper(), audio='Receive')}\n")
    assert len(problems_of(conflict)) == 1


def test_same_attendee_twice_with_same_capabilities_is_sent_once(tmp_path: Path) -> None:
    """An exact repeat is dropped, and a warning names both lines."""
    path = plan_file(tmp_path, f"{obj(A1)}\n{obj(A2)}\n\n{obj(A1)}\n")
    plan = read_plan(path)
    assert [u.attendee_id for u in plan.updates] == [A1, A2]
    assert plan.lines == [1, 2]
    [warning] = plan.warnings
    assert warning.startswith(f"{path}:4: ")
    assert "repeats line 1" in warning


def test_same_attendee_twice_with_different_capabilities_is_rejected(tmp_path: Path) -> None:
    """Conflicting lines for one attendee fail the plan, naming both lines."""
    path = plan_file(tmp_path, f"{obj(A1)}\n{obj(A2)}\n{obj(A1, audio='Receive')}\n")
    [(number, message)] = problems_of(path)
    assert number == 3
    assert "on line 1 with audio=SendReceive" in message
    assert "on line 3 with audio=Receive" in message


def test_same_attendee_in_two_regions_is_rejected(tmp_path: Path) -> None:
    """The same attendee and capabilities but another Region is a conflict, not a repeat."""
    path = plan_file(tmp_path, f"{obj(A1, Region='us-east-1')}\n{obj(A1, Region='us-west-2')}\n")
    [(number, message)] = problems_of(path)
    assert number == 2
    assert "on line 1 with" in message
    assert "in us-west-2" in message


def test_one_meeting_in_two_regions_is_rejected(tmp_path: Path) -> None:
    """Two attendees of one meeting given different Regions contradict each other."""
    path = plan_file(tmp_path, f"{obj(A1, Region='us-east-1')}\n{obj(A2, Region='eu-west-1')}\n")
    [(number, message)] = problems_of(path)
    assert number == 2
    assert "us-east-1 on line 1" in message
    assert "eu-west-1 on line 2" in message


@pytest.mark.parametrize("text", ["", "\n\n  \n"], ids=["empty", "blank-lines"])
def test_empty_plan_is_not_an_error(tmp_path: Path, text: str) -> None:
    """A plan with no updates reads as empty, with a warning."""
    plan = read_plan(plan_file(tmp_path, text))
    assert plan.updates == []
    assert plan.warnings == [f"{tmp_path / 'plan.jsonl'}: the plan is empty; nothing to send"]


def test_plan_with_only_invalid_lines_warns(tmp_path: Path) -> None:
    """When skip_invalid leaves nothing to send, the warning says so."""
    plan = read_plan(plan_file(tmp_path, obj("x") + "\n"), skip_invalid=True)
    assert plan.updates == []
    assert "no line of the plan is valid" in plan.warnings[0]


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_plan_with_region_column(tmp_path: Path) -> None:
    """CSV rows become updates; an empty region cell means the default Region."""
    text = (
        "meeting_id,attendee_id,audio,video,content,region\n"
        f"{MEETING},{A1},SendReceive,None,None,us-east-1\n"
        f"{MEETING},{A2}, Receive ,None,None,\n"
    )
    plan = read_plan(plan_file(tmp_path, text, "plan.csv"))
    assert plan.updates == [
        Update(meeting_id=MEETING, attendee_id=A1, capabilities=AUDIO_ONLY, region="us-east-1"),
        Update(meeting_id=MEETING, attendee_id=A2, capabilities=MUTED),
    ]
    assert plan.lines == [2, 3]


def test_csv_columns_may_come_in_any_order(tmp_path: Path) -> None:
    """Columns are found by name, so their order does not matter."""
    text = f"content,video,audio,attendee_id,meeting_id\nNone,None,Receive,{A1},{MEETING}\n"
    assert read_plan(plan_file(tmp_path, text, "p.csv")).updates == [
        Update(meeting_id=MEETING, attendee_id=A1, capabilities=MUTED)
    ]


def test_csv_line_numbers_are_physical(tmp_path: Path) -> None:
    """Blank lines, the header and a quoted field spanning lines all count as lines."""
    text = (
        "meeting_id,attendee_id,audio,video,content\n"
        "\n"
        f'{MEETING},"{A1}\nX",None,None,None\n'
        f"{MEETING},{A2},Nope,None,None\n"
        ",,,,\n"
        f"{MEETING},{A3},None,None\n"
    )
    problems = problems_of(plan_file(tmp_path, text, "plan.csv"))
    assert [number for number, _ in problems] == [3, 5, 7]
    assert problems[1][1].startswith("audio 'Nope' is not a capability")
    assert problems[2][1] == "expected 5 fields (meeting_id,attendee_id,audio,video,content), got 4"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(
            "meeting_id,atendee_id,audio,video,content",
            [(1, "unknown column 'atendee_id' (did you mean 'attendee_id'?)")],
            id="typo",
        ),
        pytest.param(
            "meeting_id,attendee_id,audio,video",
            [(1, "missing column 'content'")],
            id="missing",
        ),
        pytest.param(
            "meeting_id,attendee_id,audio,video,content,audio",
            [(1, "column 'audio' appears twice")],
            id="repeated",
        ),
        pytest.param(
            "meeting_id,attendee_id,audio,video,content,notes",
            [(1, "unknown column 'notes'; expected " + ",".join(CSV_COLUMNS))],
            id="unknown",
        ),
    ],
)
def test_csv_header_problems(tmp_path: Path, header: str, expected: list[tuple[int, str]]) -> None:
    """A bad header is reported on line 1 and stops the read (no row can be trusted)."""
    path = plan_file(tmp_path, f"{header}\n{MEETING},{A1},None,None,None\n", "plan.csv")
    assert problems_of(path) == expected


def test_csv_unterminated_quote_is_an_error(tmp_path: Path) -> None:
    """A quote that never closes is a CSV syntax error, not a silently merged row."""
    text = f'meeting_id,attendee_id,audio,video,content\n{MEETING},"{A1},None,None,None\n'
    [(number, message)] = problems_of(plan_file(tmp_path, text, "plan.csv"))
    assert number == 2
    assert message.startswith("not valid CSV")


def test_csv_header_only_is_an_empty_plan(tmp_path: Path) -> None:
    """A CSV with just its header is an empty plan with a warning."""
    plan = read_plan(plan_file(tmp_path, "meeting_id,attendee_id,audio,video,content\n", "p.csv"))
    assert plan.updates == []
    assert plan.warnings


# -- formats and sources -----------------------------------------------------------------------


def test_unknown_suffix_asks_for_a_format(tmp_path: Path) -> None:
    """A file named neither .jsonl/.ndjson nor .csv is refused with advice to pass a format."""
    path = plan_file(tmp_path, obj() + "\n", "plan.json")
    [(number, message)] = problems_of(path)
    assert number is None
    assert "--format jsonl|csv" in message
    assert read_plan(path, format="jsonl").updates == [
        Update(meeting_id=MEETING, attendee_id=A1, capabilities=AUDIO_ONLY)
    ]


def test_missing_file_is_a_plan_error(tmp_path: Path) -> None:
    """A plan that cannot be opened is a PlanError naming the file."""
    with pytest.raises(PlanError, match=r"absent\.jsonl: cannot read the plan"):
        read_plan(tmp_path / "absent.jsonl")


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        pytest.param(f"\n{obj()}\n", "jsonl", id="jsonl"),
        pytest.param(
            f"meeting_id,attendee_id,audio,video,content\n{MEETING},{A1},SendReceive,None,None\n",
            "csv",
            id="csv",
        ),
    ],
)
def test_stream_format_is_explicit_or_sniffed(text: str, fmt: str) -> None:
    """A stream is read in the given format, or the one its first line shows."""
    for given_format in (fmt, None):
        plan = read_plan(text=io.StringIO(text), format=given_format)  # type: ignore[arg-type]
        assert plan.updates == [Update(meeting_id=MEETING, attendee_id=A1, capabilities=AUDIO_ONLY)]
        assert plan.source == "<stream>"
        assert plan.sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_stream_of_unknown_format_asks_for_one() -> None:
    """A stream whose first line is neither JSON nor a CSV header is refused on that line."""
    with pytest.raises(PlanError) as caught:
        read_plan(text=io.StringIO("\nhello\n"))
    assert caught.value.problems[0].line == 2
    assert "pass its format" in caught.value.problems[0].message


def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """`-` as the path means standard input, named <stdin> in messages."""
    stdin = io.StringIO(f"{obj()}\n{obj('x')}\n")
    stdin.name = "<stdin>"
    monkeypatch.setattr("sys.stdin", stdin)
    with pytest.raises(PlanError, match=r"^<stdin>:2: attendee ID 'x'"):
        read_plan("-")


def test_path_and_stream_together_are_refused(tmp_path: Path) -> None:
    """Giving both a path and a stream (or neither) is a programming error."""
    with pytest.raises(ValueError, match="not both"):
        read_plan(tmp_path / "p.jsonl", text=io.StringIO(""))
    with pytest.raises(ValueError, match="needs a path"):
        read_plan()


# -- writing -----------------------------------------------------------------------------------

ids = st.uuids().map(str)
capabilities = st.builds(Capabilities, *[st.sampled_from(Media)] * 3)
updates = st.lists(
    st.builds(
        Update,
        meeting_id=st.sampled_from([MEETING, OTHER_MEETING]),
        attendee_id=ids,
        capabilities=capabilities.filter(
            lambda c: not c.content.can_receive or c.video.can_receive
        ),
    ),
    unique_by=lambda update: update.key,
    max_size=20,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(
    updates=updates,
    suffix=st.sampled_from([".jsonl", ".csv"]),
    region=st.sampled_from([None, "us-east-1"]),
)
def test_write_plan_round_trips(
    tmp_path: Path, updates: list[Update], suffix: str, region: str | None
) -> None:
    """What `write_plan` writes, `read_plan` reads back unchanged, in either format."""
    updates = [
        Update(
            meeting_id=u.meeting_id,
            attendee_id=u.attendee_id,
            capabilities=u.capabilities,
            region=region,
        )
        for u in updates
    ]
    path = tmp_path / f"{uuid.uuid4().hex}{suffix}"
    assert write_plan(path, updates) == len(updates)
    plan = read_plan(path)
    assert plan.updates == updates
    first_line = 2 if suffix == ".csv" else 1  # after the CSV header
    assert plan.lines == list(range(first_line, first_line + len(updates)))


def test_write_plan_uses_the_api_keys(tmp_path: Path) -> None:
    """A JSONL plan line has the API's keys, and Region only when there is one."""
    path = tmp_path / "plan.jsonl"
    write_plan(
        path,
        [
            Update(meeting_id=MEETING, attendee_id=A1, capabilities=AUDIO_ONLY),
            Update(meeting_id=MEETING, attendee_id=A2, capabilities=MUTED, region="us-east-1"),
        ],
    )
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first == {"MeetingId": MEETING, "AttendeeId": A1, "Capabilities": AUDIO_ONLY.to_api()}
    assert second["Region"] == "us-east-1"


def test_plan_is_frozen() -> None:
    """A Plan's fields cannot be reassigned."""
    plan = Plan(updates=[], lines=[])
    with pytest.raises(AttributeError):
        plan.source = "x"  # type: ignore[misc]


# -- bad input: each problem one line, with its line number ----------------------------------


def test_ten_megabyte_line_is_reported_by_its_length(tmp_path: Path) -> None:
    """A 10 MB line is one short problem naming its length; the lines after it keep their
    numbers."""
    path = tmp_path / "plan.jsonl"
    path.write_bytes(f"{obj(A1)}\n".encode() + b"x" * 10_000_000 + b"\n" + obj("x").encode())
    assert problems_of(path) == [
        (2, "line is 10,000,000 bytes long; a plan line is at most 65,536"),
        (3, "attendee ID 'x' is not a valid Chime ID"),
    ]


def test_binary_garbage_is_one_problem_per_line(tmp_path: Path) -> None:
    """A line with a NUL byte is binary data, said once for that line."""
    path = tmp_path / "plan.csv"
    path.write_bytes(b"meeting_id,attendee_id,audio,video,content\n\x00\x01\x02\n")
    assert problems_of(path) == [(2, "binary data (a NUL byte), not text")]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param(
            f"{MEETING},{A1},None,None",
            "expected 5 fields (meeting_id,attendee_id,audio,video,content), got 4",
            id="missing",
        ),
        pytest.param(
            f"{MEETING},{A1},None,None,None,x",
            "expected 5 fields (meeting_id,attendee_id,audio,video,content), got 6",
            id="extra",
        ),
    ],
)
def test_csv_row_with_a_missing_or_extra_column(tmp_path: Path, row: str, message: str) -> None:
    """A row with too few or too many fields says how many it has and how many are needed."""
    path = plan_file(tmp_path, f"meeting_id,attendee_id,audio,video,content\n{row}\n", "plan.csv")
    assert problems_of(path) == [(2, message)]


def test_csv_without_a_header_row_says_so(tmp_path: Path) -> None:
    """A CSV plan whose first line is data is one 'no header row' problem, not one per cell."""
    path = plan_file(tmp_path, f"{MEETING},{A1},None,None,None\n", "plan.csv")
    assert problems_of(path) == [
        (
            1,
            "no header row: the first line must name the columns "
            "meeting_id,attendee_id,audio,video,content (and optionally region)",
        )
    ]


def test_spreadsheet_csv_with_bom_and_crlf_is_accepted(tmp_path: Path) -> None:
    """A UTF-8 BOM and CRLF line ends, as spreadsheets write them, read like a plain file."""
    path = tmp_path / "plan.csv"
    text = f"meeting_id,attendee_id,audio,video,content\r\n{MEETING},{A1},SendReceive,None,None\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert read_plan(path).updates == [
        Update(meeting_id=MEETING, attendee_id=A1, capabilities=AUDIO_ONLY)
    ]


def test_jsonl_with_crlf_is_accepted(tmp_path: Path) -> None:
    """CRLF line ends in a JSONL plan are accepted."""
    path = tmp_path / "plan.jsonl"
    path.write_bytes(f"{obj(A1)}\r\n{obj(A2)}\r\n".encode())
    assert read_plan(path).lines == [1, 2]
