"""Pacers, driven by a fake clock: exact slots, exact rates."""

from __future__ import annotations

import math

import pytest

from chime_bulk._policy.classification import ErrorKind, Failure
from chime_bulk._policy.pacing import (
    Adaptive,
    AdaptivePacer,
    FixedRate,
    TokenBucket,
    Unpaced,
    on_failure,
    take_slot,
)
from fakes import ManualClock


def test_token_bucket_books_slots_ahead_in_order() -> None:
    """After the burst, each reservation waits one more interval than the last."""
    clock = ManualClock()
    bucket = TokenBucket(rate=10, burst=2, clock=clock)
    delays = [bucket.reserve() for _ in range(5)]
    assert delays == pytest.approx([0, 0, 0.1, 0.2, 0.3])


def test_token_bucket_refills_at_its_rate_up_to_the_burst() -> None:
    """Idle time refills tokens, but never beyond the burst."""
    clock = ManualClock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    for _ in range(3):
        bucket.reserve()
    clock.advance(10)
    assert [bucket.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])


def test_token_bucket_rate_change_applies_to_later_slots() -> None:
    """Slots booked after a rate change are spaced at the new rate."""
    clock = ManualClock()
    bucket = TokenBucket(rate=10, burst=1, clock=clock)
    assert bucket.reserve() == 0
    bucket.set_rate(100)
    assert bucket.reserve() == pytest.approx(0.01)


def test_fixed_rate_ignores_feedback() -> None:
    """A fixed rate stays where the user put it, throttled or not."""
    pacer = FixedRate(rate=5).new_pacer(clock=ManualClock())
    pacer.on_response(throttled=True)
    assert pacer.rate == 5


def test_unpaced_never_waits() -> None:
    """Unpaced hands out slots at once, forever."""
    pacer = Unpaced().new_pacer(clock=ManualClock())
    assert all(pacer.reserve() == 0 for _ in range(1000))
    assert pacer.rate == math.inf


def _drive(
    pacer: AdaptivePacer,
    clock: ManualClock,
    *,
    seconds: float,
    quota: float | None,
    burst: float = 20,
) -> tuple[int, int]:
    """Run the pacer against a token-bucket service with instant responses.

    Returns (accepted, throttled)."""
    server_tokens = burst
    last = clock.now
    accepted = throttled = 0
    end = clock.now + seconds
    while clock.now < end:
        clock.advance(pacer.reserve())
        if quota is None:
            ok = True
        else:
            server_tokens = min(burst, server_tokens + (clock.now - last) * quota)
            last = clock.now
            ok = server_tokens >= 1
            if ok:
                server_tokens -= 1
        pacer.on_response(throttled=not ok)
        accepted += ok
        throttled += not ok
    return accepted, throttled


def test_adaptive_starts_at_the_documented_rate_with_its_burst() -> None:
    """The first burst of slots is free, then slots come at the initial rate."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(initial_rate=10, burst=20), clock=clock)
    delays = [pacer.reserve() for _ in range(22)]
    assert delays[:20] == [0] * 20
    assert delays[20] == pytest.approx(0.1)


def test_adaptive_finds_a_quota_above_the_default() -> None:
    """Against a 50/s quota it settles within a few percent below 50/s, with few throttles."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(), clock=clock)
    accepted, throttled = _drive(pacer, clock, seconds=60, quota=50)
    assert 45 <= pacer.rate <= 52
    assert accepted >= 0.93 * (20 + 50 * 60)
    assert throttled <= 0.02 * accepted


def test_adaptive_backs_off_when_the_quota_is_lower_than_the_start() -> None:
    """Against a 4/s quota it comes down to it instead of throttling forever."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(), clock=clock)
    accepted, throttled = _drive(pacer, clock, seconds=60, quota=4)
    assert pacer.rate <= 4.5
    assert throttled <= 0.1 * accepted


def test_adaptive_respects_max_rate() -> None:
    """With no quota at all the rate climbs only to max_rate."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(max_rate=30), clock=clock)
    _drive(pacer, clock, seconds=30, quota=None)
    assert pacer.rate == 30


