"""Against the real emulator: hung requests, credentials revoked mid-run, meetings deleted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chime_bulk import (
    AttendeeResult,
    BulkUpdater,
    Journal,
    NullProgress,
    RunAborted,
    Status,
    load_journal,
)
from chime_bulk.emulator import Emulator, Faults

from .conftest import MUTE_VIDEO, mute_all

pytestmark = pytest.mark.anyio


class _After(NullProgress):
    """Calls `action` once, when the `count`-th result (or first retry) is in."""

    def __init__(self, *, count: int, action: Any, on_retry: bool = False) -> None:
        self._count = count
        self._seen = 0
        self._action = action
        self._on_retry = on_retry

    def _tick(self) -> None:
        self._seen += 1
        if self._seen == self._count:
            self._action()

    def on_result(self, result: AttendeeResult) -> None:
        if not self._on_retry:
            self._tick()

    def on_retry(self, **details: Any) -> None:
        if self._on_retry:
            self._tick()


async def test_a_hung_request_times_out_and_is_retried_once_more(emulator: Emulator) -> None:
    """Every answer 1.5 s late with a 0.5 s read timeout: the first attempts time out
    (transient), are retried once the service is fast again, and succeed; a write that
    landed after we gave up is resent at most once more (writes applied ≤ 2)."""
    meetings = emulator.seed(meetings=1, attendees=8)
    updates = mute_all(meetings)
    emulator.set_faults(Faults(latency_ms=1500))
    healed = _After(count=1, action=lambda: emulator.set_faults(Faults()), on_retry=True)
    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url, max_concurrency=8, read_timeout_s=0.5, progress=healed
    ) as bulk:
        report = await bulk.run(updates)
    assert report.summary.by_status == {"succeeded": 8}
    assert all(result.attempts == 2 for result in report.results)
    assert report.summary.retried == 8
    for update in updates:
        assert emulator.capabilities(*update.key) == MUTE_VIDEO.to_api()
        assert 1 <= emulator.write_count(*update.key) <= 2


async def test_credentials_revoked_mid_run_abort_then_resume_finishes_the_plan(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The token expires after 100 of 300 results: the run aborts at once (the update that
    met it `failed` with its code, the rest `cancelled`, the journal flushed); resumed from
    the journal with good credentials, the emulator's ground truth equals the plan."""
    meetings = emulator.seed(meetings=3, attendees=100)
    updates = mute_all(meetings)
    revoke = _After(
        count=100, action=lambda: emulator.set_faults(Faults(auth_failure="ExpiredTokenException"))
    )
    journal_path = tmp_path / "run.journal"
    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url, max_concurrency=8, progress=revoke
    ) as bulk:
        with pytest.raises(RunAborted) as caught:
            await bulk.run(updates, journal=journal_path)
    first = caught.value.report
    assert caught.value.error_code == "ExpiredTokenException"
    by_status = first.summary.by_status
    assert by_status["succeeded"] >= 100
    assert by_status["failed"] >= 1
    assert sum(by_status.values()) == 300
    assert all(
        r.error_code == "ExpiredTokenException" for r in first.results if r.status is Status.FAILED
    )
    journaled = load_journal(journal_path)
    assert len(journaled) == by_status["succeeded"]  # flushed: every final result is there

    emulator.set_faults(Faults())  # fresh credentials
    remaining = [u for u in updates if u.key not in journaled]
    async with (
        Journal.open(journal_path, resume=True) as journal,
        BulkUpdater(endpoint_url=emulator.endpoint_url, max_concurrency=8) as bulk,
    ):
        second = await bulk.run(remaining, journal=journal)
    assert second.summary.by_status == {"succeeded": len(remaining)}
    assert len(load_journal(journal_path)) == len(updates)
    assert all(emulator.capabilities(*u.key) == MUTE_VIDEO.to_api() for u in updates)


@pytest.mark.parametrize("concurrency", [4, 16])
async def test_a_meeting_deleted_mid_run_costs_a_handful_of_requests(
    emulator: Emulator, concurrency: int
) -> None:
    """A meeting deleted after 100 of its 250 updates: one GetMeeting finds it gone, so the
    other 150 cost at most two requests per worker plus that probe; each is `not_found`
    saying why, and the other meeting is untouched by it."""
    seeded = emulator.seed(meetings=2, attendees=250)
    doomed, other = list(seeded)
    updates = mute_all({doomed: seeded[doomed]}) + mute_all({other: seeded[other][:50]})
    deleting = _After(count=100, action=lambda: emulator.remove_meeting(doomed))
    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url, max_concurrency=concurrency, progress=deleting
    ) as bulk:
        report = await bulk.run(updates)
    # What the deletion cost: the writes answered 404 and the probe (every write before it
    # was answered 200). Each worker may have one request in flight at the deletion and send
    # one more before the first 404 is back; after that the probe stops them all.
    cost = [
        r
        for r in emulator.requests
        if r.meeting_id == doomed and (r.status == 404 or r.operation == "GetMeeting")
    ]
    gone = [r for r in report.results if r.meeting_id == doomed and r.status is Status.NOT_FOUND]
    succeeded = [
        r for r in report.results if r.meeting_id == doomed and r.status is Status.SUCCEEDED
    ]
    assert len(gone) + len(succeeded) == 250
    assert len(gone) >= 150 - concurrency
    assert len(cost) <= 2 * concurrency + 1
    assert sum(r.attempts == 0 for r in gone) == len(gone) - (len(cost) - 1)
    assert sum(r.operation == "GetMeeting" for r in emulator.requests) == 1
    assert all("not found in Region us-east-1" in (r.error_message or "") for r in gone)
    assert all(r.error_code == "NotFoundException" for r in gone)
    mine = [r for r in report.results if r.meeting_id == other]
    assert [r.status for r in mine] == [Status.SUCCEEDED] * 50


async def test_a_lone_departed_attendee_does_not_condemn_its_meeting(emulator: Emulator) -> None:
    """Attendees that left (404) are probed with one GetMeeting; the meeting is there, so
    every other update of it is still sent and succeeds."""
    seeded = emulator.seed(meetings=1, attendees=40)
    updates = mute_all(seeded)
    for update in updates[:2]:
        emulator.remove_attendee(*update.key)
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, max_concurrency=1) as bulk:
        report = await bulk.run(updates)
    assert report.summary.by_status == {"not_found": 2, "succeeded": 38}
    assert all("Region" not in (r.error_message or "") for r in report.results)
    assert sum(r.operation == "GetMeeting" for r in emulator.requests) == 2
