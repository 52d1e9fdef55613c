"""The engine's timing, exactly: pacer, brownout gate, Retry-After, retries and stopping.

Every test runs `BulkUpdater` against the in-memory `FakeChime` under trio's
`MockClock(autojump_threshold=0)`, with the updater's clock and random source injected. Sleeps
take no wall time and every run is deterministic, so the expectations are exact numbers
derived from the algorithms (a `FixedRate(rate=50)` books its slots 1/50 s apart; a stop at
`t` leaves nothing sent after `t`), not tolerances. Call times are seconds since the fake was
made, which is when the run starts. Where two events would fall on the same instant and their
order would matter, the scenario moves one of them off it (a deadline at 2.01 rather than 2.0).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import anyio
import pytest

from chime_bulk import (
    Adaptive,
    AttendeeResult,
    BrownoutPolicy,
    BulkUpdater,
    Capabilities,
    FixedRate,
    NullProgress,
    Report,
    RetryPolicy,
    RunAborted,
    Status,
    Unpaced,
    Update,
)
from fakes import (
    SERVER_ERROR,
    THROTTLED,
    UNAUTHORIZED,
    Call,
    FakeChime,
    Fault,
    Window,
    trio_mock_clock_backend,
    unavailable,
)

from .conftest import MUTE_VIDEO, mute_all

pytestmark = pytest.mark.anyio
anyio_backend = trio_mock_clock_backend  # trio, each test with its own MockClock

SEED = 5
#: Float slack for call times computed by adding up pacer delays; far below any interval here.
EXACT = 1e-9


def _updater(fake: FakeChime, **options: Any) -> BulkUpdater:
    return BulkUpdater(client=fake, clock=anyio.current_time, random=random.Random(SEED), **options)


def _times(calls: Sequence[Call]) -> list[float]:
    return sorted(call.time for call in calls)


def _by_update(fake: FakeChime) -> dict[tuple[str, str | None], list[Call]]:
    history: dict[tuple[str, str | None], list[Call]] = defaultdict(list)
    for call in fake.calls:
        history[call.key].append(call)
    return history


def _assert_report_matches_the_fake(
    report: Report, updates: Sequence[Update], fake: FakeChime
) -> None:
    """Each update reported once, in plan order; attempts are the fake's calls for it; the
    fake's state agrees with each result."""
    assert [(r.meeting_id, r.attendee_id) for r in report.results] == [u.key for u in updates]
    history = _by_update(fake)
    for result in report.results:
        calls = history.get((result.meeting_id, result.attendee_id), [])
        assert result.attempts == len(calls)
        assert result.throttled == sum(call.status == 429 for call in calls)
        truth = fake.capabilities(result.meeting_id, result.attendee_id)
        if result.status is Status.SUCCEEDED:
            assert truth == MUTE_VIDEO.to_api()
        elif result.status is Status.NOT_FOUND:
            assert truth is None
    # Reads (a GetMeeting asking whether a 404's meeting is gone) are not the run's traffic.
    writes = [call for call in fake.calls if call.operation != "GetMeeting"]
    assert report.summary.requests == len(writes)
    assert report.summary.throttled == sum(call.status == 429 for call in writes)


# -- the pacer ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "burst"),
    [
        pytest.param(50, 1, id="50/s-no-burst"),
        pytest.param(50, 10, id="50/s-burst-10"),
        pytest.param(20, 5, id="20/s-burst-5"),
    ],
)
async def test_fixed_rate_spaces_calls_exactly_after_the_burst(rate: float, burst: int) -> None:
    """With `FixedRate(rate, burst)` the first `burst` calls go at once and every later one
    exactly 1/rate after the one before."""
    fake = FakeChime.seeded(meetings=1, attendees=200)
    async with _updater(fake, pacing=FixedRate(rate=rate, burst=burst)) as bulk:
        report = await bulk.run(mute_all(fake.meetings))
    expected = [max(0.0, (k - (burst - 1)) / rate) for k in range(200)]
    assert _times(fake.calls) == pytest.approx(expected, abs=EXACT)
    assert report.summary.by_status == {"succeeded": 200}
    assert report.summary.elapsed_s == pytest.approx(expected[-1])


# -- Retry-After and the brownout gate ---------------------------------------------------------


