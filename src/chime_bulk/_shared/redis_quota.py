"""`RedisQuota`: every process and host that reaches one account, Region and operation draws
on one token bucket in Redis, and learns from every throttle any of them meets.

The bucket and the adaptive estimate live in one Redis hash per scope, changed only by one Lua
script (`bucket_script.py`), so each change is atomic; one run books one slot, and the runs
queued while one round trip is under way go together in the next. Accepts are folded into the
caller's next booking rather than sent on their own, so the traffic to Redis is one script run
per send.

Redis is a helper, not a dependency of the run: when a call fails or takes longer than
`timeout_s`, the pacer logs one warning (`shared quota unreachable; pacing locally`) and
carries on with a local `AdaptivePacer` that starts at the rate this process was getting, with
no saved-up burst. It asks Redis again after `retry_after_s`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import anyio.abc
import structlog

from .._policy.pacing import Adaptive, AdaptivePacer, Clock
from .._policy.scope import QuotaScope
from .bucket_script import BUCKET_SCRIPT

__all__ = ["RedisQuota", "RedisQuotaLink", "SharedPacer"]

_log = structlog.get_logger("chime_bulk")

#: Most bookings sent to Redis in one round trip.
_MAX_PIPELINED: Final = 64

#: Environment variable the CLI reads for `--coordinate`.
ENV_VAR: Final = "CHIME_BULK_COORDINATE"


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisQuota:
    """Share pacing through Redis at `url` (`redis://HOST:PORT/DB`, `rediss://` for TLS).

    >>> BulkUpdater(coordinator=RedisQuota(url="redis://10.0.0.5:6379/0"))  # doctest: +SKIP

    Needs the `redis` extra (`pip install 'chime-bulk[redis]'`). Keys are
    `{key}:{account fingerprint}:{Region}:{operation}:{settings}` and expire after `ttl_s`
    without use. Only `Adaptive` pacing is shared; a fixed rate or `Unpaced` is the caller's
    own decision and stays local.

    `timeout_s` is how long a booking may take before Redis counts as away. A round trip is
    about a millisecond; the second is for the client's own event loop, which on a busy host
    can stall for a few hundred milliseconds while the answer waits in the socket (at 0.25 s
    four processes on two cores went local three times in one run, for nothing).
    """

    url: str
    key: str = "chime-bulk:quota"
    timeout_s: float = 1.0
    retry_after_s: float = 10.0
    ttl_s: float = 3600.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"url must be redis://HOST:PORT/DB, got {self.url!r}")
        if not self.key:
            raise ValueError("key must not be empty")
        for name in ("timeout_s", "retry_after_s", "ttl_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[RedisQuotaLink]:
        """The live connection for one `BulkUpdater`'s lifetime."""
        try:
            import coredis  # noqa: F401 -- fail here, clearly, without the extra
        except ImportError:  # pragma: no cover - the extra is part of the test install
            raise RuntimeError(
                "RedisQuota needs coredis: pip install 'chime-bulk[redis]'"
            ) from None
        link = RedisQuotaLink(self)
        async with anyio.create_task_group() as tg:
            await tg.start(link.serve)
            try:
                yield link
            finally:
                link.close()


def _safe(url: str) -> str:
    """The URL without a password, for events."""
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, _ = head.partition("://")
    return f"{scheme}://***@{tail}"


@dataclass(slots=True, eq=False)
class _Call:
    """One booking waiting for the link's task to make it."""

    key: str
    args: list[float | int]
    done: anyio.Event = field(default_factory=anyio.Event)
    result: tuple[float, float, float, int] | None = None
    error: Exception | None = None


