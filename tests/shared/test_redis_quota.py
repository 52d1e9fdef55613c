"""The shared quota against a real Redis server: one bucket for every client, one estimate
learned from every throttle, and a run that outlives the server."""

from __future__ import annotations

import functools
from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest

from chime_bulk._policy.pacing import Adaptive, take_slot
from chime_bulk._policy.scope import QuotaScope
from chime_bulk._shared.redis_quota import RedisQuota
from fakes import ManualClock

from .redis_server import RedisServer

pytestmark = [
    pytest.mark.anyio,
    # coredis 6.9 leaves anyio memory streams unclosed when a connection attempt fails (its
    # defect, reported by their __del__); the tests here make connections fail on purpose.
    pytest.mark.filterwarnings("ignore:Unclosed <MemoryObject:ResourceWarning"),
]

SCOPE = QuotaScope(
    access_key_id="AKIDEXAMPLE", endpoint_url=None, region="us-east-1", operation="Update"
)
#: A bucket that never adapts on its own: 20/s, burst 5.
STEADY = Adaptive(initial_rate=20, burst=5, growth=0, regrowth=0, probe_growth=0)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_two_clients_draining_one_bucket_never_exceed_its_rate(
    redis_server: RedisServer,
) -> None:
    """Two connections booking 60 slots in turn get one schedule: after the burst of 5, slot
    k is no earlier than (k - 5) / 20 s after the first booking, and no later than needed."""
    quota = RedisQuota(url=redis_server.url)
    key = f"{quota.key}:{SCOPE.fingerprint()}"
    slots: list[float] = []
    calls: list[float] = []
    async with quota.connect() as first, quota.connect() as second:
        for index in range(60):
            link = first if index % 2 == 0 else second
            delay, rate, now, _ = await link.book(key, throttled=False, accepted=0, settings=STEADY)
            assert rate == 20
            slots.append(now + delay)
            calls.append(now)
    slots.sort()
    start, end = calls[0], calls[-1]
    for k, slot in enumerate(slots):
        earliest = start + max(0, k + 1 - 5) / 20
        assert slot >= earliest - 1e-6, (k, slot - start)
        # One bucket, not two: a second bucket would hand out slots twice as fast.
        assert slot <= end + max(0, k + 1 - 5) / 20 + 1e-6, (k, slot - start)


async def test_a_throttle_one_client_meets_slows_the_other(redis_server: RedisServer) -> None:
    """A 429 reported through one connection sets the rate the other one books at."""

    settings = Adaptive(initial_rate=1000, burst=5, growth=0, margin=0.98, react_gap_s=0)
    quota = RedisQuota(url=redis_server.url)
    key = f"{quota.key}:{SCOPE.fingerprint()}"
    async with quota.connect() as first, quota.connect() as second:
        await first.book(key, throttled=False, accepted=0, settings=settings)
        # Nothing accepted beyond the burst: the opening overshot the service's bucket. That
        # measures nothing: the slots booked are void, the rate stays.
        _, rate, _, epoch = await first.book(key, throttled=True, accepted=0, settings=settings)
        assert (rate, epoch) == (1000, 1)
        await anyio.sleep(0.02)  # on Redis's clock, past the 10 requests' reaction gap
        # Nothing accepted since: the service's rate measures as nothing, the floor.
        _, rate, _, epoch = await first.book(key, throttled=True, accepted=0, settings=settings)
        assert (rate, epoch) == (settings.min_rate, 2)
        delay, seen, _, seen_epoch = await second.book(
            key, throttled=False, accepted=0, settings=settings
        )
    assert (seen, seen_epoch) == (settings.min_rate, 2)
    assert 2 / seen < delay <= 3 / seen