async def test_a_lone_503_delays_only_its_own_update() -> None:
    """One 503 with Retry-After 2 s: that update is re-sent no sooner than 2 s later, while
    everyone else keeps the pacer's exact 1/50 s spacing (no pause)."""
    fake = FakeChime.seeded(meetings=1, attendees=100)
    updates = mute_all(fake.meetings)
    target = updates[10]
    fake = FakeChime(fake.meetings, script={target.attendee_id: [unavailable(2.0)]})
    async with _updater(fake, pacing=FixedRate(rate=50), max_concurrency=16) as bulk:
        report = await bulk.run(updates)

    # Everyone else's calls keep their slots, exactly 1/50 s apart: nobody waited.
    first, second = _by_update(fake)[target.key]
    firsts = [call for call in fake.calls if call is not second]
    assert _times(firsts) == pytest.approx([k / 50 for k in range(100)], abs=EXACT)
    assert (first.status, second.status) == (503, 200)
    assert first.time == pytest.approx(10 / 50, abs=EXACT)
    # The retry waits max(jitter <= 0.1 s, Retry-After) = 2 s; by then the pacer is idle.
    assert second.time == pytest.approx(first.time + 2.0, abs=EXACT)
    assert report.summary.by_status == {"succeeded": 100}
    _assert_report_matches_the_fake(report, updates, fake)


def _brownout_expectation(*, pause_s: float, window_end: float) -> tuple[list[float], list[float]]:
    """The call times of the brownout scenario below, and the probes' times, from the gate's
    algorithm.

    At 100/s the calls go at k/100. The brownout starts at 1.005, so the calls at 1.01, 1.02,
    1.03 and 1.04 get 503s; the fourth makes a cluster (threshold 4) and the gate pauses
    everyone for `pause_s`. No call is made while it is paused; then exactly one probe goes;
    while the probe gets a 503 the gate pauses again. The first probe after `window_end`
    succeeds, the gate opens, and the waiting workers continue at 1/100 s from there.
    """
    before = [k / 100 for k in range(105)]  # 0.00 .. 1.04
    probes = [1.04 + pause_s]
    while probes[-1] < window_end:
        probes.append(probes[-1] + pause_s)
    failed = 4 + len(probes) - 1  # the cluster, and every probe but the last
    after = [probes[-1] + j / 100 for j in range(1, 400 + failed - len(before) - len(probes) + 1)]
    return before + probes + after, probes


@pytest.mark.parametrize(
    ("retry_after_s", "policy", "pause_s"),
    [
        pytest.param(1.0, BrownoutPolicy(), 1.0, id="retry-after-1s"),
        pytest.param(None, BrownoutPolicy(default_pause_s=0.5), 0.5, id="no-retry-after"),
    ],
)
async def test_a_brownout_pauses_everyone_then_one_probe_reopens(
    retry_after_s: float | None, policy: BrownoutPolicy, pause_s: float
) -> None:
    """When 503s cluster, no call is made until the pause (Retry-After, or the policy's
    default) has passed, exactly one probe goes after each pause, and once a probe succeeds
    everyone resumes; every update succeeds."""
    fake = FakeChime.seeded(
        meetings=2,
        attendees=200,
        windows=[Window(start=1.005, end=3.005, fault=unavailable(retry_after_s))],
    )
    updates = mute_all(fake.meetings)
    async with _updater(
        fake, pacing=FixedRate(rate=100), brownout=policy, max_concurrency=8
    ) as bulk:
        report = await bulk.run(updates)

    expected, probes = _brownout_expectation(pause_s=pause_s, window_end=3.005)
    assert _times(fake.calls) == pytest.approx(expected, abs=EXACT)
    unavailable_at = _times([call for call in fake.calls if call.status == 503])
    assert unavailable_at == pytest.approx([1.01, 1.02, 1.03, 1.04, *probes[:-1]], abs=EXACT)
    # The same facts, said the way the design says them:
    for start in [1.04, *probes[:-1]]:  # nothing is sent while paused, then exactly one probe
        assert not [c for c in fake.calls if start + EXACT < c.time < start + pause_s - EXACT]
        probe = [c for c in fake.calls if abs(c.time - (start + pause_s)) < EXACT]
        assert len(probe) == 1
    assert report.summary.by_status == {"succeeded": 400}
    _assert_report_matches_the_fake(report, updates, fake)


