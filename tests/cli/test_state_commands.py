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
