"""Every fault kind, configured through the JSON schema `--config` and the admin API share."""

from __future__ import annotations

import time
from typing import Any

import anyio
import botocore.exceptions
import pytest

from chime_bulk.emulator import Emulator, fault_config_to_json, parse_fault_config
from chime_bulk.emulator.faults import FaultInjector, Faults

pytestmark = pytest.mark.anyio

MUTED = {"Audio": "Receive", "Video": "Receive", "Content": "None"}
DROPPED = (botocore.exceptions.HTTPClientError, botocore.exceptions.EndpointConnectionError)


def _configure(emulator: Emulator, document: dict[str, Any]) -> None:
    emulator.set_fault_config(parse_fault_config(document))


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


async def test_brownout_window_in_seconds_since_start(
    make_api: Any, client_kind: str, clock: Any
) -> None:
    """`brownouts: [{start_s, duration_s, retry_after_s}]` 503s writes in that window only."""
    config = parse_fault_config(
        {"brownouts": [{"start_s": 5, "duration_s": 10, "retry_after_s": 2}]}
    )
    with Emulator(clock=clock, faults=config.faults, brownouts=config.brownouts) as emu:
        meeting_id, attendee_id = _one_attendee(emu)
        async with make_api(client_kind, emu) as api:
            await _update(api, meeting_id, attendee_id)
            clock.advance(5)
            with pytest.raises(api.exceptions.ServiceUnavailableException) as caught:
                await _update(api, meeting_id, attendee_id)
            assert caught.value.response["RetryAfterSeconds"] == "2"
            clock.advance(10)
            await _update(api, meeting_id, attendee_id)
    assert [(r.status, r.fault) for r in emu.requests] == [
        (200, None),
        (503, "brownout"),
        (200, None),
    ]


@pytest.mark.parametrize(
    ("key", "applied"),
    [pytest.param("p500", 0, id="before-write"), pytest.param("p500_after_write", 1, id="after")],
)
async def test_500_before_and_after_the_write(
    api: Any, emulator: Emulator, key: str, applied: int
) -> None:
    """`p500` fails before the write, `p500_after_write` after it: both 500, one applied."""
    meeting_id, attendee_id = _one_attendee(emulator)
    _configure(emulator, {key: 1.0})
    with pytest.raises(api.exceptions.ServiceFailureException):
        await _update(api, meeting_id, attendee_id)
    assert emulator.write_count(meeting_id, attendee_id) == applied
    assert emulator.acknowledged_count(meeting_id, attendee_id) == 0
    assert emulator.requests[0].fault == key


@pytest.mark.parametrize("reset", ["rst", "fin"])
@pytest.mark.parametrize("when", ["before", "after"])
async def test_connection_resets(api: Any, emulator: Emulator, reset: str, when: str) -> None:
    """`p_reset_{before,after}_write` with `reset` rst or fin: no response; written only after."""
    meeting_id, attendee_id = _one_attendee(emulator)
    _configure(emulator, {f"p_reset_{when}_write": 1.0, "reset": reset})
    with pytest.raises(DROPPED):
        await _update(api, meeting_id, attendee_id)
    records = emulator.requests
    assert all(r.status == 0 for r in records)
    assert (emulator.write_count(meeting_id, attendee_id) > 0) == (when == "after")
    assert emulator.acknowledged_count(meeting_id, attendee_id) == 0


def test_latency_jitter_is_drawn_from_the_seed() -> None:
    """`latency_ms` + uniform(0, `latency_jitter_ms`), the same series for the same seed."""
    faults = Faults(latency_ms=100, latency_jitter_ms=50)
    first = FaultInjector(faults, (), seed=3).latency_s(faults)
    series = FaultInjector(faults, (), seed=3)
    draws = [series.latency_s(faults) for _ in range(20)]
    assert draws[0] == first
    assert all(0.1 <= d <= 0.15 for d in draws)
    assert len(set(draws)) == 20


async def test_latency_delays_the_response(api: Any, emulator: Emulator) -> None:
    """A configured latency with jitter is added to a request."""
    meeting_id = emulator.create_meeting()
    _configure(emulator, {"latency_ms": 30, "latency_jitter_ms": 10})
    started = time.perf_counter()
    await api("get_meeting", MeetingId=meeting_id)
    assert time.perf_counter() - started >= 0.03


