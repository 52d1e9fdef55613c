"""The engine against a quota-bound, faulty emulator: nothing lost, hints honoured.

These are the acceptance scenarios of the engine; each runs for real time against the real
emulator (the quota makes them take tens of seconds, which is the point).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from random import Random

import pytest

from chime_bulk import BulkUpdater, Status
from chime_bulk.emulator import Brownout, Emulator, Faults, RateLimit, RequestRecord

from .conftest import MUTE_VIDEO, mute_all

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

UPDATE = "UpdateAttendeeCapabilities"


def _writes(emulator: Emulator) -> list[RequestRecord]:
    return [record for record in emulator.requests if record.operation == UPDATE]


async def test_two_thousand_updates_through_quota_and_faults() -> None:
    """2,000 updates, 50/s quota, 503s, 500s, resets and churn: every update accounted for
    exactly once, the ground truth agrees with the report, and Retry-After is honoured."""
    faults = Faults(
        p503=0.01,
        retry_after_s=1,
        p500=0.005,
        p500_after_write=0.005,
        p_reset_before_write=0.002,
        p_reset_after_write=0.002,
        p_churn=0.003,
    )
    with Emulator(rates={"*": RateLimit(50, 20)}, faults=faults, seed=7) as emulator:
        meetings = emulator.seed(meetings=8, attendees=250)
        updates = mute_all(meetings)
        async with BulkUpdater(endpoint_url=emulator.endpoint_url, random=Random(7)) as bulk:
            report = await bulk.run(updates)
        records = _writes(emulator)

    assert len(report.results) == 2000
    assert [(r.meeting_id, r.attendee_id) for r in report.results] == [u.key for u in updates]
    by_status = report.summary.by_status
    assert set(by_status) <= {"succeeded", "not_found"}, by_status
    assert by_status["not_found"] >= 1  # churn happened, and was reported as such
    for result in report.results:
        truth = emulator.capabilities(result.meeting_id, result.attendee_id)
        if result.status is Status.SUCCEEDED:
            assert truth == MUTE_VIDEO.to_api()
        else:
            assert truth is None  # the attendee left: that is what not_found means
    # The report counts every attempt that reached the emulator. aiohttp re-sends an
    # idempotent PUT once, on its own, when a kept-alive connection turns out reset (DESIGN.md):
    # those re-sends reach the emulator without being attempts of ours.
    resets = sum(r.status == 0 for r in records)
    assert resets >= 1
    assert report.summary.requests <= len(records) <= report.summary.requests + resets
    assert report.summary.throttled == sum(r.status == 429 for r in records)

    # No attendee is re-sent sooner than Retry-After after its 503.
    history: dict[tuple[str | None, str | None], list[RequestRecord]] = defaultdict(list)
    for record in records:
        history[(record.meeting_id, record.attendee_id)].append(record)
    checked = 0
    for attempts in history.values():
        for earlier, later in pairwise(attempts):
            if earlier.status == 503:
                assert later.time - earlier.time >= 1.0
                checked += 1
    assert checked >= 10  # the check above really ran over the 503s


async def test_a_brownout_pauses_everyone_and_the_run_still_succeeds() -> None:
    """During a 5 s brownout at most max_concurrency + 10 requests reach the service, and with
    default settings every update succeeds once it is over."""
    brownout = Brownout(after_requests=300, duration_s=5, retry_after_s=1)
    with Emulator(rates={"*": RateLimit(100, 20)}, brownouts=[brownout], seed=3) as emulator:
        meetings = emulator.seed(meetings=4, attendees=200)
        async with BulkUpdater(endpoint_url=emulator.endpoint_url, max_concurrency=16) as bulk:
            report = await bulk.run(mute_all(meetings))
        records = emulator.requests

    start = records[brownout.after_requests].time
    during = [r for r in records if start <= r.time < start + brownout.duration_s]
    assert sum(r.status == 503 for r in during) >= 4  # the brownout really happened
    assert len(during) <= 16 + 10
    assert report.summary.by_status == {"succeeded": 800}