async def test_with_latency_the_gate_follows_the_answers_not_the_sends() -> None:
    """With 55 ms latency the gate closes when the fourth 503 *arrives* (calls sent before that
    are stragglers, answered during the pause without effect), and it reopens only when the
    probe's success arrives: one probe, and nothing else on the wire while it is out."""
    fake = FakeChime.seeded(
        meetings=2,
        attendees=200,
        latency_s=0.055,
        windows=[Window(start=1.005, end=3.005, fault=unavailable(1.0))],
    )
    updates = mute_all(fake.meetings)
    async with _updater(fake, pacing=FixedRate(rate=100), max_concurrency=16) as bulk:
        report = await bulk.run(updates)

    def sent(start: float, end: float) -> list[float]:
        """Call times in the open interval (start, end)."""
        return [c.time for c in fake.calls if start + EXACT < c.time < end - EXACT]

    def at(moment: float) -> list[Call]:
        return [c for c in fake.calls if abs(c.time - moment) < EXACT]

    # The cluster (1.01 .. 1.04) and the five sent before its fourth answer came at 1.095:
    assert _times([c for c in fake.calls if c.status == 503]) == pytest.approx(
        [1.01, 1.02, 1.03, 1.04, 1.05, 1.06, 1.07, 1.08, 1.09, 2.095], abs=EXACT
    )
    assert sent(1.09, 2.095) == []  # paused for Retry-After from 1.095
    assert [c.status for c in at(2.095)] == [503]  # one probe, still in the brownout
    assert sent(2.095, 3.15) == []  # its answer at 2.15 pauses again
    assert [c.status for c in at(3.15)] == [200]  # one probe, after it
    assert sent(3.15, 3.205) == []  # still out until 3.205
    assert min(c.time for c in fake.calls if c.time > 3.15 + EXACT) == pytest.approx(3.205)
    assert report.summary.by_status == {"succeeded": 400}
    _assert_report_matches_the_fake(report, updates, fake)


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "throttled"),
    [
        pytest.param(THROTTLED, 2, id="ThrottlingException"),
        pytest.param(
            Fault(status=429, code="TooManyRequestsException"), 2, id="TooManyRequestsException"
        ),
        pytest.param(Fault(status=429, code="SlowDownPlease"), 2, id="unknown-code-429"),
        pytest.param(SERVER_ERROR, 0, id="500-transient"),
    ],
)
async def test_retries_wait_full_jitter_drawn_from_the_injected_random(
    fault: Fault, throttled: int
) -> None:
    """A throttled (or 500'd) update is retried after `uniform(0, base * 2**(n-1))` drawn from
    the updater's random source, and succeeds; only 429s count as throttled."""
    fake = FakeChime.seeded(meetings=1, attendees=20)
    updates = mute_all(fake.meetings)
    target = updates[0]
    fake = FakeChime(fake.meetings, script={target.attendee_id: [fault, fault, None]})
    retry = RetryPolicy(base_s=0.1)
    async with _updater(fake, pacing=Unpaced(), retry=retry, max_concurrency=4) as bulk:
        report = await bulk.run(updates)

    draws = random.Random(SEED)  # the only update that draws is the target
    first_wait, second_wait = 0.1 * draws.random(), 0.2 * draws.random()
    times = [call.time for call in _by_update(fake)[target.key]]
    assert times == pytest.approx([0.0, first_wait, first_wait + second_wait], abs=EXACT)
    result = report.results[0]
    assert (result.status, result.attempts, result.throttled) == (Status.SUCCEEDED, 3, throttled)
    assert (report.summary.requests, report.summary.retried) == (22, 2)
    assert report.summary.throttled == throttled
    _assert_report_matches_the_fake(report, updates, fake)


async def test_max_elapsed_s_bounds_retrying_on_the_updaters_clock() -> None:
    """`RetryPolicy(max_elapsed_s=1)` with every call failing: no update starts an attempt
    later than 1 s (plus the last backoff, at most `cap_s`) after its first one, timed on the
    updater's injected clock, so it fails long before `max_attempts`."""
    fake = FakeChime.seeded(
        meetings=1,
        attendees=4,
        latency_s=0.25,
        windows=[Window(start=0, end=float("inf"), fault=SERVER_ERROR)],
    )
    retry = RetryPolicy(max_attempts=20, base_s=0.1, cap_s=0.1, max_elapsed_s=1.0)
    async with _updater(fake, pacing=Unpaced(), retry=retry) as bulk:
        report = await bulk.run(mute_all(fake.meetings))

    assert {r.status for r in report.results} == {Status.FAILED}
    for calls in _by_update(fake).values():
        first, last = calls[0], calls[-1]
        assert last.time < first.time + 1.0 + 0.1
        assert last.answered is not None
        assert last.answered >= first.time + 1.0  # it stopped for time, not for attempts
    assert all(r.attempts < 20 for r in report.results)


