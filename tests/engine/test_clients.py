"""Clients, Regions, backends and events: how the engine talks and what it tells."""

from __future__ import annotations

from collections.abc import MutableMapping
from random import Random
from typing import Any

import anyio
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from chime_bulk import BulkUpdater, Status, Unpaced, Update
from chime_bulk.emulator import Emulator
from fakes import FakeChime, Fault, trio_mock_clock, unavailable

from .conftest import MUTE_VIDEO, mute_all


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_same_code_runs_under_asyncio_and_trio(emulator: Emulator) -> None:
    """The engine runs unchanged under trio (through aiobotocore's httpx backend)."""
    meetings = emulator.seed(meetings=2, attendees=25)
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        report = await bulk.run(mute_all(meetings))
    assert report.summary.by_status == {"succeeded": 50}
    assert all(
        emulator.capabilities(r.meeting_id, r.attendee_id) == MUTE_VIDEO.to_api()
        for r in report.results
    )


@pytest.mark.anyio
async def test_each_update_goes_to_its_own_region() -> None:
    """Updates naming another Region are signed for (and sent through a client of) it."""
    with Emulator(region="eu-central-1", seed=5) as emulator:
        meetings = emulator.seed(meetings=1, attendees=3)
        updates = mute_all(meetings)
        elsewhere = [
            Update(
                meeting_id=u.meeting_id,
                attendee_id=u.attendee_id,
                capabilities=u.capabilities,
                region="eu-central-1",
            )
            for u in updates
        ]
        async with BulkUpdater(
            region="us-east-1", endpoint_url=emulator.endpoint_url, pacing=Unpaced()
        ) as bulk:
            report = await bulk.run([*updates, *elsewhere])
    # The emulator, like the service, only knows a meeting in the Region that created it.
    assert [r.status for r in report.results] == [Status.NOT_FOUND] * 3 + [Status.SUCCEEDED] * 3


@pytest.mark.anyio
async def test_a_given_client_with_botocore_retries_gets_a_warning(emulator: Emulator) -> None:
    """client= is used as given, with a warning when botocore would retry underneath."""
    meetings = emulator.seed(meetings=1, attendees=2)
    async with AioSession().create_client(
        "chime-sdk-meetings",
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        config=AioConfig(retries={"mode": "legacy"}),
    ) as client:
        with pytest.warns(RuntimeWarning, match="botocore retries"):
            bulk = BulkUpdater(client=client, pacing=Unpaced())
        async with bulk:
            report = await bulk.run(mute_all(meetings))
    assert report.ok


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", [trio_mock_clock()])
async def test_retries_and_failures_are_logged_without_secrets(
    log_events: list[MutableMapping[str, Any]],
) -> None:
    """A retry is one info event with ids, attempt, code and delay (Retry-After for a 503);
    a final failure is a warning; the run ends with an info summary; no JoinToken anywhere,
    although every answer carries one."""
    fake = FakeChime.seeded(meetings=1, attendees=10)
    updates = mute_all(fake.meetings)
    unlucky, rejected = updates[3], updates[6]
    fake = FakeChime(
        fake.meetings,
        script={
            unlucky.attendee_id: [unavailable(0.5)],
            rejected.attendee_id: [Fault(status=400, code="BadRequestException", message="no")],
        },
    )
    async with BulkUpdater(
        client=fake, clock=anyio.current_time, pacing=Unpaced(), random=Random(1)
    ) as bulk:
        report = await bulk.run(updates)
    retries = [e for e in log_events if e["event"] == "retrying"]
    assert retries == [
        {
            "event": "retrying",
            "log_level": "info",
            "operation": "UpdateAttendeeCapabilities",
            "meeting_id": unlucky.meeting_id,
            "attendee_id": unlucky.attendee_id,
            "attempt": 1,
            "error_code": "ServiceUnavailableException",
            "delay_s": 0.5,
        }
    ]
    assert report.summary.retried == 1
    (failed,) = [e for e in log_events if e["event"] == "update failed"]
    assert failed["log_level"] == "warning"
    assert (failed["attendee_id"], failed["error_code"]) == (
        rejected.attendee_id,
        "BadRequestException",
    )
    assert [e["event"] for e in log_events if e["log_level"] == "info"][-1] == "run finished"
    assert "JoinToken" not in repr(log_events)
    assert "secret-join-token" not in repr(log_events)
