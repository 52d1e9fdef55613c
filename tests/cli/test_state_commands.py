"""`mute`, `unmute` and `restore` end to end: state read, changes sent, undo exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chime_bulk import Report, Status
from chime_bulk.emulator import Emulator

from .conftest import batch_writes, chime_bulk, writes

ALL_ON = {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}


@pytest.mark.parametrize(
    ("strategy", "batch_requests", "single_requests"),
    [
        pytest.param("auto", 2, 0, id="auto-one-batch-per-meeting"),
        pytest.param("batch-except", 2, 0, id="one-batch-per-meeting"),
        pytest.param("per-attendee", 0, 37, id="one-update-per-attendee"),
    ],
)
def test_mute_video_except_hosts_then_restore(
    emulator: Emulator, tmp_path: Path, strategy: str, batch_requests: int, single_requests: int
) -> None:
    """mute --video changes only video sending, leaves hosts and the unchanged alone — with
    one batch request per meeting or one update per attendee — and restore puts every
    attendee back exactly as it was."""
    meetings = emulator.seed(meetings=2, attendees=20)
    (m1, a1), (m2, a2) = meetings.items()
    hosts = [a1[0], a2[0]]
    already_muted = a1[1]
    emulator.set_capabilities(m1, already_muted, {**ALL_ON, "Video": "Receive"})
    report_path = tmp_path / "mute.json"
    args = [
        "mute",
        "--meeting",
        m1,
        "--meeting",
        m2,
        "--video",
        "--strategy",
        strategy,
        "--report",
        str(report_path),
        "--endpoint-url",
        emulator.endpoint_url,
    ]
    for host in hosts:
        args += ["--except", host]
    done = chime_bulk(*args)
    assert done.returncode == 0, done.stderr

    report = Report.read(report_path)
    assert report.summary.by_status == {"succeeded": 37, "excluded": 2, "unchanged": 1}
    # Nothing is sent for the excluded or the unchanged.
    assert len(writes(emulator)) == single_requests
    assert len(batch_writes(emulator)) == batch_requests
    assert report.summary.requests == batch_requests + single_requests
    for result in report.results:
        truth = emulator.capabilities(result.meeting_id, result.attendee_id)
        if result.attendee_id in hosts:
            assert truth == ALL_ON
        else:
            assert truth == {**ALL_ON, "Video": "Receive"}
        if result.status is Status.SUCCEEDED:
            assert result.previous is not None
            assert result.previous.to_api() == ALL_ON

    restored_path = tmp_path / "restore.json"
    done = chime_bulk(
        "restore",
        str(report_path),
        "--report",
        str(restored_path),
        "--endpoint-url",
        emulator.endpoint_url,
    )
    assert done.returncode == 0, done.stderr
    assert Report.read(restored_path).summary.by_status == {"succeeded": 37}
    for meeting, attendees in meetings.items():
        for attendee in attendees:
            expected = {**ALL_ON, "Video": "Receive"} if attendee == already_muted else ALL_ON
            assert emulator.capabilities(meeting, attendee) == expected


def test_unmute_gives_sending_back_without_touching_receiving(
    emulator: Emulator, tmp_path: Path
) -> None:
    """unmute --audio turns Receive into SendReceive and None into Send."""
    meetings = emulator.seed(meetings=1, attendees=2)
    meeting, (first, second) = next(iter(meetings.items()))
    emulator.set_capabilities(meeting, first, {**ALL_ON, "Audio": "Receive"})
    emulator.set_capabilities(meeting, second, {**ALL_ON, "Audio": "None"})
    done = chime_bulk(
        "unmute", "--meeting", meeting, "--audio", "--endpoint-url", emulator.endpoint_url
    )
    assert done.returncode == 0, done.stderr
    assert emulator.capabilities(meeting, first) == ALL_ON
    assert emulator.capabilities(meeting, second) == {**ALL_ON, "Audio": "Send"}


def test_mute_dry_run_reads_state_but_writes_nothing(emulator: Emulator) -> None:
    """A dry-run mute lists what would change, with the current state, and sends no write."""
    meetings = emulator.seed(meetings=1, attendees=3)
    meeting = next(iter(meetings))
    done = chime_bulk(
        "mute",
        "--meeting",
        meeting,
        "--content",
        "--dry-run",
        "--endpoint-url",
        emulator.endpoint_url,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3
    assert "content=Receive" in done.stdout
    assert writes(emulator) == []


def test_mute_of_an_unknown_meeting_sends_nothing(emulator: Emulator) -> None:
    """A meeting that does not exist is an input error: exit 2, nothing sent."""
    done = chime_bulk(
        "mute",
        "--meeting",
        "00000000-0000-0000-0000-000000000000",
        "--video",
        "--endpoint-url",
        emulator.endpoint_url,
    )
    assert done.returncode == 2
    assert "NotFoundException" in done.stderr
    assert writes(emulator) == []


def test_mute_needs_a_medium() -> None:
    """mute without --audio/--video/--content is a usage error."""
    done = chime_bulk("mute", "--meeting", "00000000-0000-0000-0000-000000000000")
    assert done.returncode == 2
    assert "--video" in done.stderr


def test_mute_in_a_meeting_without_video_sends_nothing_doomed(emulator: Emulator) -> None:
    """In a meeting created without video, a change that keeps Video Receive would be
    rejected by the service: it is reported `invalid` and never sent."""
    meeting = emulator.create_meeting(
        attendees=3,
        features={"Video": {"MaxResolution": "None"}, "Content": {"MaxResolution": "FHD"}},
    )
    done = chime_bulk(
        "mute", "--meeting", meeting, "--audio", "--json", "--endpoint-url", emulator.endpoint_url
    )
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {line["status"] for line in lines} == {"invalid"}
    assert "MaxResolution None" in lines[0]["error_message"]
    assert writes(emulator) == []


def test_mute_twelve_meetings_by_hosts_file_one_write_per_meeting(
    emulator: Emulator, tmp_path: Path
) -> None:
    """12 x 250 attendees, 2 hosts per meeting named in a hosts file (per meeting): the dry run
    shows one batch per meeting and sends nothing; the run sends exactly one write per
    meeting, reports every attendee once, and restore undoes it with one write per meeting."""
    meetings = emulator.seed(meetings=12, attendees=250)
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(
        "".join(f"{meeting},{a}\n" for meeting, ids in meetings.items() for a in ids[:2])
    )
    listed = tmp_path / "meetings.txt"
    listed.write_text("".join(f"{meeting}\n" for meeting in meetings))
    common = ["--endpoint-url", emulator.endpoint_url, "--no-progress"]
    args = ["mute", "--meetings-file", str(listed), "--except-file", str(hosts), "--video"]

    dry = chime_bulk(*args, "--dry-run", *common)
    assert dry.returncode == 0, dry.stderr
    assert dry.stderr.count("1 BatchUpdateAttendeeCapabilitiesExcept for 248 attendee(s)") == 12
    assert len(dry.stdout.splitlines()) == 12 * 248
    assert writes(emulator) == batch_writes(emulator) == []

    report_path = tmp_path / "mute.json"
    done = chime_bulk(*args, "--report", str(report_path), *common)
    assert done.returncode == 0, done.stderr
    report = Report.read(report_path)
    assert report.summary.by_status == {"succeeded": 12 * 248, "excluded": 24}
    assert len({(r.meeting_id, r.attendee_id) for r in report.results}) == 3000
    assert len(batch_writes(emulator)) == 12
    assert writes(emulator) == []
    for meeting, ids in meetings.items():
        assert [emulator.capabilities(meeting, a) for a in ids[:2]] == [ALL_ON, ALL_ON]
        assert (emulator.capabilities(meeting, ids[2]) or {})["Video"] == "Receive"

    emulator.clear_requests()
    done = chime_bulk("restore", str(report_path), *common)
    assert done.returncode == 0, done.stderr
    assert len(batch_writes(emulator)) == 12
    assert all(emulator.capabilities(m, a) == ALL_ON for m, ids in meetings.items() for a in ids)


def test_mute_resumes_from_its_journal_without_resending(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A mute with --journal, run again with --resume: the journal's results stand, nothing
    is sent twice, and a journal of another mute is refused."""
    meetings = emulator.seed(meetings=2, attendees=5)
    journal = tmp_path / "mute.journal"
    ids = [arg for meeting in meetings for arg in ("--meeting", meeting)]
    common = ["--endpoint-url", emulator.endpoint_url, "--strategy", "per-attendee"]
    first = chime_bulk("mute", *ids, "--video", "--journal", str(journal), *common)
    assert first.returncode == 0, first.stderr
    sent = len(writes(emulator))
    assert sent == 10
    report_path = tmp_path / "again.json"
    again = chime_bulk(
        "mute", *ids, "--video", "--journal", str(journal), "--resume",
        "--report", str(report_path), *common,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert len(writes(emulator)) == sent
    report = Report.read(report_path)
    assert report.summary.by_status == {"succeeded": 10}
    assert all(r.previous is not None and r.previous.to_api() == ALL_ON for r in report.results)
    other = chime_bulk("mute", *ids, "--audio", "--journal", str(journal), "--resume", *common)
    assert other.returncode == 2
    assert "another plan" in other.stderr