class RedisQuotaLink:
    """One connection to the shared quota; makes one `SharedPacer` per scope.

    coredis runs its connections in a task group of the task that enters its client, and a
    connection that dies (the server killed) fails that group, cancelling everything in it.
    So one task of the link's own owns the client and makes every call, and the workers hand
    it their bookings: Redis going away can then end only that task's session, never a run.
    """

    def __init__(self, quota: RedisQuota) -> None:
        self.quota = quota
        # Bounded: when Redis is so slow that a queue builds, the bookings time out and the
        # pacers go local, which is the point of the bound.
        self._send, self._receive = anyio.create_memory_object_stream[_Call](1024)
        self._current: list[_Call] = []  # the bookings being made

    def pacer(self, scope: QuotaScope, settings: Adaptive, *, clock: Clock) -> SharedPacer:
        key = f"{self.quota.key}:{scope.fingerprint()}:{_settings_tag(settings)}"
        return SharedPacer(self, key=key, settings=settings, clock=clock)

    def close(self) -> None:
        self._send.close()

    def notify_throttle(self, key: str, *, accepted: int, settings: Adaptive) -> None:
        """Tell Redis of a throttle now, without waiting for the answer (it books a slot
        nobody uses: the price of reacting at once rather than at the next booking)."""
        call = _Call(key=key, args=self._args(throttled=True, accepted=accepted, settings=settings))
        # When it cannot be queued, Redis is away (the pacer is local) or swamped.
        with contextlib.suppress(
            anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError
        ):
            self._send.send_nowait(call)

    async def book(
        self, key: str, *, throttled: bool, accepted: int, settings: Adaptive
    ) -> tuple[float, float, float, int]:
        """One round trip: fold in the feedback, book one slot; (delay, rate, Redis time,
        epoch)."""
        args = self._args(throttled=throttled, accepted=accepted, settings=settings)
        call = _Call(key=key, args=args)
        try:
            self._send.send_nowait(call)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise ConnectionError("the shared quota's queue is full or closed") from None
        with anyio.fail_after(self.quota.timeout_s):
            await call.done.wait()
        if call.error is not None:
            raise call.error
        assert call.result is not None
        return call.result

    def _args(self, *, throttled: bool, accepted: int, settings: Adaptive) -> list[float | int]:
        return [
            int(throttled),
            accepted,
            settings.initial_rate,
            settings.burst,
            -1 if settings.max_rate is None else settings.max_rate,
            settings.min_rate,
            settings.growth,
            settings.regrowth,
            settings.probe_growth,
            settings.margin,
            settings.interval_max_s,
            settings.react_gap_s,
            int(self.quota.ttl_s * 1000),
            settings.probe_full_rate,
            settings.first_window_s,
        ]

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Make the bookings, one session (client) at a time; a failed session ends with
        its calls failed, and the next booking opens a new one."""
        task_status.started()
        async with self._receive:
            while True:
                try:
                    first = await self._receive.receive()
                except anyio.EndOfStream:
                    return
                try:
                    await self._session(first)
                except Exception as error:  # Redis went away: the pacers decide what follows
                    lost = (
                        error
                        if isinstance(error, ConnectionError)
                        else ConnectionError(repr(error))
                    )
                    for call in self._current:
                        if not call.done.is_set():
                            call.error = lost
                            call.done.set()
                    _log.debug("shared quota session ended", error=repr(error))
                else:
                    return  # the stream ended: the updater is closing

    async def _session(self, first: _Call) -> None:
        """Serve bookings on one client until the stream ends or a call fails (raises).

        The bookings queued meanwhile go together, pipelined: one round trip for all of them
        (each still one atomic run of the script). Served one at a time, 16 workers' bookings
        would wait for each other's round trips, and on a busy machine the last ones would
        pass `timeout_s` and send the process local for nothing.
        """
        import coredis

        client: Any = coredis.Redis.from_url(self.quota.url, decode_responses=True)
        self._current = [first]
        async with client:
            sha = await client.script_load(BUCKET_SCRIPT)
            while True:
                async with client.pipeline(transaction=False) as pipe:
                    replies = [
                        pipe.evalsha(sha, keys=[call.key], args=call.args) for call in self._current
                    ]
                for call, reply in zip(self._current, replies, strict=True):
                    delay, rate, now, epoch = await reply
                    call.result = (float(delay), float(rate), float(now), int(epoch))
                    call.done.set()
                try:
                    self._current = [await self._receive.receive()]
                except anyio.EndOfStream:
                    return
                while len(self._current) < _MAX_PIPELINED:
                    try:
                        self._current.append(self._receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break


def _settings_tag(settings: Adaptive) -> str:
    # Runs with different settings (say, another --max-rate) keep apart, as they do in one
    # process: a bucket's rules must be the same for everyone drawing on it.
    import hashlib

    return hashlib.sha256(repr(settings).encode()).hexdigest()[:8]


class SharedPacer:
    """A pacer whose bucket is in Redis (a `RemotePacer`); local while Redis is away."""

    def __init__(
        self, link: RedisQuotaLink, *, key: str, settings: Adaptive, clock: Clock = time.monotonic
    ) -> None:
        self._link = link
        self._key = key
        self._settings = settings
        self._clock = clock
        self._rate = settings.initial_rate
        self._accepted = 0  # accepts not yet told to Redis
        self._throttled = False  # a throttle not yet told to Redis
        self._local: AdaptivePacer | None = None
        self._retry_at = 0.0
        self._slots: deque[float] = deque()  # this process's slots in the last second
        self.fallbacks = 0  # how often Redis went away, for tests and events
        self._epoch = 0  # the newest epoch of the shared bucket seen by this process
        self._voided = 0  # throttles this process met: its waiters' slots are void
        self._voided_at = -math.inf
        self._retired_local_epochs = 0  # reactions of stand-ins since replaced: see `epoch`

    @property
    def rate(self) -> float:
        return self._local.rate if self._local is not None else self._rate

    @property
    def remote(self) -> bool:
        return self._local is None

    @property
    def epoch(self) -> int:
        """Moves on whenever slots booked before are void: a throttle this process met, one
        any process told Redis of, or one the local stand-in reacted to."""
        local = self._local.epoch if self._local is not None else 0
        return self._epoch + self._voided + self._retired_local_epochs + local

    def reserve(self) -> float:
        """The local stand-in, for callers that cannot wait for a round trip."""
        return self._fallback_pacer().reserve()

    async def wait_for_slot(self, *, sleep: Callable[[float], Awaitable[None]]) -> None:
        while not await self._one_slot(sleep):
            pass  # the slot was voided by a throttle while we waited: book again

    async def _one_slot(self, sleep: Callable[[float], Awaitable[None]]) -> bool:
        """Wait for one booked slot; False when a throttle voided it meanwhile."""
        now = self._clock()
        mine = self._voided
        if self._local is None or now >= self._retry_at:
            # The feedback goes with this booking only: workers book concurrently, and each
            # must not carry the same accepts (Redis would count them once per worker and
            # raise the rate many times over).
            accepted, throttled = self._accepted, self._throttled
            self._accepted, self._throttled = 0, False
            try:
                delay, self._rate, _, epoch = await self._link.book(
                    self._key, throttled=throttled, accepted=accepted, settings=self._settings
                )
            except Exception as error:  # any failure of Redis means "go local"
                self._accepted += accepted  # Redis may never have heard of them: keep them
                self._throttled = self._throttled or throttled
                self._go_local(error)
            else:
                if self._local is not None:
                    self._retired_local_epochs += self._local.epoch
                    self._local = None
                    _log.info("shared quota reachable again", key=self._key)
                self._count_slot(now)
                # Any booking of this process may bring news of a voiding throttle.
                self._epoch = max(self._epoch, epoch)
                if delay > 0:
                    await sleep(delay)
                fresh = self._epoch == epoch and self._voided == mine
                return fresh or self._local is not None
        self._count_slot(now)
        local = self._fallback_pacer()
        before = local.epoch
        delay = local.reserve()
        if delay > 0:
            await sleep(delay)
        return local.epoch == before

    def _count_slot(self, now: float) -> None:
        self._slots.append(now)
        while self._slots and self._slots[0] < now - 1.0:
            self._slots.popleft()

    def _fallback_pacer(self) -> AdaptivePacer:
        if self._local is None:
            self._go_local(None)
        assert self._local is not None
        return self._local

    def _go_local(self, error: BaseException | None) -> None:
        """Pace locally from now on, until `retry_after_s` has passed; every worker whose
        booking failed at the same moment shares the one stand-in."""
        self._retry_at = self._clock() + self._link.quota.retry_after_s
        if self._local is not None:
            return
        # This process's share of the shared rate is the rate it was getting slots at; pacing
        # at the whole shared rate would let N processes send N times the quota.
        share = len(self._slots) if self._slots else self._rate
        rate = min(self._rate, max(share, self._settings.min_rate))
        self._local = AdaptivePacer.continuing(self._settings, rate=rate, clock=self._clock)
        if error is not None:
            self.fallbacks += 1
            _log.warning(
                "shared quota unreachable; pacing locally",
                key=self._key,
                error=type(error).__name__,
                rate=round(rate, 2),
                retry_in_s=self._link.quota.retry_after_s,
            )

    def on_response(self, *, throttled: bool) -> None:
        if self._local is not None:
            self._local.on_response(throttled=throttled)
        elif throttled:
            # React at once, as a local pacer does: Redis hears of it now (not at the next
            # booking, which may be a while when every worker sleeps on a slot booked ahead),
            # and this process's waiters book again. Once per reaction gap.
            now = self._clock()
            if now - self._voided_at >= self._settings.react_gap_s:
                self._voided_at = now
                self._voided += 1
                self._link.notify_throttle(
                    self._key, accepted=self._accepted, settings=self._settings
                )
                self._accepted = 0
            else:
                self._throttled = True
        else:
            self._accepted += 1

    def pause(self) -> None:
        # The shared bucket keeps running for the other processes; a local stand-in pauses.
        if self._local is not None:
            self._local.pause()

    def resume(self) -> None:
        if self._local is not None:
            self._local.resume()
