"""State-aware operations from Python: `await bulk.mute(...)`, `await bulk.restore(report)`
against the emulator, 12 meetings x 250 attendees with 2 hosts each."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from chime_bulk import BulkUpdater, Status, Unpaced
from chime_bulk.emulator import Emulator, RateLimit
from chime_bulk.state_aware import NOT_APPLIED

pytestmark = pytest.mark.anyio

ALL_ON = {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}
VIDEO_MUTED = {**ALL_ON, "Video": "Receive"}
NO_AUDIO = {**ALL_ON, "Audio": "Receive"}
BATCH = "BatchUpdateAttendeeCapabilitiesExcept"
SINGLE = "UpdateAttendeeCapabilities"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An emulator without quota or faults."""
    with Emulator(rates={"*": RateLimit(0, 0)}, seed=21) as emu:
        yield emu


def _writes(emulator: Emulator) -> Counter[tuple[str, str | None]]:
    """Write requests the service saw, by (operation, meeting)."""
    return Counter(
        (r.operation, r.meeting_id) for r in emulator.requests if r.operation in (BATCH, SINGLE)
    )


def _hosts(meetings: dict[str, list[str]]) -> dict[str, list[str]]:
    return {meeting: attendees[:2] for meeting, attendees in meetings.items()}


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_mute_video_except_hosts_then_restore_from_python(emulator: Emulator) -> None:
    """One batch call per meeting mutes everyone but the two hosts; the already muted get no
    write; every attendee is reported once; restore puts every attendee back exactly."""
    meetings = emulator.seed(meetings=12, attendees=250)
    hosts = _hosts(meetings)
    already = {(m, attendees[2]) for m, attendees in meetings.items()}
    for meeting, attendee in already:
        emulator.set_capabilities(meeting, attendee, VIDEO_MUTED)
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        report = await bulk.mute(meetings, media={"video"}, except_attendees=hosts)
        writes = _writes(emulator)
        emulator.clear_requests()
        undone = await bulk.restore(report)

    assert len(report.results) == 3000
    assert len({(r.meeting_id, r.attendee_id) for r in report.results}) == 3000
    assert report.summary.by_status == {"succeeded": 2964, "excluded": 24, "unchanged": 12}
    assert writes == Counter({(BATCH, m): 1 for m in meetings})
    for result in report.results:
        truth = emulator.capabilities(result.meeting_id, result.attendee_id)
        if result.status is Status.EXCLUDED:
            assert result.attendee_id in hosts[result.meeting_id]
        elif result.status is Status.UNCHANGED:
            assert (result.meeting_id, result.attendee_id) in already
        else:
            assert result.previous is not None
            assert result.previous.to_api() == ALL_ON
    # restore: every attendee exactly as before the mute, with one batch per meeting
    assert undone.summary.by_status == {"succeeded": 2964}
    assert _writes(emulator) == Counter({(BATCH, m): 1 for m in meetings})
    for meeting, attendees in meetings.items():
        for attendee in attendees:
            truth = emulator.capabilities(meeting, attendee)
            assert truth == (VIDEO_MUTED if (meeting, attendee) in already else ALL_ON)


async def test_a_mixed_population_costs_one_batch_plus_the_outsiders(emulator: Emulator) -> None:
    """With 10 attendees per meeting whose target differs (their audio is off), each meeting
    costs at most 1 + 10 writes, and everyone but the hosts ends unable to send video."""
    meetings = emulator.seed(meetings=12, attendees=250)
    hosts = _hosts(meetings)
    for meeting, attendees in meetings.items():
        for attendee in attendees[10:20]:
            emulator.set_capabilities(meeting, attendee, NO_AUDIO)
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        report = await bulk.mute(meetings, media={"video"}, except_attendees=hosts)
    assert report.summary.by_status == {"succeeded": 2976, "excluded": 24}
    writes = _writes(emulator)
    for meeting in meetings:
        assert writes[(BATCH, meeting)] + writes[(SINGLE, meeting)] <= 1 + 10
    for meeting, attendees in meetings.items():
        for attendee in attendees[2:]:
            video = (emulator.capabilities(meeting, attendee) or {})["Video"]
            assert video == "Receive"