def test_adaptive_does_not_grow_without_demand() -> None:
    """A rate nobody uses is not raised: no evidence, no growth."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(initial_rate=10, burst=1), clock=clock)
    for _ in range(20):
        clock.advance(1.0)  # one request a second: far below the allowed 10/s
        pacer.reserve()
        pacer.on_response(throttled=False)
    assert pacer.rate == pytest.approx(10)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"initial_rate": 0}, "initial_rate", id="zero-start"),
        pytest.param({"max_rate": 0.1, "min_rate": 1}, "max_rate", id="max-below-min"),
        pytest.param({"margin": 1.5}, "margin", id="margin"),
    ],
)
def test_adaptive_rejects_nonsense(kwargs: dict[str, float], field: str) -> None:
    """Settings that cannot work are refused up front, naming the field."""
    with pytest.raises(ValueError, match=field):
        Adaptive(**kwargs)


def _accept(
    pacer: AdaptivePacer, clock: ManualClock, *, count: int, over_s: float, book: bool = True
) -> None:
    """`count` sends spread evenly over `over_s`, each accepted and (with `book`) booked
    first; the slot's own wait is ignored: the test decides the timing."""
    for _ in range(count):
        if book:
            pacer.reserve()
        clock.advance(over_s / count)
        pacer.on_response(throttled=False)


def test_second_throttle_measures_the_quota_exactly() -> None:
    """Between two throttles the service's bucket was empty at both ends, so what it accepted
    in between, per second, is its quota: the pacer settles at margin times that."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(margin=0.98), clock=clock)
    clock.advance(5.0)  # the start is long past: the first estimate is the last second's
    _accept(pacer, clock, count=30, over_s=1.0, book=False)
    pacer.on_response(throttled=True)  # first: a rough estimate from the last second
    assert pacer.rate == pytest.approx(0.98 * 30)
    _accept(pacer, clock, count=100, over_s=2.0)
    pacer.on_response(throttled=True)
    assert pacer.rate == pytest.approx(0.98 * 100 / 2.0)


def test_throttles_right_after_one_are_the_same_event() -> None:
    """429s within the reaction gap change nothing more."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(react_gap_s=0.5), clock=clock)
    _accept(pacer, clock, count=40, over_s=1.0)
    pacer.on_response(throttled=True)
    rate = pacer.rate
    clock.advance(0.2)
    pacer.on_response(throttled=True)
    assert pacer.rate == rate


def test_after_a_measurement_probing_is_slow() -> None:
    """Once the quota is measured the rate creeps up by probe_growth per second, not more."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(probe_growth=0.01, margin=1.0), clock=clock)
    _accept(pacer, clock, count=50, over_s=1.0)
    pacer.on_response(throttled=True)
    _accept(pacer, clock, count=50, over_s=1.0)
    pacer.on_response(throttled=True)
    assert pacer.rate == pytest.approx(50)
    for _ in range(50):  # one second of demand at the current rate
        clock.advance(0.02)
        pacer.reserve()
    growth = pacer.rate / 50
    assert 1.0 < growth < math.exp(0.01 * 1.2)


def test_a_quota_raised_mid_run_is_found() -> None:
    """When the quota doubles mid-run, the pacer climbs to the new one within a minute."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(), clock=clock)
    _drive(pacer, clock, seconds=20, quota=50)
    assert pacer.rate < 55
    _drive(pacer, clock, seconds=60, quota=100)
    assert pacer.rate > 85