async def test_a_quota_bound_faulty_run_accounts_for_everything() -> None:
    """1,000 updates through a 50/s quota with 503s, 500s (some after the write) and churn:
    every update reported once and in order, the fake's state agrees with every result, each
    result's attempts and throttles are its calls, no update is re-sent sooner than Retry-After
    after its 503, and the adaptive pacer keeps the run near the quota."""
    fake = FakeChime.seeded(
        meetings=4,
        attendees=250,
        rate=50,
        burst=20,
        latency_s=0.02,
        p503=0.01,
        retry_after_s=1.0,
        p500=0.005,
        p500_after_write=0.005,
        p_churn=0.003,
        seed=7,
    )
    updates = mute_all(fake.meetings)
    async with _updater(fake, pacing=Adaptive()) as bulk:
        report = await bulk.run(updates)

    by_status = report.summary.by_status
    assert set(by_status) == {"succeeded", "not_found"}, by_status
    assert by_status["succeeded"] + by_status["not_found"] == 1000
    _assert_report_matches_the_fake(report, updates, fake)
    assert report.summary.throttled >= 1  # the quota was really met

    checked = 0
    for calls in _by_update(fake).values():
        for earlier, later in pairwise(calls):
            if earlier.status == 503:
                assert earlier.answered is not None
                assert later.time - earlier.answered >= 1.0
                checked += 1
    assert checked == sum(call.status == 503 for call in fake.calls) >= 10  # each was retried
    # The service accepts at most burst + rate * t requests in t seconds, so the run cannot be
    # faster than that; the pacer settles at 0.98 of the quota it measures and probes upward
    # only slowly, so the run is at most a few percent slower and throttles stay rare.
    accepted = sum(call.status not in (429, None) for call in fake.calls)
    duration = max(call.time for call in fake.calls)
    assert (accepted - 20) / 50 <= duration <= 1.05 * accepted / 50
    assert report.summary.throttled <= 0.05 * report.summary.requests


async def test_a_throttled_listing_page_is_retried_and_the_listing_is_complete() -> None:
    """Listing 250 attendees (three pages) through a 2/s quota with a burst of 1: each 429'd
    page is retried until it gets through, the accepted pages are at least the quota's 0.5 s
    apart, and every attendee comes back with its capabilities (and no JoinToken)."""
    fake = FakeChime.seeded(meetings=1, attendees=250, rate=2, burst=1)
    ((meeting, attendees),) = fake.meetings.items()
    async with _updater(fake) as bulk:
        listed = await bulk.list_attendees(meeting)

    assert [a.attendee_id for a in listed] == attendees
    everything = Capabilities("SendReceive", "SendReceive", "SendReceive")
    assert all(a.capabilities == everything for a in listed)
    accepted = [call.time for call in fake.calls if call.status == 200]
    assert len(accepted) == 3
    assert all(later - earlier >= 0.5 - EXACT for earlier, later in pairwise(accepted))
    assert any(call.status == 429 for call in fake.calls)
    assert fake.calls[-1].status == 200  # the last 429 was retried too
    assert "JoinToken" not in repr(listed)


# -- stopping ----------------------------------------------------------------------------------


def _stop_expectation(
    *, stop_at: float, grace_s: float, latency_s: float, rate: float
) -> tuple[int, int]:
    """(calls made, calls answered) when a paced run stops at `stop_at`: the calls go at
    k/rate up to `stop_at`; those still on the wire then get `grace_s` to be answered."""
    made = [k / rate for k in range(int(stop_at * rate) + 1) if k / rate <= stop_at]
    answered = [t for t in made if t + latency_s <= stop_at + grace_s]
    return len(made), len(answered)


