"""The engine against a quota-bound, faulty emulator: nothing lost, hints honoured.

These are the engine's acceptance scenarios over real HTTP (aiobotocore over loopback to the
real emulator), kept small so each takes a few seconds. The same behaviour is checked exactly,
at larger scale and in no wall time, against the in-memory fake in `test_timing.py`; what only
a real connection shows (aiohttp's own re-send after a reset, real latency) is checked here.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from random import Random

import pytest

from chime_bulk import Adaptive, BulkUpdater, Status
from chime_bulk.emulator import Brownout, Emulator, Faults, RateLimit, RequestRecord

from .conftest import MUTE_VIDEO, mute_all

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

UPDATE = "UpdateAttendeeCapabilities"


def _writes(emulator: Emulator) -> list[RequestRecord]:
    return [record for record in emulator.requests if record.operation == UPDATE]


async def test_updates_through_quota_and_faults_end_to_end() -> None:
    """320 updates, a 200/s quota, 503s, 500s, resets and churn: every update accounted for
    exactly once, the ground truth agrees with the report, and Retry-After is honoured."""
    faults = Faults(
        p503=0.04,
        retry_after_s=0.5,
        p500=0.01,
        p500_after_write=0.01,
        p_reset_before_write=0.01,
        p_reset_after_write=0.01,
        p_churn=0.02,
    )
    with Emulator(rates={"*": RateLimit(200, 40)}, faults=faults, seed=7) as emulator:
        meetings = emulator.seed(meetings=4, attendees=80)
        updates = mute_all(meetings)
        async with BulkUpdater(
            endpoint_url=emulator.endpoint_url,
            pacing=Adaptive(initial_rate=150, burst=40),
            random=Random(7),
        ) as bulk:
            report = await bulk.run(updates)
        records = _writes(emulator)

    assert len(report.results) == 320
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
                assert later.time - earlier.time >= 0.5
                checked += 1
    assert checked >= 5  # the check above really ran over the 503s


async def test_a_brownout_pauses_everyone_and_the_run_still_succeeds() -> None:
    """During a 1.5 s brownout at most max_concurrency + 10 requests reach the service, and with
    default settings every update succeeds once it is over."""
    after = 80  # requests before the brownout opens
    brownout = Brownout(after_requests=after, duration_s=1.5, retry_after_s=0.5)
    with Emulator(rates={"*": RateLimit(200, 40)}, brownouts=[brownout], seed=3) as emulator:
        meetings = emulator.seed(meetings=2, attendees=120)
        async with BulkUpdater(
            endpoint_url=emulator.endpoint_url,
            max_concurrency=16,
            pacing=Adaptive(initial_rate=150, burst=40),
        ) as bulk:
            report = await bulk.run(mute_all(meetings))
        records = emulator.requests

    start = records[after].time
    during = [r for r in records if start <= r.time < start + brownout.duration_s]
    assert sum(r.status == 503 for r in during) >= 4  # the brownout really happened
    assert len(during) <= 16 + 10
    assert report.summary.by_status == {"succeeded": 240}
