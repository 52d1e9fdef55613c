"""The engine's use of the pacing policies: shared pacers, no feedback without an answer,
and workers sized from the rate and the latency."""

from __future__ import annotations

import time

import pytest

from chime_bulk import BulkUpdater, FixedRate, RunAborted
from chime_bulk._policy.pacing import Adaptive, Clock, Pacer
from chime_bulk._policy.registry import PacerRegistry
from chime_bulk.emulator import Emulator, Faults, RateLimit

from .conftest import mute_all

pytestmark = pytest.mark.anyio

UPDATE = "UpdateAttendeeCapabilities"


async def test_updaters_of_one_account_region_and_operation_share_a_pacer() -> None:
    """Two updaters with the same credentials, endpoint and settings get one pacer; another
    endpoint gets its own."""
    registry = PacerRegistry()
    endpoint = "http://127.0.0.1:9"
    async with (
        BulkUpdater(endpoint_url=endpoint, pacers=registry) as first,
        BulkUpdater(endpoint_url=endpoint, pacers=registry) as second,
        BulkUpdater(endpoint_url="http://127.0.0.1:10", pacers=registry) as elsewhere,
    ):
        assert first._pacers.pacer(None, UPDATE) is second._pacers.pacer(None, UPDATE)
        assert first._pacers.pacer(None, UPDATE) is not elsewhere._pacers.pacer(None, UPDATE)
        assert first._pacers.pacer("eu-central-1", UPDATE) is not first._pacers.pacer(None, UPDATE)


class _Recording:
    """A pacing whose pacers record every feedback they get (not hashable: never shared)."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self.feedback: list[bool] = []

    def new_pacer(self, *, clock: Clock) -> Pacer:
        outer = self

        class _Pacer:
            rate = 10.0

            def reserve(self) -> float:
                return 0.0

            def on_response(self, *, throttled: bool) -> None:
                outer.feedback.append(throttled)

            def pause(self) -> None: ...

            def resume(self) -> None: ...

        return _Pacer()


async def test_connection_failures_are_neither_accepts_nor_throttles() -> None:
    """Against a port nobody listens on, the run aborts and the pacer heard nothing."""
    pacing = _Recording()
    from chime_bulk import Capabilities, Update

    update = Update(
        meeting_id="11111111-2222-3333-4444-555555555555",
        attendee_id="11111111-2222-3333-4444-666666666666",
        capabilities=Capabilities("None", "None", "None"),
    )
    async with BulkUpdater(endpoint_url="http://127.0.0.1:9", pacing=pacing) as bulk:
        with pytest.raises(RunAborted):
            await bulk.run([update] * 5)
    assert pacing.feedback == []


@pytest.mark.slow
async def test_default_concurrency_keeps_up_with_the_rate_at_high_latency() -> None:
    """At 200/s with 150 ms latency, 16 fixed workers can do only ~107/s (400 updates in at
    least 3.75 s); the default sizes the workers up and is clearly faster."""
    faults = Faults(latency_ms=150)
    elapsed: dict[int | None, float] = {}
    for concurrency in (16, None):
        with Emulator(rates={"*": RateLimit(0, 0)}, faults=faults, seed=1) as emulator:
            updates = mute_all(emulator.seed(meetings=2, attendees=200))
            async with BulkUpdater(
                endpoint_url=emulator.endpoint_url,
                pacing=FixedRate(rate=200, burst=1),
                max_concurrency=concurrency,
            ) as bulk:
                started = time.monotonic()
                report = await bulk.run(updates)
                elapsed[concurrency] = time.monotonic() - started
            assert report.ok
    assert elapsed[16] >= 400 * 0.15 / 16
    assert elapsed[None] < 0.8 * elapsed[16], elapsed


async def test_a_number_is_a_fixed_worker_count() -> None:
    """max_concurrency=3 keeps exactly three workers and a pool of at least ten connections."""
    async with BulkUpdater(endpoint_url="http://127.0.0.1:9", max_concurrency=3) as bulk:
        assert bulk._workforce.workers == 3
        assert bulk._settings.max_pool_connections == 10
    async with BulkUpdater(endpoint_url="http://127.0.0.1:9") as sized:
        assert sized._workforce.workers == sized._settings.max_pool_connections == 256


def test_adaptive_is_shared_by_value() -> None:
    """Equal settings are one key: Adaptive is a frozen, hashable value."""
    assert hash(Adaptive()) == hash(Adaptive())