def _assert_stopped(
    report: Report,
    updates: Sequence[Update],
    fake: FakeChime,
    *,
    stop_at: float,
    made: int,
    answered: int,
) -> None:
    """Nothing sent after the stop; every answered update succeeded, every other one is
    cancelled (the ones cut off on the wire after one attempt, the rest unsent)."""
    assert len(fake.calls) == made
    assert max(call.time for call in fake.calls) <= stop_at
    assert sum(call.answered is not None for call in fake.calls) == answered
    assert report.summary.by_status == {"succeeded": answered, "cancelled": len(updates) - answered}
    history = _by_update(fake)
    for result in report.results:
        calls = history.get((result.meeting_id, result.attendee_id), [])
        if result.status is Status.SUCCEEDED:
            assert [call.answered is not None for call in calls] == [True]
            assert fake.capabilities(result.meeting_id, result.attendee_id) == MUTE_VIDEO.to_api()
        else:
            assert result.attempts == len(calls) <= 1
            assert all(call.status is None for call in calls)  # cut off: not answered, not written
            assert fake.writes(result.meeting_id, result.attendee_id) == 0


@pytest.mark.parametrize(
    "grace_s",
    [
        pytest.param(3.0, id="grace-lets-all-in-flight-finish"),
        pytest.param(0.055, id="short-grace-cuts-the-slow-ones"),
    ],
)
async def test_the_deadline_stops_sending_and_grants_grace(grace_s: float) -> None:
    """At the deadline (2.01 s) nothing more is sent; requests in flight get `grace_s`:
    those answered within it succeed, the rest and everything unsent are cancelled."""
    fake = FakeChime.seeded(meetings=1, attendees=200, latency_s=0.1)
    updates = mute_all(fake.meetings)
    async with _updater(fake, pacing=FixedRate(rate=50), deadline=2.01, grace_s=grace_s) as bulk:
        report = await bulk.run(updates)
    made, answered = _stop_expectation(stop_at=2.01, grace_s=grace_s, latency_s=0.1, rate=50)
    assert (made, answered) == ((101, 101) if grace_s == 3.0 else (101, 99))
    _assert_stopped(report, updates, fake, stop_at=2.01, made=made, answered=answered)


@pytest.mark.parametrize(
    "grace_s",
    [
        pytest.param(5.0, id="with-grace"),
        pytest.param(0.0, id="without-grace"),
    ],
)
async def test_request_stop_sends_nothing_after_it(grace_s: float) -> None:
    """`request_stop()` at 1.01 s: no call starts after it; with grace the five calls in
    flight are answered and succeed, without grace they are cut off and cancelled."""
    fake = FakeChime.seeded(meetings=1, attendees=200, latency_s=0.1)
    updates = mute_all(fake.meetings)

    async with _updater(fake, pacing=FixedRate(rate=50)) as bulk:

        async def stop_at(seconds: float) -> None:
            await anyio.sleep(seconds)  # a virtual instant, not a wait for something
            bulk.request_stop(grace_s=grace_s)

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_at, 1.01)
            report = await bulk.run(updates)
    made, answered = _stop_expectation(stop_at=1.01, grace_s=grace_s, latency_s=0.1, rate=50)
    assert (made, answered) == ((51, 51) if grace_s else (51, 46))
    _assert_stopped(report, updates, fake, stop_at=1.01, made=made, answered=answered)


async def test_request_stop_during_a_brownout_pause_ends_the_run_at_once() -> None:
    """A stop requested while the gate is paused (a 5 s Retry-After from 1.04 s) ends the run
    at that instant: the waiting workers are released, nothing more is sent, and the updates
    that met the 503s are cancelled naming it."""
    fake = FakeChime.seeded(
        meetings=1,
        attendees=200,
        windows=[Window(start=1.005, end=100, fault=unavailable(5.0))],
    )
    updates = mute_all(fake.meetings)
    async with _updater(fake, pacing=FixedRate(rate=100), max_concurrency=8) as bulk:

        async def stop_at(seconds: float) -> None:
            await anyio.sleep(seconds)  # a virtual instant, not a wait for something
            bulk.request_stop(grace_s=5)

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_at, 2.0)
            report = await bulk.run(updates)

    assert report.summary.elapsed_s == pytest.approx(2.0, abs=EXACT)
    assert max(call.time for call in fake.calls) == pytest.approx(1.04, abs=EXACT)
    assert report.summary.by_status == {"succeeded": 101, "cancelled": 99}
    met_503 = [r for r in report.results if r.attempts == 1 and r.status is Status.CANCELLED]
    assert len(met_503) == 4
    assert {r.error_code for r in met_503} == {"ServiceUnavailableException"}


