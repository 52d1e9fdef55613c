"""The engine against a well-behaved emulator: results, reporting, validation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chime_bulk import (
    BulkUpdater,
    Capabilities,
    MeetingFeatures,
    RetryPolicy,
    Status,
    Update,
    load_journal,
)
from chime_bulk._policy.pacing import Unpaced
from chime_bulk.emulator import Emulator, Faults

from .conftest import MUTE_VIDEO, mute_all

pytestmark = pytest.mark.anyio


async def test_every_update_succeeds_and_lands(emulator: Emulator) -> None:
    """A clean run reports each update succeeded once, and the emulator holds each change."""
    meetings = emulator.seed(meetings=3, attendees=20)
    updates = mute_all(meetings)
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        report = await bulk.run(updates)
    assert [r.attendee_id for r in report.results] == [u.attendee_id for u in updates]
    assert all(r.status is Status.SUCCEEDED and r.attempts == 1 for r in report.results)
    assert report.ok
    assert report.summary.total == 60
    assert report.summary.requests == 60
    for update in updates:
        assert emulator.capabilities(update.meeting_id, update.attendee_id) == MUTE_VIDEO.to_api()
        assert emulator.write_count(update.meeting_id, update.attendee_id) == 1
    assert all(r.request_id for r in report.results)


async def test_invalid_updates_are_never_sent(emulator: Emulator) -> None:
    """A malformed ID or a forbidden combination is `invalid`, and no request carries it."""
    meetings = emulator.seed(meetings=1, attendees=2)
    meeting, (good, other) = next(iter(meetings.items()))
    updates = [
        Update(meeting_id=meeting, attendee_id="not-an-id", capabilities=MUTE_VIDEO),
        Update(
            meeting_id=meeting,
            attendee_id=other,
            capabilities=Capabilities("SendReceive", "None", "Receive"),
        ),
        Update(meeting_id=meeting, attendee_id=good, capabilities=MUTE_VIDEO),
    ]
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        report = await bulk.run(updates)
    assert [r.status for r in report.results] == [Status.INVALID, Status.INVALID, Status.SUCCEEDED]
    assert "not a valid Chime ID" in (report.results[0].error_message or "")
    assert "Content" in (report.results[1].error_message or "")
    sent = [(r.meeting_id, r.attendee_id) for r in emulator.requests]
    assert sent == [(meeting, good)]


async def test_unknown_attendee_is_not_found_without_retry(emulator: Emulator) -> None:
    """An attendee that does not exist is `not_found` after exactly one attempt."""
    meetings = emulator.seed(meetings=1, attendees=1)
    meeting = next(iter(meetings))
    ghost = "0123abcd-0000-0000-0000-000000000000"
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        report = await bulk.run(
            [Update(meeting_id=meeting, attendee_id=ghost, capabilities=MUTE_VIDEO)]
        )
    (result,) = report.results
    assert (result.status, result.attempts, result.error_code) == (
        Status.NOT_FOUND,
        1,
        "NotFoundException",
    )
    assert not report.ok


async def test_duplicates_are_each_reported(emulator: Emulator) -> None:
    """The same update given twice appears twice in the report."""
    meetings = emulator.seed(meetings=1, attendees=1)
    (update,) = mute_all(meetings)
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        report = await bulk.run([update, update])
    assert [r.status for r in report.results] == [Status.SUCCEEDED, Status.SUCCEEDED]


async def test_async_iterables_are_pulled_lazily(emulator: Emulator) -> None:
    """An async generator plan works, and is not read ahead of the workers."""
    meetings = emulator.seed(meetings=1, attendees=50)
    updates = mute_all(meetings)
    pulled = 0
    max_ahead = 0

    async def generate() -> AsyncIterator[Update]:
        nonlocal pulled, max_ahead
        for update in updates:
            pulled += 1
            max_ahead = max(max_ahead, pulled - len(emulator.requests))
            yield update

    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url, pacing=Unpaced(), max_concurrency=4
    ) as bulk:
        report = await bulk.run(generate())
    assert report.summary.by_status == {"succeeded": 50}
    assert max_ahead <= 4 + 2


async def test_max_attempts_counts_every_attempt_end_to_end(emulator: Emulator) -> None:
    """With every write failing, each update makes exactly max_attempts requests, then
    fails with the service's code."""
    meetings = emulator.seed(meetings=1, attendees=5)
    emulator.set_faults(Faults(p500=1.0))
    retry = RetryPolicy(max_attempts=3, base_s=0.001, cap_s=0.01)
    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url, pacing=Unpaced(), retry=retry
    ) as bulk:
        report = await bulk.run(mute_all(meetings))
    assert {(r.status, r.attempts, r.error_code) for r in report.results} == {
        (Status.FAILED, 3, "ServiceFailureException")
    }
    assert len(emulator.requests) == 15
    assert report.summary.requests == 15
    assert report.summary.retried == 10


async def test_known_meeting_features_stop_doomed_updates(emulator: Emulator) -> None:
    """Given the meeting's features (read with meeting_features()), an update the meeting
    would reject is `invalid` and never sent."""
    meeting = emulator.create_meeting(
        attendees=2,
        features={"Video": {"MaxResolution": "None"}, "Content": {"MaxResolution": "FHD"}},
    )
    first, second = emulator.meeting_attendees(meeting)
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as probe:
        features = await probe.meeting_features(meeting)
    assert features.video_max_resolution == "None"
    emulator.clear_requests()
    updates = [
        Update(meeting_id=meeting, attendee_id=first, capabilities=MUTE_VIDEO),
        Update(
            meeting_id=meeting,
            attendee_id=second,
            capabilities=Capabilities("SendReceive", "None", "None"),
        ),
    ]
    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url,
        pacing=Unpaced(),
        meeting_features={meeting: features},
    ) as bulk:
        report = await bulk.run(updates)
    assert [r.status for r in report.results] == [Status.INVALID, Status.SUCCEEDED]
    assert [r.attendee_id for r in emulator.requests] == [second]


async def test_run_takes_per_run_settings_over_the_updaters(
    emulator: Emulator, tmp_path: Path
) -> None:
    """`run(journal=..., meeting_features=...)` apply to that run only; the updater's own
    defaults hold for the next run."""
    meetings = emulator.seed(meetings=1, attendees=2)
    meeting = next(iter(meetings))
    updates = mute_all(meetings)  # video Receive: a meeting without video rejects it
    no_video = MeetingFeatures(video_max_resolution="None")
    journal = tmp_path / "run.journal"
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        first = await bulk.run(updates, journal=journal, meeting_features={meeting: no_video})
        second = await bulk.run(updates)
    assert [r.status for r in first.results] == [Status.INVALID, Status.INVALID]
    assert len(load_journal(journal)) == 2
    assert [r.status for r in second.results] == [Status.SUCCEEDED, Status.SUCCEEDED]


async def test_run_refuses_a_mapping_or_a_string_at_the_door(emulator: Emulator) -> None:
    """A dict or a string is not a plan: `run()` says so with a TypeError before any request."""
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        with pytest.raises(TypeError, match="not dict"):
            await bulk.run({"MeetingId": "x"})  # type: ignore[dict-item]
        with pytest.raises(TypeError, match="not str"):
            await bulk.run("plan.jsonl")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="is a tuple, not an Update"):
            await bulk.run([("m", "a")])  # type: ignore[list-item]
    assert emulator.requests == []