def test_max_rate_caps_the_burst_too() -> None:
    """With max_rate=1 the pacer sends one request, then one a second: no burst of 20."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(max_rate=1, min_rate=0.5), clock=clock)
    assert [pacer.reserve() for _ in range(3)] == pytest.approx([0, 1, 2])


def test_token_bucket_counts_the_time_it_spent_full() -> None:
    """After two slots at 10/s with burst 2, a second of quiet is 0.2 s refilling, 0.8 s full."""
    clock = ManualClock()
    bucket = TokenBucket(rate=10, burst=2, clock=clock)
    bucket.reserve()
    bucket.reserve()
    clock.advance(1.0)
    assert bucket.full_s == pytest.approx(0.8)


def _quiet(**overrides: float) -> Adaptive:
    """Adaptive settings that never grow on their own, so every rate below is exact."""
    settings: dict[str, float] = {"growth": 0, "regrowth": 0, "probe_growth": 0, "margin": 0.98}
    settings.update(overrides)
    return Adaptive(**settings)


def _paced(pacer: AdaptivePacer, clock: ManualClock, *, count: int) -> None:
    """`count` sends, each waiting for its slot and accepted."""
    for _ in range(count):
        clock.advance(pacer.reserve())
        pacer.on_response(throttled=False)


def test_a_brownout_pause_is_left_out_of_the_measurement() -> None:
    """100 accepts in 2 s, a 3 s pause, 100 more in 2 s: the quota measured is 50/s, not 100/7."""
    clock = ManualClock()
    pacer = AdaptivePacer(_quiet(), clock=clock)
    _accept(pacer, clock, count=40, over_s=1.0, book=False)
    pacer.on_response(throttled=True)  # 39.2/s: sending at 50/s keeps its bucket empty
    _accept(pacer, clock, count=100, over_s=2.0)
    pacer.pause()
    clock.advance(3.0)
    pacer.resume()
    _accept(pacer, clock, count=100, over_s=2.0)
    pacer.on_response(throttled=True)
    assert pacer.rate == pytest.approx(0.98 * 200 / 4.0)


def test_the_bucket_saves_nothing_up_during_a_pause() -> None:
    """After a pause the next slot comes at the pacer's rate (after the one slot a throttle
    skips), not as a burst of saved tokens."""
    clock = ManualClock()
    pacer = AdaptivePacer(_quiet(initial_rate=10, burst=20), clock=clock)
    clock.advance(5.0)  # long after the start: the first estimate is the last second's
    _accept(pacer, clock, count=20, over_s=0.1, book=False)
    pacer.on_response(throttled=True)  # drains the bucket; rate 0.98 * 20 = 19.6
    pacer.pause()
    clock.advance(5.0)
    pacer.resume()
    assert pacer.reserve() == pytest.approx(2 / 19.6)


def test_an_idle_spell_with_a_full_bucket_is_left_out_of_the_measurement() -> None:
    """After a 10 s lull between two paced spells, the lull is not measured: only the time
    the pacer limited the sends is."""
    clock = ManualClock()
    pacer = AdaptivePacer(_quiet(burst=1), clock=clock)
    _accept(pacer, clock, count=60, over_s=1.0, book=False)
    pacer.on_response(throttled=True)
    rate = pacer.rate
    assert rate == pytest.approx(0.98 * 60)
    _paced(pacer, clock, count=100)  # 100 slots at `rate`, the bucket never full
    clock.advance(10.0)
    _paced(pacer, clock, count=100)
    pacer.on_response(throttled=True)
    # 200 accepts in 201 slot intervals: the one the first throttle skipped as slack, and 200
    # of sending (the lull's one refill interval is paid back by the free slot it saved up);
    # the rest of the lull, the bucket full, is left out.
    assert pacer.rate == pytest.approx(0.98 * 200 / (201 / rate))


def test_overlapping_pauses_count_once_until_the_last_resume() -> None:
    """Two runs pausing one shared pacer leave it paused until both have resumed."""
    clock = ManualClock()
    pacer = AdaptivePacer(_quiet(), clock=clock)
    pacer.pause()
    clock.advance(1.0)
    pacer.pause()
    clock.advance(1.0)
    pacer.resume()
    clock.advance(1.0)
    pacer.resume()
    assert pacer.idle_s() == pytest.approx(3.0)


class _Recorder:
    """A pacer that records the feedback it gets."""

    rate = 1.0

    def __init__(self) -> None:
        self.feedback: list[bool] = []

    def reserve(self) -> float:
        return 0.0

    def on_response(self, *, throttled: bool) -> None:
        self.feedback.append(throttled)

    def pause(self) -> None: ...

    def resume(self) -> None: ...


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        pytest.param(
            Failure(kind=ErrorKind.TRANSIENT, code="ConnectionError", message="refused"),
            [],
            id="no-answer-is-neither",
        ),
        pytest.param(
            Failure(kind=ErrorKind.THROTTLE, code="ThrottlingException", message="", status=429),
            [True],
            id="429-is-a-throttle",
        ),
        pytest.param(
            Failure(kind=ErrorKind.TRANSIENT, code="ServiceFailure", message="", status=500),
            [False],
            id="500-was-admitted",
        ),
    ],
)
def test_on_failure_reports_only_answered_attempts(failure: Failure, expected: list[bool]) -> None:
    """A connection failure is neither an accept nor a throttle; answered failures are fed back."""
    pacer = _Recorder()
    on_failure(pacer, failure)
    assert pacer.feedback == expected


def test_a_first_throttle_right_after_the_start_measures_burst_and_quota() -> None:
    """35 accepts in the first 0.6 s with the documented burst of 20: the quota is 25/s."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(initial_rate=10, burst=20, margin=0.98), clock=clock)
    _accept(pacer, clock, count=35, over_s=0.6, book=False)
    pacer.on_response(throttled=True)
    assert pacer.rate == pytest.approx(0.98 * (35 - 20) / 0.6)