async def test_churn(api: Any, emulator: Emulator) -> None:
    """`p_churn`: the attendee leaves before the write (404), and the truth says why."""
    meeting_id, attendee_id = _one_attendee(emulator)
    _configure(emulator, {"p_churn": 1.0})
    with pytest.raises(api.exceptions.NotFoundException):
        await _update(api, meeting_id, attendee_id)
    assert emulator.ground_truth()["departed"] == [
        {"meeting_id": meeting_id, "attendee_id": attendee_id, "reason": "churn"}
    ]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("UnauthorizedException", 401),
        ("UnrecognizedClientException", 403),
        ("InvalidSignatureException", 403),
        ("ExpiredTokenException", 403),
    ],
)
async def test_auth_failures(api: Any, emulator: Emulator, code: str, status: int) -> None:
    """`auth_failure`: every request gets that 401/403 with the code in x-amzn-ErrorType."""
    meeting_id = emulator.create_meeting()
    _configure(emulator, {"auth_failure": code})
    with pytest.raises(api.exceptions.ClientError) as caught:
        await api("get_meeting", MeetingId=meeting_id)
    response = caught.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        code,
        status,
    )


async def test_conflict_on_overlapping_writes(make_api: Any, emulator: Emulator) -> None:
    """`conflict_on_overlap`: a write arriving while another to the same attendee is in flight
    gets 409 ConflictException; the first succeeds."""
    meeting_id, attendee_id = _one_attendee(emulator)
    _configure(emulator, {"conflict_on_overlap": True, "latency_ms": 300})
    outcomes: list[str] = []
    async with make_api("aiobotocore", emulator) as api:

        async def update() -> None:
            try:
                await _update(api, meeting_id, attendee_id)
                outcomes.append("ok")
            except api.exceptions.ConflictException:
                outcomes.append("conflict")

        async with anyio.create_task_group() as group:
            group.start_soon(update)
            group.start_soon(update)
    assert sorted(outcomes) == ["conflict", "ok"]
    assert emulator.write_count(meeting_id, attendee_id) == 1


async def test_x_amz_retry_after(api: Any, emulator: Emulator) -> None:
    """`x_amz_retry_after`: a 503 also carries x-amz-retry-after, in milliseconds."""
    meeting_id, attendee_id = _one_attendee(emulator)
    _configure(emulator, {"p503": 1.0, "retry_after_s": 2, "x_amz_retry_after": True})
    with pytest.raises(api.exceptions.ServiceUnavailableException) as caught:
        await _update(api, meeting_id, attendee_id)
    headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert (headers["retry-after"], headers["x-amz-retry-after"]) == ("2", "2000")


async def test_faults_apply_to_the_chosen_operations(api: Any, emulator: Emulator) -> None:
    """`operations` narrows faults to those operations: here GetMeeting fails, writes pass."""
    meeting_id, attendee_id = _one_attendee(emulator)
    _configure(emulator, {"p500": 1.0, "operations": ["GetMeeting"]})
    await _update(api, meeting_id, attendee_id)
    with pytest.raises(api.exceptions.ServiceFailureException):
        await api("get_meeting", MeetingId=meeting_id)


def test_config_round_trips_and_rejects_unknown_keys() -> None:
    """The JSON form reads back unchanged; an unknown key is an error that suggests the name."""
    document = {
        "p503": 0.1,
        "auth_failure": "ExpiredTokenException",
        "operations": ["GetMeeting", "UpdateAttendeeCapabilities"],
        "brownouts": [{"after_requests": 3, "duration_s": 1.0, "retry_after_s": 1.0}],
    }
    config = parse_fault_config(document)
    assert parse_fault_config(fault_config_to_json(config)) == config
    with pytest.raises(ValueError, match="unknown key 'p5003' \\(did you mean 'p503'\\?\\)"):
        parse_fault_config({"p5003": 1})
    with pytest.raises(ValueError, match="brownouts\\[0\\]: unknown key 'start'"):
        parse_fault_config({"brownouts": [{"start": 1, "duration_s": 1}]})
    with pytest.raises(ValueError, match="p500 must be a number"):
        parse_fault_config({"p500": "often"})
    with pytest.raises(ValueError, match="auth_failure"):
        parse_fault_config({"auth_failure": "Nope"})
