"""Injected faults, seen by real clients, checked against the emulator's ground truth."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import anyio
import botocore.exceptions
import pytest

from chime_bulk.emulator import Brownout, Emulator, Faults, RateLimit

pytestmark = pytest.mark.anyio

MUTED = {"Audio": "Receive", "Video": "Receive", "Content": "None"}
ALL = {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}
NO_LIMITS = {"*": RateLimit(0, 0)}
# How each client reports a TCP reset: urllib3 sees the connection closed mid-request;
# aiohttp reports the OS error, which aiobotocore maps to EndpointConnectionError.
_RESET_ERROR: dict[str, type[Exception]] = {
    "boto3": botocore.exceptions.ConnectionClosedError,
    "aiobotocore": botocore.exceptions.EndpointConnectionError,
}


def _one_attendee(emulator: Emulator) -> tuple[str, str]:
    ((meeting_id, (attendee_id,)),) = emulator.seed(meetings=1, attendees=1).items()
    return meeting_id, attendee_id


async def _update(api: Any, meeting_id: str, attendee_id: str) -> Any:
    return await api(
        "update_attendee_capabilities",
        MeetingId=meeting_id,
        AttendeeId=attendee_id,
        Capabilities=MUTED,
    )


async def test_reset_before_write_is_a_connection_error_and_changes_nothing(
    api: Any, emulator: Emulator
) -> None:
    """A reset before the write reaches the client as a connection error; nothing is written."""
    meeting_id, attendee_id = _one_attendee(emulator)
    emulator.set_faults(Faults(p_reset_before_write=1.0))
    with pytest.raises(_RESET_ERROR[api.kind]):
        await _update(api, meeting_id, attendee_id)
    assert emulator.capabilities(meeting_id, attendee_id) == ALL
    assert emulator.write_count(meeting_id, attendee_id) == 0
    records = emulator.requests
    # aiohttp re-sends an idempotent PUT once after a dropped connection; urllib3 does not.
    assert len(records) == (2 if api.kind == "aiobotocore" else 1)
    assert all((r.status, r.state_changed) == (0, False) for r in records)


async def test_reset_after_write_is_a_connection_error_but_the_write_happened(
    api: Any, emulator: Emulator
) -> None:
    """A reset after the write loses the response, not the write."""
    meeting_id, attendee_id = _one_attendee(emulator)
    emulator.set_faults(Faults(p_reset_after_write=1.0))
    with pytest.raises(_RESET_ERROR[api.kind]):
        await _update(api, meeting_id, attendee_id)
    assert emulator.capabilities(meeting_id, attendee_id) == MUTED
    records = emulator.requests
    assert all((r.status, r.state_changed) == (0, True) for r in records)
    assert emulator.write_count(meeting_id, attendee_id) == len(records) >= 1


async def test_500_after_write_leaves_the_write_applied(api: Any, emulator: Emulator) -> None:
    """p500_after_write answers ServiceFailureException although the write took effect."""
    meeting_id, attendee_id = _one_attendee(emulator)
    emulator.set_faults(Faults(p500_after_write=1.0))
    with pytest.raises(api.exceptions.ServiceFailureException):
        await _update(api, meeting_id, attendee_id)
    assert emulator.capabilities(meeting_id, attendee_id) == MUTED
    assert emulator.write_count(meeting_id, attendee_id) == 1
    (record,) = emulator.requests
    assert (record.status, record.error_code, record.state_changed) == (
        500,
        "ServiceFailureException",
        True,
    )


async def test_churn_is_not_found_and_the_attendee_is_gone(api: Any, emulator: Emulator) -> None:
    """With churn the attendee leaves just before the write: 404, and it no longer exists."""
    ((meeting_id, (leaving, staying)),) = emulator.seed(meetings=1, attendees=2).items()
    emulator.set_faults(Faults(p_churn=1.0))
    with pytest.raises(api.exceptions.NotFoundException):
        await _update(api, meeting_id, leaving)
    assert emulator.capabilities(meeting_id, leaving) is None
    assert emulator.write_count(meeting_id, leaving) == 0
    assert emulator.meetings[meeting_id] == [staying]


async def test_churn_during_batch_update_removes_one_attendee(api: Any, emulator: Emulator) -> None:
    """Churn in a batch removes one non-excluded attendee and writes the rest."""
    ((meeting_id, ids),) = emulator.seed(meetings=1, attendees=4).items()
    emulator.set_faults(Faults(p_churn=1.0))
    await api(
        "batch_update_attendee_capabilities_except",
        MeetingId=meeting_id,
        ExcludedAttendeeIds=[{"AttendeeId": ids[0]}],
        Capabilities=MUTED,
    )
    remaining = emulator.meetings[meeting_id]
    assert len(remaining) == 3
    assert ids[0] in remaining
    assert [emulator.capabilities(meeting_id, a) for a in remaining[1:]] == [MUTED, MUTED]


async def test_faults_apply_to_writes_only(api: Any, emulator: Emulator) -> None:
    """p503 and p500 at 1.0 leave reads alone."""
    meeting_id, attendee_id = _one_attendee(emulator)
    emulator.set_faults(Faults(p503=1.0, p500=1.0, p_reset_before_write=1.0, p_churn=1.0))
    response = await api("get_attendee", MeetingId=meeting_id, AttendeeId=attendee_id)
    assert response["Attendee"]["AttendeeId"] == attendee_id
    listed = await api("list_attendees", MeetingId=meeting_id)
    assert len(listed["Attendees"]) == 1


async def test_brownout_window(make_api: Any, client_kind: str, clock: Any) -> None:
    """After N requests every write is 503 with the window's Retry-After until it ends."""
    brownout = Brownout(after_requests=2, duration_s=10, retry_after_s=3)
    with Emulator(rates=NO_LIMITS, clock=clock, brownouts=[brownout]) as emu:
        meeting_id, attendee_id = _one_attendee(emu)
        async with make_api(client_kind, emu) as api:
            await _update(api, meeting_id, attendee_id)
            await api("get_meeting", MeetingId=meeting_id)
            with pytest.raises(api.exceptions.ServiceUnavailableException) as caught:
                await _update(api, meeting_id, attendee_id)
            assert caught.value.response["RetryAfterSeconds"] == "3"
            clock.advance(9.9)
            with pytest.raises(api.exceptions.ServiceUnavailableException):
                await _update(api, meeting_id, attendee_id)
            await api("get_meeting", MeetingId=meeting_id)  # reads pass during a brownout
            clock.advance(0.1)
            await _update(api, meeting_id, attendee_id)
    assert [r.status for r in emu.requests] == [200, 200, 503, 503, 200, 200]
    assert emu.write_count(meeting_id, attendee_id) == 2