@pytest.mark.parametrize(
    ("accepted", "over_s"),
    [
        pytest.param(12, 0.01, id="the-opening-burst-met-another-clients"),
        pytest.param(24, 0.1, id="four-beyond-the-burst-would-read-40-per-s"),
    ],
)
def test_a_first_throttle_with_too_few_accepts_beyond_the_burst_keeps_the_documented_rate(
    accepted: int, over_s: float
) -> None:
    """Fewer than 10 accepted beyond the burst measure nothing: (12 - 20) / 0.01 s would be
    no rate at all and (24 - 20) / 0.1 s would be 40/s. The rate stays at the documented
    10/s (times the margin) and grows back by `regrowth` (not halved, as it used to be)."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(initial_rate=10, burst=20, margin=0.98), clock=clock)
    _accept(pacer, clock, count=accepted, over_s=over_s, book=False)
    pacer.on_response(throttled=True)
    assert pacer.rate == pytest.approx(0.98 * 10)


def test_probing_at_low_rates_slows_in_proportion() -> None:
    """At 10/s, with probe_full_rate 50, the rate creeps up five times slower than at 50/s."""
    grown = []
    for rate in (10, 50):
        clock = ManualClock()
        settings = Adaptive(initial_rate=rate, burst=1, probe_growth=0.01, margin=1.0)
        pacer = AdaptivePacer.continuing(settings, rate=rate, clock=clock)
        for _ in range(rate):  # one second of demand at the rate, to have demand
            clock.advance(1 / rate)
            pacer.reserve()
        before = pacer.rate
        for _ in range(rate):  # and one second measured
            clock.advance(1 / rate)
            pacer.reserve()
        grown.append(math.log(pacer.rate / before))
    assert grown[0] == pytest.approx(grown[1] / 5, rel=0.02)


@pytest.mark.anyio
async def test_a_throttle_voids_the_slots_booked_before_it() -> None:
    """A waiter whose slot was booked before a throttle books again at the new rate: it waits
    out its old slot, then two intervals of the new rate (one skipped as slack for the
    service), instead of sending into the 429s."""
    clock = ManualClock()
    pacer = AdaptivePacer(_quiet(initial_rate=10, burst=1), clock=clock)
    clock.advance(5.0)
    assert [pacer.reserve() for _ in range(4)] == pytest.approx([0, 0.1, 0.2, 0.3])
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)
        if len(sleeps) == 1:
            pacer.on_response(throttled=True)  # the service said no while we waited

    await take_slot(pacer, sleep=sleep)  # booked fifth: 0.4 s
    assert pacer.epoch == 1
    assert sleeps == pytest.approx([0.4, 2 / pacer.rate])  # one slot skipped as slack


def test_the_climb_from_a_rough_first_estimate_is_measured_by_its_last_second() -> None:
    """A throttle that ends the climb from the first estimate measures the last second's
    accepts: averaged over the climb, when the service was saturated only near its end, the
    measurement would be the climb's mean, far under the quota."""
    clock = ManualClock()
    pacer = AdaptivePacer(Adaptive(margin=0.98, regrowth=0.3), clock=clock)
    clock.advance(5.0)  # the start is long past: the first estimate is the last second's
    _accept(pacer, clock, count=10, over_s=1.0, book=False)
    pacer.on_response(throttled=True)
    assert pacer.rate == pytest.approx(0.98 * 10)
    _accept(pacer, clock, count=20, over_s=2.05)  # climbing: ~10/s, the pacer the limit
    _accept(pacer, clock, count=27, over_s=1.52)  # then ~18/s, when the service throttles
    assert pacer.rate > 18  # it did climb past what the service then took
    pacer.on_response(throttled=True)
    # 18 accepts in the last second (spaced 1.52 / 27 s); the climb's mean would be
    # 47 / 3.57 s = 13.2/s.
    assert pacer.rate == pytest.approx(0.98 * 18)


