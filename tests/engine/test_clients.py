"""Clients, Regions, backends and events: how the engine talks and what it tells."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from chime_bulk import BulkUpdater, Status, Unpaced, Update
from chime_bulk.emulator import Emulator, Faults

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
async def test_retries_and_failures_are_logged_without_secrets(
    emulator: Emulator, log_events: list[MutableMapping[str, Any]]
) -> None:
    """A retry is one info event with ids, attempt, code and delay; no JoinToken anywhere."""
    meetings = emulator.seed(meetings=1, attendees=10)
    emulator.set_faults(Faults(p503=0.5, retry_after_s=0))
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        report = await bulk.run(mute_all(meetings))
    events = log_events
    retries = [e for e in events if e["event"] == "retrying"]
    assert report.summary.retried == len(retries) >= 1
    first = retries[0]
    assert {"meeting_id", "attendee_id", "attempt", "error_code", "delay_s"} <= set(first)
    assert first["error_code"] == "ServiceUnavailableException"
    assert [e["event"] for e in events if e["log_level"] == "info"][-1] == "run finished"
    assert "JoinToken" not in repr(events)
