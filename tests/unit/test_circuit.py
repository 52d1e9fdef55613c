"""The circuit breaker's state machine on a hand-driven clock: trips, pause series, abort."""

from __future__ import annotations

import pytest

from chime_bulk import CircuitPolicy
from chime_bulk._policy.circuit import Circuit, Verdict
from fakes import ManualClock


def test_it_trips_on_the_threshold_th_sick_answer_of_the_window() -> None:
    """3 of the last 4 answers sick trips it, counted from the first of them."""
    clock = ManualClock()
    circuit = Circuit(CircuitPolicy(window=4, threshold=3, max_sick_s=10), clock=clock)
    verdicts = []
    for t, sick in [(0.0, False), (1.0, True), (2.0, False), (3.0, True), (4.0, True)]:
        clock.now = t
        verdicts.append(circuit.record(sick=sick, probe=False))
    assert verdicts == [Verdict.CARRY_ON] * 4 + [Verdict.PAUSE]
    assert circuit.sick_since == 1.0
    assert circuit.pause_s == 1.0


def test_sick_probes_double_the_pause_up_to_the_cap_then_abort_at_the_limit() -> None:
    """Each sick probe pauses twice as long (capped), the last pause ends at the limit, and
    the probe then is the abort; stragglers' answers change nothing."""
    clock = ManualClock()
    policy = CircuitPolicy(window=1, threshold=1, first_pause_s=1, max_pause_s=4, max_sick_s=12)
    circuit = Circuit(policy, clock=clock)
    assert circuit.record(sick=True, probe=False) is Verdict.PAUSE
    pauses = [circuit.pause_s]
    assert circuit.record(sick=True, probe=False) is Verdict.CARRY_ON  # a straggler
    while True:
        clock.now += circuit.pause_s
        verdict = circuit.record(sick=True, probe=True)
        if verdict is Verdict.ABORT:
            break
        pauses.append(circuit.pause_s)
    assert pauses == [1, 2, 4, 4, 1]
    assert clock.now == 12


def test_a_healthy_probe_recovers_and_counts_the_sick_time() -> None:
    """A healthy probe closes the circuit; `sick_for()` adds up the spell."""
    clock = ManualClock()
    circuit = Circuit(CircuitPolicy(window=1, threshold=1), clock=clock)
    circuit.record(sick=True, probe=False)
    clock.now = 1.0
    assert circuit.record(sick=False, probe=True) is Verdict.RECOVERED
    assert not circuit.tripped
    assert (circuit.pauses, circuit.sick_for()) == (1, 1.0)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        pytest.param({"threshold": 30}, "threshold", id="threshold-over-window"),
        pytest.param({"window": 0, "threshold": 0}, "window", id="no-window"),
        pytest.param({"first_pause_s": 20}, "first_pause_s", id="pause-over-cap"),
        pytest.param({"max_sick_s": 0}, "max_sick_s", id="no-limit"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(options: dict[str, float], field: str) -> None:
    """`CircuitPolicy` checks itself; the error names the field."""
    with pytest.raises(ValueError, match=field):
        CircuitPolicy(**options)  # type: ignore[arg-type]


def test_sick_answers_that_slid_out_of_the_window_no_longer_count() -> None:
    """Window 3, threshold 2: a sick answer three answers ago has slid out, so one more
    sick answer does not trip it; the next one does."""
    clock = ManualClock()
    circuit = Circuit(CircuitPolicy(window=3, threshold=2), clock=clock)
    answers = [True, False, False, True, True]
    verdicts = [circuit.record(sick=sick, probe=False) for sick in answers]
    assert verdicts == [Verdict.CARRY_ON] * 4 + [Verdict.PAUSE]