async def test_outside_cancellation_propagates_at_once() -> None:
    """Cancelled from outside at 1.01 s, run() raises cancellation (never swallowed): nothing
    starts after it, the five calls on the wire are cut off unanswered, and exactly the 46
    updates answered by then were delivered as results. (That the journal holds them is
    checked end to end in test_stopping.py: its cleanup runs in a worker thread, bounded on
    the loop clock, which a MockClock would jump past.)"""
    fake = FakeChime.seeded(meetings=1, attendees=200, latency_s=0.1)
    delivered: list[AttendeeResult] = []

    class Collect(NullProgress):
        def on_result(self, result: AttendeeResult) -> None:
            delivered.append(result)

    async with _updater(fake, pacing=FixedRate(rate=50), progress=Collect()) as bulk:
        with anyio.move_on_after(1.01) as scope:
            await bulk.run(mute_all(fake.meetings))
            pytest.fail("run() returned although it was cancelled")
    assert scope.cancelled_caught
    assert max(call.time for call in fake.calls) <= 1.01
    answered = {call.key for call in fake.calls if call.status is not None}
    assert len(answered) == 46
    assert [c.time for c in fake.calls if c.status is None] == pytest.approx(
        [0.92, 0.94, 0.96, 0.98, 1.00], abs=EXACT
    )
    assert {(r.meeting_id, r.attendee_id) for r in delivered} == answered
    assert {r.status for r in delivered} == {Status.SUCCEEDED}


async def test_a_fatal_error_aborts_at_once() -> None:
    """A 401 for one update (sent at 0.52 s, answered at 0.625 s): it is `failed`, the five
    calls still on the wire are cut off, nothing is sent after it, the updates answered before
    it succeeded and everything else is `cancelled`."""
    fake = FakeChime.seeded(meetings=1, attendees=100)
    updates = mute_all(fake.meetings)
    target = updates[26]
    fake = FakeChime(fake.meetings, latency_s=0.105, script={target.attendee_id: [UNAUTHORIZED]})
    async with _updater(fake, pacing=FixedRate(rate=50), max_concurrency=8) as bulk:
        with pytest.raises(RunAborted) as raised:
            await bulk.run(updates)

    assert raised.value.error_code == "UnauthorizedException"
    report = raised.value.report
    assert _times(fake.calls) == pytest.approx([k / 50 for k in range(32)], abs=EXACT)
    assert [c.time for c in fake.calls if c.answered is None] == pytest.approx(
        [0.54, 0.56, 0.58, 0.60, 0.62], abs=EXACT
    )
    assert report.summary.by_status == {"succeeded": 26, "failed": 1, "cancelled": 73}
    (failed,) = report.failed()[:1]
    assert (failed.attendee_id, failed.error_code) == (target.attendee_id, "UnauthorizedException")
    assert [r.status for r in report.results[:26]] == [Status.SUCCEEDED] * 26


async def test_when_every_call_is_refused_at_most_max_concurrency_are_made() -> None:
    """Every call answered 401: the first wave of max_concurrency calls is all that is sent;
    each update that got the 401 is `failed`, every other one `cancelled`."""
    fake = FakeChime.seeded(
        meetings=2,
        attendees=150,
        latency_s=0.01,
        windows=[Window(start=0, end=float("inf"), fault=UNAUTHORIZED)],
    )
    updates = mute_all(fake.meetings)
    async with _updater(fake, pacing=Unpaced(), max_concurrency=8) as bulk:
        with pytest.raises(RunAborted) as raised:
            await bulk.run(updates)
    report = raised.value.report
    assert len(report.results) == 300
    assert len(fake.calls) <= 8
    refused = {call.key for call in fake.calls if call.status == 401}
    assert refused
    failed = [r for r in report.results if r.status is Status.FAILED]
    assert {(r.meeting_id, r.attendee_id) for r in failed} == refused
    assert all(r.error_code == "UnauthorizedException" for r in failed)
    assert report.summary.by_status["cancelled"] == 300 - len(failed)
