"""The benchmarks' pacer wrapper records rates and must change nothing the engine relies on."""

from __future__ import annotations

from benchmarks.instrument import ObservedPacing, PacerTrace

from chime_bulk import Adaptive
from chime_bulk._policy.pacing import AdaptivePacer, epoch_of
from fakes import ManualClock


def test_the_observed_pacer_forwards_the_epoch_and_the_pauses() -> None:
    """Without the epoch the engine cannot see that a throttle voided the booked slots (B1
    paid 5-6 429s per probe for that); without pause and resume a brownout is measured."""
    clock = ManualClock()
    trace = PacerTrace()
    observed = ObservedPacing(Adaptive(), trace).new_pacer(clock=clock)
    inner = observed._inner  # type: ignore[attr-defined]
    assert isinstance(inner, AdaptivePacer)
    assert epoch_of(observed) == 0
    for _ in range(30):
        observed.reserve()
        clock.now += 0.05
        observed.on_response(throttled=False)
    observed.on_response(throttled=True)
    assert epoch_of(observed) == inner.epoch == 1
    assert [rate for _, _, rate in trace.backoffs] == [inner.rate]
    observed.pause()
    clock.now += 3.0
    observed.resume()
    assert inner.idle_s() >= 3.0
