"""`chime-bulk emulator` as a separate process, with boto3 as an independent client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

MUTED = {"Audio": "SendReceive", "Video": "Receive", "Content": "None"}


class RunningEmulator:
    def __init__(self, process: subprocess.Popen[str], ready: dict[str, Any]) -> None:
        self.process = process
        self.ready = ready
        self.client = boto3.client(
            "chime-sdk-meetings",
            endpoint_url=ready["endpoint_url"],
            region_name=ready["region"],
            config=Config(
                retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=32
            ),
        )


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[Any]:
    """Start `chime-bulk emulator ARGS…` and wait for its ready file (it is written once the
    socket listens; the process's stderr line says so first)."""
    processes: list[subprocess.Popen[str]] = []

    def start(*args: str) -> RunningEmulator:
        ready_file = tmp_path / f"ready-{len(processes)}.json"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "chime_bulk",
                "emulator",
                "--port",
                "0",
                "--ready-file",
                str(ready_file),
                *args,
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        processes.append(process)
        assert process.stderr is not None
        announcement = process.stderr.readline()  # blocks until the emulator listens
        assert "listening on http://127.0.0.1:" in announcement, announcement
        return RunningEmulator(process, json.loads(ready_file.read_text()))

    yield start
    for process in processes:
        process.terminate()
        process.communicate(timeout=10)  # also closes its stderr pipe


def test_seeded_emulator_serves_boto3(start_emulator: Any) -> None:
    """250 attendees over 3 pages; an update that get_attendee shows; the service's errors."""
    emu = start_emulator("--meetings", "2", "--attendees", "250")
    assert emu.ready["endpoint_url"].startswith("http://127.0.0.1:")
    meetings = emu.ready["meetings"]
    assert len(meetings) == 2
    meeting, attendees = next(iter(meetings.items()))
    client = emu.client

    # botocore has no paginator for ListAttendees: follow NextToken by hand, as users do.
    pages = [client.list_attendees(MeetingId=meeting, MaxResults=100)]
    while "NextToken" in pages[-1]:
        token = pages[-1]["NextToken"]
        pages.append(client.list_attendees(MeetingId=meeting, MaxResults=100, NextToken=token))
    assert [len(page["Attendees"]) for page in pages] == [100, 100, 50]
    listed = [a["AttendeeId"] for page in pages for a in page["Attendees"]]
    assert sorted(listed) == sorted(attendees)
    assert all(a["JoinToken"] for page in pages for a in page["Attendees"])

    target = attendees[7]
    client.update_attendee_capabilities(MeetingId=meeting, AttendeeId=target, Capabilities=MUTED)
    got = client.get_attendee(MeetingId=meeting, AttendeeId=target)["Attendee"]
    assert got["Capabilities"] == MUTED

    with pytest.raises(client.exceptions.BadRequestException):
        client.update_attendee_capabilities(
            MeetingId=meeting,
            AttendeeId=target,
            Capabilities={"Audio": "SendReceive", "Video": "None", "Content": "Receive"},
        )
    with pytest.raises(client.exceptions.ClientError, match="ValidationException"):
        client.update_attendee_capabilities(
            MeetingId=meeting, AttendeeId="0123456789abcdef01234567-89abcdef", Capabilities=MUTED
        )
    with pytest.raises(client.exceptions.NotFoundException):
        client.update_attendee_capabilities(
            MeetingId=meeting, AttendeeId="00000000-0000-0000-0000-000000000000", Capabilities=MUTED
        )


def test_quota_throttles_and_throttled_updates_change_nothing(start_emulator: Any) -> None:
    """With UpdateAttendeeCapabilities=5:5, of 20 concurrent updates some are throttled, and
    exactly the accepted ones changed state."""
    emu = start_emulator(
        "--meetings", "1", "--attendees", "20", "--rate", "UpdateAttendeeCapabilities=5:5"
    )
    meeting, attendees = next(iter(emu.ready["meetings"].items()))
    client = emu.client

    def update(attendee: str) -> str:
        try:
            client.update_attendee_capabilities(
                MeetingId=meeting, AttendeeId=attendee, Capabilities=MUTED
            )
        except client.exceptions.ThrottlingException:
            return "throttled"
        return "ok"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = dict(zip(attendees, pool.map(update, attendees), strict=True))
    throttled = [a for a, outcome in outcomes.items() if outcome == "throttled"]
    assert 1 <= len(throttled) <= 15
    for attendee, outcome in outcomes.items():
        capabilities = client.get_attendee(MeetingId=meeting, AttendeeId=attendee)["Attendee"][
            "Capabilities"
        ]
        assert (capabilities == MUTED) == (outcome == "ok")


def test_every_write_503s_with_retry_after(start_emulator: Any) -> None:
    """With --p503 1 --retry-after 2, updates raise ServiceUnavailableException with
    RetryAfterSeconds "2"."""
    emu = start_emulator("--meetings", "1", "--attendees", "2", "--p503", "1", "--retry-after", "2")
    meeting, attendees = next(iter(emu.ready["meetings"].items()))
    with pytest.raises(emu.client.exceptions.ServiceUnavailableException) as raised:
        emu.client.update_attendee_capabilities(
            MeetingId=meeting, AttendeeId=attendees[0], Capabilities=MUTED
        )
    assert raised.value.response["RetryAfterSeconds"] == "2"


def test_bad_rate_spec_is_a_usage_error() -> None:
    """A malformed --rate is refused with exit 2 and a message naming it."""
    done = subprocess.run(
        [sys.executable, "-m", "chime_bulk", "emulator", "--rate", "Nope=5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--rate" in done.stderr


def test_config_file_sets_faults_and_flags_add_to_it(start_emulator: Any, tmp_path: Path) -> None:
    """--config FILE is accepted: its x-amz-retry-after applies, and --retry-after overrides."""
    config = tmp_path / "faults.json"
    config.write_text(json.dumps({"p503": 1.0, "retry_after_s": 5, "x_amz_retry_after": True}))
    emu = start_emulator(
        "--meetings", "1", "--attendees", "1", "--config", str(config), "--retry-after", "2"
    )
    meeting, attendees = next(iter(emu.ready["meetings"].items()))
    with pytest.raises(emu.client.exceptions.ServiceUnavailableException) as raised:
        emu.client.update_attendee_capabilities(
            MeetingId=meeting, AttendeeId=attendees[0], Capabilities=MUTED
        )
    headers = raised.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert (headers["retry-after"], headers["x-amz-retry-after"]) == ("2", "2000")


def test_config_file_with_an_unknown_key_is_a_usage_error(tmp_path: Path) -> None:
    """An unknown key in --config is refused with exit 2 and a message naming key and flag."""
    config = tmp_path / "faults.json"
    config.write_text(json.dumps({"p503": 0.1, "brownout": []}))
    done = subprocess.run(
        [sys.executable, "-m", "chime_bulk", "emulator", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--config" in done.stderr
    assert "unknown key 'brownout'" in done.stderr
