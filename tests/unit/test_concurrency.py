"""The default concurrency: Little's law at the p90 latency, bounded, on a fake clock."""

from __future__ import annotations

import math

import pytest

from chime_bulk._policy.concurrency import ConcurrencyPolicy, ConcurrencySizer
from fakes import ManualClock


def _sizer(clock: ManualClock, **settings: float) -> ConcurrencySizer:
    return ConcurrencySizer(ConcurrencyPolicy(**settings), clock=clock)  # type: ignore[arg-type]


def test_before_any_latency_the_initial_count_holds() -> None:
    """With nothing measured the sizer keeps its initial worker count."""
    sizer = _sizer(ManualClock(), initial=16)
    assert sizer.limit(rate=200) == 16


def test_workers_follow_rate_times_p90_latency_with_headroom() -> None:
    """200/s at a p90 of 150 ms with headroom 2 is 60 workers."""
    clock = ManualClock()
    sizer = _sizer(clock, headroom=2.0)
    for latency in [0.1] * 80 + [0.15] * 10 + [0.5] * 10:  # p90 (nearest rank) = 0.15
        sizer.observe(latency)
    assert sizer.latency() == 0.15
    assert sizer.limit(rate=200) == 60


def test_the_count_is_bounded() -> None:
    """A tiny need gets the minimum, a huge one the maximum."""
    clock = ManualClock()
    sizer = _sizer(clock, minimum=4, maximum=256, interval_s=0)
    sizer.observe(0.06)
    assert sizer.limit(rate=10) == 4  # 2 x 10 x 0.06 = 1.2
    sizer.observe(10.0)
    sizer.observe(10.0)
    assert sizer.limit(rate=1000) == 256


def test_unpaced_runs_get_the_maximum() -> None:
    """Nothing limits an unpaced run but the workers: as many as allowed."""
    sizer = _sizer(ManualClock(), maximum=64)
    sizer.observe(0.01)
    assert sizer.limit(rate=math.inf) == 64


def test_resizing_waits_for_the_interval_then_follows_the_latency() -> None:
    """A latency change moves the count only once interval_s has passed, then both ways."""
    clock = ManualClock()
    sizer = _sizer(clock, samples=4, interval_s=0.25, headroom=1.0, minimum=4)
    for _ in range(4):
        sizer.observe(0.1)
    assert sizer.limit(rate=100) == 10
    for _ in range(4):
        sizer.observe(0.3)
    clock.now = 0.2
    assert sizer.limit(rate=100) == 10  # not yet
    clock.now = 0.25
    assert sizer.limit(rate=100) == 30  # grown
    for _ in range(4):
        sizer.observe(0.05)
    clock.now = 0.5
    assert sizer.limit(rate=100) == 5  # and shrunk


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        pytest.param({"minimum": 0}, "minimum", id="minimum"),
        pytest.param({"initial": 1000}, "initial", id="initial"),
        pytest.param({"headroom": 0.5}, "headroom", id="headroom"),
        pytest.param({"quantile": 0}, "quantile", id="quantile"),
    ],
)
def test_policy_rejects_nonsense(settings: dict[str, float], field: str) -> None:
    """Bounds that cannot work are refused up front, naming the field."""
    with pytest.raises(ValueError, match=field):
        ConcurrencyPolicy(**settings)  # type: ignore[arg-type]
