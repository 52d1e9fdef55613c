"""The brownout gate's state machine, on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from chime_bulk._policy.brownout import BrownoutGate, BrownoutPolicy, GateState
from fakes import ManualClock


def _gate(clock: ManualClock) -> BrownoutGate:
    return BrownoutGate(BrownoutPolicy(threshold=3, window=5), clock=clock)


def test_lone_503s_do_not_close_the_gate() -> None:
    """Two 503s among successes are normal: the gate stays open."""
    gate = _gate(ManualClock())
    for unavailable in (True, False, False, True, False, False, False):
        gate.record(unavailable=unavailable, retry_after_s=1, probe=False)
    assert gate.state is GateState.OPEN
    assert gate.pauses == 0


def test_a_cluster_pauses_everyone_for_retry_after() -> None:
    """Three 503s within five responses pause all sends until Retry-After has passed."""
    clock = ManualClock()
    gate = _gate(clock)
    for _ in range(3):
        gate.record(unavailable=True, retry_after_s=2, probe=False)
    assert gate.state is GateState.PAUSED
    admission = gate.admit()
    assert (admission.go, admission.wait_until) == (False, 2)


def test_after_the_pause_exactly_one_probe_goes() -> None:
    """When the pause is over one request probes; the others wait for its answer."""
    clock = ManualClock()
    gate = _gate(clock)
    for _ in range(3):
        gate.record(unavailable=True, retry_after_s=1, probe=False)
    clock.now = 1.0
    first, second = gate.admit(), gate.admit()
    assert (first.go, first.probe) == (True, True)
    assert (second.go, second.wait_until) == (False, None)


def test_a_failed_probe_pauses_again_and_a_good_one_opens() -> None:
    """A 503 on the probe pauses for its Retry-After; any other answer opens the gate."""
    clock = ManualClock()
    gate = _gate(clock)
    for _ in range(3):
        gate.record(unavailable=True, retry_after_s=1, probe=False)
    clock.now = 1.0
    assert gate.admit().probe
    gate.record(unavailable=True, retry_after_s=3, probe=True)
    assert gate.admit().wait_until == pytest.approx(4.0)
    clock.now = 4.0
    assert gate.admit().probe
    gate.record(unavailable=False, retry_after_s=None, probe=True)
    assert gate.state is GateState.OPEN
    assert gate.admit().go


def test_stragglers_do_not_reopen_or_extend() -> None:
    """Responses to requests sent before the gate closed leave the decision to the probe."""
    clock = ManualClock()
    gate = _gate(clock)
    for _ in range(3):
        gate.record(unavailable=True, retry_after_s=1, probe=False)
    gate.record(unavailable=False, retry_after_s=None, probe=False)
    assert gate.state is GateState.PAUSED
    assert gate.pauses == 1


def test_an_abandoned_probe_lets_another_probe() -> None:
    """If the probe is cancelled before its answer, the next request becomes the probe."""
    clock = ManualClock()
    gate = _gate(clock)
    for _ in range(3):
        gate.record(unavailable=True, retry_after_s=1, probe=False)
    clock.now = 1.0
    assert gate.admit().probe
    gate.abandon_probe()
    assert gate.admit().probe


def test_pause_is_capped() -> None:
    """An hour-long Retry-After pauses only max_pause_s."""
    clock = ManualClock()
    gate = BrownoutGate(BrownoutPolicy(threshold=1, window=1, max_pause_s=30), clock=clock)
    gate.record(unavailable=True, retry_after_s=3600, probe=False)
    assert gate.admit().wait_until == 30


class _Listener:
    def __init__(self) -> None:
        self.events: list[str] = []

    def pause(self) -> None:
        self.events.append("pause")

    def resume(self) -> None:
        self.events.append("resume")


def test_listeners_hear_one_pause_and_one_resume_per_brownout() -> None:
    """A brownout that re-closes on a failed probe is one pause; the probe's success resumes."""
    clock = ManualClock()
    gate = _gate(clock)
    listener = _Listener()
    gate.subscribe(listener)
    gate.subscribe(listener)  # twice: still told once
    for _ in range(3):
        gate.record(unavailable=True, retry_after_s=1, probe=False)
    clock.now = 1.0
    assert gate.admit().probe
    gate.record(unavailable=True, retry_after_s=1, probe=True)  # still browning out
    clock.now = 2.0
    assert gate.admit().probe
    gate.record(unavailable=False, retry_after_s=None, probe=True)
    assert listener.events == ["pause", "resume"]


def test_release_ends_a_pause_still_in_progress() -> None:
    """A run that ends while paused lets its listeners go on; later pauses reach them no more."""
    gate = _gate(ManualClock())
    listener = _Listener()
    gate.subscribe(listener)
    for _ in range(3):
        gate.record(unavailable=True, retry_after_s=1, probe=False)
    gate.release()
    assert listener.events == ["pause", "resume"]


def test_a_retry_after_of_zero_pauses_for_no_time() -> None:
    """A brownout whose 503s say Retry-After 0 closes the gate only until the next probe:
    0 is the service's answer, not a missing one (which would get the default pause)."""
    clock = ManualClock()
    gate = _gate(clock)
    for _ in range(3):
        gate.record(unavailable=True, retry_after_s=0, probe=False)
    admission = gate.admit()
    assert (admission.go, admission.probe) == (True, True)


@pytest.mark.anyio
async def test_a_pause_that_ends_while_being_read_never_asks_for_a_negative_sleep() -> None:
    """On a loaded machine the clock moves between the gate's reading and the waiter's: a
    pause over by then means waiting 0 s, not a negative delay (anyio.sleep refuses one)."""
    clock = ManualClock()
    gate = _gate(clock)
    for _ in range(3):
        gate.record(unavailable=True, retry_after_s=1, probe=False)
    real_admit = gate.admit

    def admit_then_time_passes() -> Any:
        admission = real_admit()
        clock.now += 1.5  # past the pause's end before the waiter reads the clock
        return admission

    gate.admit = admit_then_time_passes  # type: ignore[method-assign]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with gate.admission(sleep=sleep) as ticket:
        assert ticket.probe
    assert sleeps == [0.0]
