"""The emulator's Python API: lifecycle, seeding, ground truth, request log, ready file."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anyio
import pytest

import chime_bulk.emulator as emulator_package
from chime_bulk.emulator import Emulator, RateLimit, RequestRecord, serve

ID = re.compile(r"[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}")
MUTED = {"Audio": "Receive", "Video": "Receive", "Content": "None"}
SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=A/20250101/us-east-1/chime/aws4_request"}


def _get_status(url: str) -> int:
    request = urllib.request.Request(url, headers=SIGNED)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status: int = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status


def test_public_names() -> None:
    """The package exports exactly its public API."""
    assert sorted(emulator_package.__all__) == sorted(
        [
            "DEFAULT_LOG_LIMIT",
            "OPERATIONS",
            "WRITE_OPERATIONS",
            "Brownout",
            "Emulator",
            "EmulatorError",
            "FaultConfig",
            "Faults",
            "RateLimit",
            "RequestRecord",
            "TokenBucket",
            "fault_config_to_json",
            "load_fault_config",
            "parse_fault_config",
            "parse_rate_spec",
            "parse_rate_specs",
            "run_forever",
            "serve",
        ]
    )


def test_seeding_is_deterministic() -> None:
    """The same seed gives the same meeting and attendee IDs; another seed does not."""
    first = Emulator(seed=42).seed(meetings=2, attendees=3)
    again = Emulator(seed=42).seed(meetings=2, attendees=3)
    other = Emulator(seed=43).seed(meetings=2, attendees=3)
    assert first == again
    assert set(first).isdisjoint(other)
    ids = [*first, *(a for attendees in first.values() for a in attendees)]
    assert len(set(ids)) == 8
    assert all(ID.fullmatch(i) for i in ids)


def test_seed_with_features_and_meetings_snapshot() -> None:
    """Seeded meetings honour features, and `meetings` is a copy, not live state."""
    emu = Emulator()
    seeded = emu.seed(meetings=1, attendees=2, features={"Video": {"MaxResolution": "None"}})
    ((meeting_id, (attendee_id, _)),) = seeded.items()
    assert emu.capabilities(meeting_id, attendee_id) == {
        "Audio": "SendReceive",
        "Video": "Receive",
        "Content": "SendReceive",
    }
    snapshot = emu.meetings
    snapshot[meeting_id].clear()
    assert emu.meetings == seeded


def test_python_api_validates_like_the_service() -> None:
    """Bad features, capabilities or sizes raise ValueError; unknown meetings KeyError."""
    emu = Emulator()
    with pytest.raises(ValueError, match="maxResolution"):
        emu.create_meeting(features={"Video": {"MaxResolution": "8K"}})
    with pytest.raises(ValueError, match="at most 250"):
        emu.create_meeting(attendees=251)
    meeting_id = emu.create_meeting(features={"Content": {"MaxResolution": "None"}})
    with pytest.raises(ValueError, match="Content"):
        emu.add_attendee(
            meeting_id, capabilities={"Audio": "None", "Video": "Receive", "Content": "Send"}
        )
    with pytest.raises(KeyError):
        emu.add_attendee("00000000-0000-4000-8000-000000000000")
    assert emu.meetings == {meeting_id: []}


def test_ground_truth_helpers() -> None:
    """set_capabilities is setup (not a counted write); removals make an attendee None."""
    emu = Emulator()
    meeting_id = emu.create_meeting(attendees=2)
    first, second = emu.meetings[meeting_id]
    emu.set_capabilities(meeting_id, first, MUTED)
    assert emu.capabilities(meeting_id, first) == MUTED
    assert emu.write_count(meeting_id, first) == 0
    assert emu.remove_attendee(meeting_id, first)
    assert not emu.remove_attendee(meeting_id, first)
    assert emu.capabilities(meeting_id, first) is None
    assert emu.remove_meeting(meeting_id)
    assert emu.capabilities(meeting_id, second) is None


def test_request_log_and_clear() -> None:
    """Each request is logged once with its operation, IDs and status; clear empties it."""
    with Emulator(rates={"*": RateLimit(0, 0)}) as emu:
        meeting_id = emu.create_meeting(attendees=1)
        assert _get_status(f"{emu.endpoint_url}/meetings/{meeting_id}") == 200
        assert _get_status(f"{emu.endpoint_url}/meetings/nope") == 400
        records = emu.requests
        assert [(r.operation, r.meeting_id, r.status, r.error_code) for r in records] == [
            ("GetMeeting", meeting_id, 200, None),
            ("GetMeeting", "nope", 400, "ValidationException"),
        ]
        assert all(isinstance(r, RequestRecord) and not r.state_changed for r in records)
        assert records[0].time <= records[1].time
        emu.clear_requests()
        assert emu.requests == []


def test_ready_file_is_written_once_listening(tmp_path: Path) -> None:
    """`ready_file` holds the endpoint, Region and seeded meetings as JSON."""
    ready = tmp_path / "ready.json"
    emu = Emulator(region="eu-central-1", ready_file=ready)
    seeded = emu.seed(meetings=2, attendees=1)
    with emu:
        document = json.loads(ready.read_text())
        assert document == {
            "endpoint_url": emu.endpoint_url,
            "region": "eu-central-1",
            "meetings": seeded,
        }
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emu.endpoint_url)


def test_stop_is_idempotent_and_frees_the_port() -> None:
    """After stop the endpoint is gone and a second stop does nothing."""
    emu = Emulator()
    emu.start()
    url = emu.endpoint_url
    emu.stop()
    emu.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.endpoint_url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_async_context_manager_under_each_backend(anyio_backend: str) -> None:
    """`async with Emulator()` serves under asyncio and trio alike."""
    async with Emulator() as emu:
        meeting_id = emu.create_meeting()
        url = f"{emu.endpoint_url}/meetings/{meeting_id}"
        assert await anyio.to_thread.run_sync(_get_status, url) == 200


@pytest.mark.anyio
async def test_serve_seeds_writes_ready_file_and_calls_on_ready(tmp_path: Path) -> None:
    """serve() seeds, writes the ready file, calls on_ready, and stops when cancelled."""
    ready = tmp_path / "ready.json"
    seen: list[Emulator] = []

    async with anyio.create_task_group() as group:

        def on_ready(emu: Emulator) -> None:
            seen.append(emu)
            group.cancel_scope.cancel()

        group.start_soon(
            lambda: serve(seed=3, meetings=2, attendees=4, ready_file=ready, on_ready=on_ready)
        )
    (emu,) = seen
    document: dict[str, Any] = json.loads(ready.read_text())
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", document["endpoint_url"])
    assert [len(a) for a in document["meetings"].values()] == [4, 4]
    assert document["meetings"] == Emulator(seed=3).seed(meetings=2, attendees=4)
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.endpoint_url