def _measured_twice(*, burst: float, first: int, second: int) -> tuple[AdaptivePacer, ManualClock]:
    """A pacer that has met two throttles: the first after `first` accepts in its last
    second, the second after a climb that ended at `second` accepts per second."""
    clock = ManualClock()
    settings = Adaptive(burst=burst, regrowth=0.3, probe_growth=0.01, margin=1.0)
    pacer = AdaptivePacer(settings, clock=clock)
    clock.advance(5.0)
    _accept(pacer, clock, count=first, over_s=1.0, book=False)
    pacer.on_response(throttled=True)
    # Spaced so that no accept sits on the last second's edge: it holds exactly `second`.
    _accept(pacer, clock, count=2 * second, over_s=2.05)
    pacer.on_response(throttled=True)  # ends a climb: the last second's
    assert pacer.rate == pytest.approx(second)
    return pacer, clock


def test_a_client_whose_opening_burst_was_refused_climbs_past_its_share() -> None:
    """Fewer than half the opening burst accepted by the first throttle: another client
    draws on the quota, so the rate measured is a share. Past it with no throttle (the
    other client gone), the pacer grows by `regrowth` per second; alone on the quota it
    probes at the pace slowed for a low rate."""
    shared, shared_clock = _measured_twice(burst=40, first=10, second=10)  # 10 < 40 / 2
    alone, alone_clock = _measured_twice(burst=10, first=10, second=10)
    _paced(shared, shared_clock, count=100)
    _paced(alone, alone_clock, count=100)
    assert shared.rate > 30  # ~10 * e^(0.3 * 4 s) after its first probe past 10/s
    assert alone.rate < 10.5  # 0.01/s, slowed to a fifth at 10/s: ~3 % in 10 s


def _measured_then(accepted: int) -> AdaptivePacer:
    """A pacer alone on a 30/s quota (its whole opening burst accepted), measured at 30/s
    twice, then throttled after `accepted` accepts in 2 s; its bucket never fills, so every
    measurement is the rate accepted."""
    clock = ManualClock()
    settings = Adaptive(burst=1000, regrowth=0.3, probe_growth=0.01, margin=1.0)
    pacer = AdaptivePacer(settings, clock=clock)
    _accept(pacer, clock, count=600, over_s=20.0, book=False)
    pacer.on_response(throttled=True)  # 30 in the last second
    for count, over_s in ((60, 2.05), (60, 2.0), (accepted, 2.0)):
        _accept(pacer, clock, count=count, over_s=over_s)
        pacer.on_response(throttled=True)
    assert pacer.rate == pytest.approx(accepted / 2.0)
    _paced(pacer, clock, count=100)
    return pacer


def test_a_measurement_well_under_the_last_one_means_the_quota_is_shared() -> None:
    """Measured at 30/s, then at 10/s (under `contention_drop` = 0.8 times the last): someone
    took a share, so once unthrottled past 10/s the pacer climbs at `regrowth`. At 25/s
    (within 0.8) it is the same quota measured again, and probing stays slow."""
    assert _measured_then(20).rate > 30
    assert _measured_then(50).rate < 26


def test_a_measurement_under_the_documented_rate_means_the_quota_is_shared() -> None:
    """Alone on the documented 10/s a client measures about 10/s; measuring 6/s (under 0.9
    times `initial_rate`) it has a share, so once past it with no throttle (the others
    done) it climbs at `regrowth` instead of creeping up at a low rate's probing pace.
    Measured at 9.5/s it probes slowly."""
    shared, shared_clock = _measured_twice(burst=10, first=10, second=10)
    alone, alone_clock = _measured_twice(burst=10, first=10, second=10)
    for pacer, clock, accepted in ((shared, shared_clock, 12), (alone, alone_clock, 19)):
        _accept(pacer, clock, count=accepted, over_s=2.0)  # an interval: 6 and 9.5/s
        pacer.on_response(throttled=True)
        assert pacer.rate == pytest.approx(accepted / 2.0)
        _paced(pacer, clock, count=100)
    assert shared.rate > 15  # ~6 * e^(0.3 * 3.5 s) once past 6/s
    assert alone.rate < 10  # 0.01/s, slowed to a fifth at 9.5/s