def _client(emulator: Emulator) -> Any:
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 1})
    return AioSession().create_client(
        "chime-sdk-meetings",
        region_name="us-east-1",
        endpoint_url=emulator.endpoint_url,
        config=config,
    )


async def test_joiners_and_leavers_between_the_listing_and_the_batch(emulator: Emulator) -> None:
    """An attendee who joins between the listing and the batch call is reported (changed by
    the batch, its previous the service's default); one who leaves is `not_found`; the report
    still has one entry per attendee."""
    meetings = emulator.seed(meetings=1, attendees=250)
    ((meeting, attendees),) = meetings.items()
    leaver = attendees[100]
    joined: list[str] = []

    def churn(**_: Any) -> None:
        # Runs inside botocore just before the batch call goes out: the real race.
        if not joined:
            emulator.remove_attendee(meeting, leaver)  # first: a meeting holds at most 250
            joined.append(emulator.add_attendee(meeting))

    async with _client(emulator) as client:
        client.meta.events.register(f"before-call.chime-sdk-meetings.{BATCH}", churn)
        async with BulkUpdater(client=client, pacing=Unpaced()) as bulk:
            report = await bulk.mute([meeting], media={"video"}, except_attendees=attendees[:2])
    by_id = {r.attendee_id: r for r in report.results}
    assert len(report.results) == 251 == len(by_id)
    assert by_id[leaver].status is Status.NOT_FOUND
    (newcomer,) = joined
    assert by_id[newcomer].status is Status.SUCCEEDED
    previous = by_id[newcomer].previous
    assert previous is not None
    assert previous.to_api() == ALL_ON
    assert "joined during the run" in (by_id[newcomer].error_message or "")
    assert (emulator.capabilities(meeting, newcomer) or {})["Video"] == "Receive"
    assert report.summary.by_status == {"succeeded": 248, "excluded": 2, "not_found": 1}


async def test_a_change_that_did_not_take_is_reported_failed(emulator: Emulator) -> None:
    """If someone changes a member back between the batch call and the verifying listing,
    that member is `failed` with `BatchNotApplied`: the report says what the service holds."""
    meetings = emulator.seed(meetings=1, attendees=20)
    ((meeting, attendees),) = meetings.items()
    victim = attendees[5]

    def undo(**_: Any) -> None:
        emulator.set_capabilities(meeting, victim, ALL_ON)

    async with _client(emulator) as client:
        client.meta.events.register("before-call.chime-sdk-meetings.ListAttendees", undo)
        async with BulkUpdater(client=client, pacing=Unpaced()) as bulk:
            plan = await bulk.plan_mute([meeting], media={"video"})
            report = await bulk.run(plan)
    by_id = {r.attendee_id: r for r in report.results}
    assert by_id[victim].status is Status.FAILED
    assert by_id[victim].error_code == NOT_APPLIED
    assert report.summary.count(Status.SUCCEEDED) == 19


async def test_restore_leaves_an_attendee_changed_since_and_skips_those_back(
    emulator: Emulator,
) -> None:
    """restore reads first: an attendee someone changed since is not overwritten (failed,
    ChangedSinceRun), one already back is unchanged, one gone is not_found."""
    meetings = emulator.seed(meetings=1, attendees=30)
    ((meeting, attendees),) = meetings.items()
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        report = await bulk.mute([meeting], media={"video"})
        emulator.set_capabilities(meeting, attendees[0], NO_AUDIO)  # changed by someone else
        emulator.set_capabilities(meeting, attendees[1], ALL_ON)  # put back by hand
        emulator.remove_attendee(meeting, attendees[2])
        emulator.clear_requests()
        undone = await bulk.restore(report)
    by_id = {r.attendee_id: r for r in undone.results}
    assert by_id[attendees[0]].status is Status.FAILED
    assert by_id[attendees[0]].error_code == "ChangedSinceRun"
    assert emulator.capabilities(meeting, attendees[0]) == NO_AUDIO
    assert by_id[attendees[1]].status is Status.UNCHANGED
    assert by_id[attendees[2]].status is Status.NOT_FOUND
    assert undone.summary.count(Status.SUCCEEDED) == 27
    assert sum(_writes(emulator).values()) == 1  # the 27 alike go as one batch