async def test_brownout_added_at_run_time(api: Any, emulator: Emulator) -> None:
    """A brownout added while running counts the requests already received."""
    meeting_id, attendee_id = _one_attendee(emulator)
    await _update(api, meeting_id, attendee_id)
    emulator.add_brownout(Brownout(after_requests=1, duration_s=600))
    with pytest.raises(api.exceptions.ServiceUnavailableException) as caught:
        await _update(api, meeting_id, attendee_id)
    assert caught.value.response["RetryAfterSeconds"] == "1"
    assert emulator.write_count(meeting_id, attendee_id) == 1


async def test_concurrent_updates_over_quota_are_throttled_and_change_nothing(
    make_api: Any, client_kind: str, clock: Any
) -> None:
    """At UpdateAttendeeCapabilities=5:5, 20 concurrent updates: 5 succeed, 15 are throttled."""
    rates = {"*": RateLimit(0, 0), "UpdateAttendeeCapabilities": RateLimit(5, 5)}
    outcomes: dict[str, str] = {}
    with Emulator(rates=rates, clock=clock) as emu:
        ((meeting_id, ids),) = emu.seed(meetings=1, attendees=20).items()
        async with make_api(client_kind, emu) as api:

            async def update(attendee_id: str) -> None:
                try:
                    await _update(api, meeting_id, attendee_id)
                    outcomes[attendee_id] = "ok"
                except api.exceptions.ThrottlingException:
                    outcomes[attendee_id] = "throttled"

            async with anyio.create_task_group() as group:
                for attendee_id in ids:
                    group.start_soon(update, attendee_id)
    throttled = [a for a in ids if outcomes[a] == "throttled"]
    succeeded = [a for a in ids if outcomes[a] == "ok"]
    assert (len(succeeded), len(throttled)) == (5, 15)
    assert all(emu.write_count(meeting_id, a) == 0 for a in throttled)
    assert all(emu.capabilities(meeting_id, a) == ALL for a in throttled)
    assert all(emu.write_count(meeting_id, a) == 1 for a in succeeded)
    assert sum(r.state_changed for r in emu.requests) == 5


async def test_latency_is_added_to_every_request(api: Any, emulator: Emulator) -> None:
    """latency_ms delays reads as well as writes."""
    meeting_id, _ = _one_attendee(emulator)
    emulator.set_faults(Faults(latency_ms=80))
    started = time.perf_counter()
    await api("get_meeting", MeetingId=meeting_id)
    assert time.perf_counter() - started >= 0.08


async def test_faults_are_reproducible_from_the_seed(make_api: Any) -> None:
    """The same seed and the same requests meet the same faults; another seed differs."""

    async def statuses(seed: int) -> list[int]:
        faults = Faults(p503=0.3, p500=0.2, p500_after_write=0.2)
        with Emulator(rates=NO_LIMITS, faults=faults, seed=seed) as emu:
            meeting_id, attendee_id = _one_attendee(emu)
            async with make_api("aiobotocore", emu) as api:
                for _ in range(30):
                    with contextlib.suppress(botocore.exceptions.ClientError):
                        await _update(api, meeting_id, attendee_id)
            return [r.status for r in emu.requests]

    first, again, other = await statuses(7), await statuses(7), await statuses(8)
    assert first == again
    assert first != other
    assert {200, 500, 503} <= set(first)


def test_fault_settings_are_validated() -> None:
    """Probabilities outside 0..1 and negative durations are refused."""
    with pytest.raises(ValueError, match="p503"):
        Faults(p503=1.5)
    with pytest.raises(ValueError, match="latency_ms"):
        Faults(latency_ms=-1)
    with pytest.raises(ValueError, match="after_requests"):
        Brownout(after_requests=-1, duration_s=1)
