"""The summary's figures, exactly: rate over updates sent, service time apart from queueing.

Runs `BulkUpdater` against `FakeChime` under trio's `MockClock`, with the updater's clock
injected, so every figure is an exact number derived from the pacer's slots and the fake's
latency rather than a tolerance.
"""

from __future__ import annotations

import random
from typing import Any

import anyio
import pytest

from chime_bulk import BulkUpdater, FixedRate, RetryPolicy, Unpaced
from chime_bulk._model.update import BatchExcept
from fakes import THROTTLED, FakeChime, attendee_id, meeting_id, trio_mock_clock_backend

from .conftest import MUTE_VIDEO, mute_all

pytestmark = pytest.mark.anyio
anyio_backend = trio_mock_clock_backend

#: Every call of the fake takes 50 ms of (mock) time.
LATENCY_S = 0.05


def _updater(fake: FakeChime, **options: Any) -> BulkUpdater:
    return BulkUpdater(client=fake, clock=anyio.current_time, random=random.Random(5), **options)


def _meeting(attendees: int) -> dict[str, list[str]]:
    return {meeting_id(0): [attendee_id(0, n) for n in range(attendees)]}


async def test_paced_run_separates_service_time_from_queueing() -> None:
    """At 10/s, five updates are sent 0.1 s apart: each spends 50 ms in the service and
    0, 0.1, 0.2, 0.3 or 0.4 s waiting for the pacer; the rate is 5 sent in 0.45 s."""
    fake = FakeChime(_meeting(5), latency_s=LATENCY_S)
    async with _updater(fake, pacing=FixedRate(rate=10), max_concurrency=5) as bulk:
        report = await bulk.run(mute_all(_meeting(5)))
    summary = report.summary
    assert summary.latency_ms == {"p50": 50.0, "p90": 50.0, "p99": 50.0, "max": 50.0}
    assert summary.queued_ms == {"p50": 200.0, "p90": 400.0, "p99": 400.0, "max": 400.0}
    assert summary.elapsed_s == 0.45
    assert summary.sent == 5
    assert summary.updates_per_s == pytest.approx(5 / 0.45)
    assert summary.requests_per_s == pytest.approx(5 / 0.45)


async def test_cancelled_updates_are_not_in_the_rate() -> None:
    """A deadline at 1.01 s leaves 11 of 20 updates sent (one slot per 0.1 s from 0 to 1.0)
    and 9 cancelled: the rate is 11 / 1.01 s, not 20 / 1.01 s."""
    fake = FakeChime(_meeting(20), latency_s=0.005)
    async with _updater(fake, pacing=FixedRate(rate=10), max_concurrency=4, deadline=1.01) as bulk:
        report = await bulk.run(mute_all(_meeting(20)))
    summary = report.summary
    assert summary.by_status == {"succeeded": 11, "cancelled": 9}
    assert summary.sent == 11
    assert summary.elapsed_s == 1.01
    assert summary.updates_per_s == pytest.approx(11 / 1.01)
    assert summary.latency_ms["max"] == 5.0


async def test_throttled_update_counts_both_calls_as_service_time() -> None:
    """An update throttled once spends two 50 ms calls in the service; its backoff (full
    jitter: the seeded source's first draw, 0.6229…, times the 0.1 s base) is queueing."""
    meetings = _meeting(1)
    (attendee,) = meetings[meeting_id(0)]
    fake = FakeChime(meetings, latency_s=LATENCY_S, script={attendee: [THROTTLED, None]})
    async with _updater(fake, pacing=Unpaced(), retry=RetryPolicy(max_attempts=3)) as bulk:
        report = await bulk.run(mute_all(meetings))
    summary = report.summary
    assert (summary.requests, summary.throttled, summary.sent) == (2, 1, 1)
    assert summary.latency_ms == {"p50": 100.0, "p90": 100.0, "p99": 100.0, "max": 100.0}
    backoff_ms = round(random.Random(5).random() * RetryPolicy().base_s * 1000, 3)
    assert summary.queued_ms["max"] == backoff_ms == 62.29
    assert summary.elapsed_s == 0.162
    assert summary.requests_per_s == pytest.approx(2 / 0.162)


async def test_batched_updates_are_sent_updates_of_one_request() -> None:
    """One batch request for 10 attendees: 10 updates sent, 1 request, one latency (50 ms)."""
    meetings = _meeting(12)
    members = tuple(mute_all({meeting_id(0): meetings[meeting_id(0)][:10]}))
    batch = BatchExcept(
        meeting_id=meeting_id(0),
        capabilities=MUTE_VIDEO,
        excluded_ids=tuple(meetings[meeting_id(0)][10:]),
        members=members,
    )
    fake = FakeChime(meetings, latency_s=LATENCY_S)
    async with _updater(fake, pacing=Unpaced()) as bulk:
        report = await bulk.run([batch])
    summary = report.summary
    assert (summary.total, summary.sent, summary.requests) == (10, 10, 1)
    assert summary.latency_ms == {"p50": 50.0, "p90": 50.0, "p99": 50.0, "max": 50.0}
    assert summary.queued_ms["max"] == 0.0
    assert summary.updates_per_s == pytest.approx(10 / 0.05)
    assert summary.requests_per_s == pytest.approx(1 / 0.05)