async def test_workers_booking_at_once_tell_redis_of_each_accept_once(
    redis_server: RedisServer,
) -> None:
    """Sixteen workers book at the same moment after ten accepts: Redis counts ten, not ten
    per worker (which would multiply the measured rate by the number of workers), and every
    booking is served, pipelined in one round trip."""
    import coredis

    async def no_sleep(_seconds: float) -> None:
        return None

    quota = RedisQuota(url=redis_server.url)
    async with quota.connect() as link:
        pacer = link.pacer(SCOPE, STEADY, clock=ManualClock())
        await take_slot(pacer, sleep=no_sleep)
        for _ in range(10):
            pacer.on_response(throttled=False)
        async with anyio.create_task_group() as tg:
            for _ in range(16):
                tg.start_soon(functools.partial(take_slot, pacer, sleep=no_sleep))
    key = f"{quota.key}:{SCOPE.fingerprint()}"
    async with coredis.Redis.from_url(redis_server.url, decode_responses=True) as client:
        (scope_key,) = await client.keys(f"{key}:*")
        accepted, slots = await client.hmget(scope_key, ["accepted", "slot_cur"])
    assert (accepted, slots) == ("10", "17")


async def test_a_shared_pacers_epoch_moves_on_with_every_throttle_it_learns_of(
    redis_server: RedisServer,
) -> None:
    """The epoch tells the engine which 429s the pacing has answered already (the ones sent
    before it moved on): it moves on at once with a throttle this process meets, and with one
    another process met, as soon as a booking brings the news from Redis."""

    async def no_sleep(_seconds: float) -> None:
        return None

    # At 10^6/s the reaction gap (the time 10 requests take) is 10 us, less than a round
    # trip: the other process's throttle is a new event without waiting on Redis's clock.
    settings = Adaptive(initial_rate=1_000_000, burst=5, growth=0, react_gap_s=0)
    quota = RedisQuota(url=redis_server.url)
    async with quota.connect() as mine, quota.connect() as theirs:
        pacer = mine.pacer(SCOPE, settings, clock=ManualClock())
        other = theirs.pacer(SCOPE, settings, clock=ManualClock())
        await take_slot(pacer, sleep=no_sleep)
        await take_slot(other, sleep=no_sleep)
        before = pacer.epoch
        pacer.on_response(throttled=True)
        assert pacer.epoch > before
        await take_slot(pacer, sleep=no_sleep)
        mine_now = pacer.epoch
        other.on_response(throttled=True)
        await take_slot(other, sleep=no_sleep)  # behind the notice in the other's pipeline
        assert pacer.epoch == mine_now  # no news yet
        await take_slot(pacer, sleep=no_sleep)
        assert pacer.epoch > mine_now


async def test_redis_going_away_falls_back_to_local_pacing_without_a_burst(
    redis_server: RedisServer, log_events: list[MutableMapping[str, Any]]
) -> None:
    """Killed mid-run, the server is replaced by a local pacer at this process's share of the
    rate, slots spaced at once (no saved-up burst), with one warning event."""
    clock = ManualClock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with RedisQuota(url=redis_server.url).connect() as link:
        pacer = link.pacer(SCOPE, STEADY, clock=clock)
        for _ in range(5):  # the burst: no waits
            await take_slot(pacer, sleep=sleep)
        assert (waits, pacer.remote) == ([], True)
        redis_server.kill()
        for _ in range(3):
            await take_slot(pacer, sleep=sleep)
    # Five slots in this (frozen) second: this process's share is 5/s.
    assert waits == pytest.approx([0.2, 0.4, 0.6])
    assert pacer.fallbacks == 1
    warnings = [e for e in log_events if e["event"] == "shared quota unreachable; pacing locally"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"


async def test_a_server_down_from_the_start_means_local_pacing(
    log_events: list[MutableMapping[str, Any]],
) -> None:
    """With nothing listening from the start, pacers pace locally from their first slot."""
    from .redis_server import start_redis

    server = start_redis()
    url = server.url
    server.kill()
    clock = ManualClock()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with RedisQuota(url=url).connect() as link:
        pacer = link.pacer(SCOPE, STEADY, clock=clock)
        for _ in range(7):
            await take_slot(pacer, sleep=sleep)
    # Never an unpaced burst: the stand-in starts at the initial rate with nothing saved up.
    assert waits == pytest.approx([k / 20 for k in range(1, 8)])
    assert any(e["event"] == "shared quota unreachable; pacing locally" for e in log_events)


def test_redis_quota_rejects_a_url_that_is_not_redis() -> None:
    """A typo in the URL is refused up front, naming the field."""
    with pytest.raises(ValueError, match="url"):
        RedisQuota(url="http://localhost:6379")
