"""The pytest plugin as a user adopts it: installed, so no `-p` and no conftest are needed."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import threading

import boto3
from botocore.config import Config

from chime_bulk.emulator import RateLimit

MUTED = {"Audio": "SendReceive", "Video": "None", "Content": "None"}


def mute_everyone(meeting_id, attendee_ids):
    """The user's own app: plain boto3, retrying throttles with botocore's standard mode."""
    client = boto3.client(
        "chime-sdk-meetings", config=Config(retries={"mode": "standard", "max_attempts": 8})
    )
    for attendee_id in attendee_ids:
        client.update_attendee_capabilities(
            MeetingId=meeting_id, AttendeeId=attendee_id, Capabilities=MUTED
        )


def test_my_app_retries_throttling(chime_emulator_factory):
    emulator = chime_emulator_factory(rates={"UpdateAttendeeCapabilities": RateLimit(20, 1)})
    ((meeting_id, attendee_ids),) = emulator.seed(meetings=1, attendees=2).items()
    mute_everyone(meeting_id, attendee_ids)
    assert all(emulator.capabilities(meeting_id, a) == MUTED for a in attendee_ids)
    assert 429 in [r.status for r in emulator.requests]


def test_default_fixture_serves_unchanged_app_code(chime_emulator):
    meeting_id = chime_emulator.create_meeting()
    got = boto3.client("chime-sdk-meetings").get_meeting(MeetingId=meeting_id)
    assert got["Meeting"]["MeetingId"] == meeting_id


def test_nothing_runs_unless_asked():
    assert not [t for t in threading.enumerate() if t.name == "chime-bulk-emulator"]
'''


def test_plugin_fixtures_work_from_the_installed_entry_point(pytester: pytest.Pytester) -> None:
    """A user's test file uses chime_emulator(_factory) with nothing but the installed plugin,
    warnings as errors; its app's throttling retries are visible in the ground truth."""
    pytester.makepyfile(test_my_app=USER_TESTS)
    result = pytester.runpytest("-W", "error", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
