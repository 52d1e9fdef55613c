"""How fast to send: a pacer hands out one send slot per attempt.

A `Pacing` is a small frozen strategy object (`Adaptive`, `FixedRate`, `Unpaced`); a run asks it
for one `Pacer` per (Region, operation), shared by all of that run's workers, because that is
the scope of the service's quota. Pacers are synchronous and clock-driven: `reserve()` books the
next slot and says how long to wait for it, so their behaviour is tested with a fake clock and
exact numbers, and the engine does the sleeping.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .classification import ErrorKind, Failure

__all__ = [
    "Adaptive",
    "AdaptivePacer",
    "FixedRate",
    "Pacer",
    "Pacing",
    "RemotePacer",
    "TokenBucket",
    "Unpaced",
    "epoch_of",
    "on_failure",
    "take_slot",
]

Clock = Callable[[], float]

#: Accepted requests an estimate of the quota should rest on, at the least.
_MIN_MEASURED = 10
#: A client alone on the documented quota (`initial_rate`) measures it, give or take noise;
#: one that measures under this share of it is measuring its part of a shared quota.
_ALONE_MEASURES_AT_LEAST = 0.9


class Pacer(Protocol):
    """One shared send-rate controller.

    A pacer may also have an integer `epoch` that moves on each time it reacts to a throttle
    and voids the slots booked before (see `epoch_of`): waiters then book again, and a 429 on
    an attempt sent before the reaction is known to be part of the wave it answered.
    """

    @property
    def rate(self) -> float:
        """Current rate in requests per second (`inf` when unpaced)."""
        ...

    def reserve(self) -> float:
        """Book the next send slot; return how many seconds to wait before using it."""
        ...

    def on_response(self, *, throttled: bool) -> None:
        """Feedback from one attempt the service answered: whether it throttled it.

        An attempt that got no answer at all (connection refused or reset, a timeout) must
        not be reported: it is neither an accept nor a throttle (see `on_failure`).
        """
        ...

    def pause(self) -> None:
        """Dispatch is held (the brownout gate closed): this spell is not the pacer's doing."""
        ...

    def resume(self) -> None:
        """Dispatch goes on again after `pause`."""
        ...


@runtime_checkable
class RemotePacer(Pacer, Protocol):
    """A pacer whose slots come from elsewhere (a shared quota in Redis): asking is a round
    trip, so it waits for its slot itself. Its `reserve()` is its local stand-in."""

    async def wait_for_slot(self, *, sleep: Callable[[float], Awaitable[None]]) -> None: ...


def epoch_of(pacer: Pacer) -> int | None:
    """How many times `pacer` has reacted to a throttle, voiding the slots booked before; None
    for a pacer that does not say (the attribute `epoch` is optional in the protocol)."""
    epoch = getattr(pacer, "epoch", None)
    return epoch if isinstance(epoch, int) else None


async def take_slot(pacer: Pacer, *, sleep: Callable[[float], Awaitable[None]]) -> None:
    """Wait for `pacer`'s next send slot, however it hands them out."""
    # Not `isinstance(pacer, RemotePacer)`: a runtime protocol check walks the protocol's
    # members on every call (about 13 µs: a quarter of what the engine cost per update).
    wait_for_slot = getattr(pacer, "wait_for_slot", None)
    if wait_for_slot is not None:
        await wait_for_slot(sleep=sleep)
        return
    while True:
        # A pacer that reacted to a throttle while we waited voided the slots booked before
        # (`epoch` moved on): they were booked at a rate the service has just refused, and
        # sending them would only meet more 429s. Book again at the new rate.
        epoch = epoch_of(pacer)
        delay = pacer.reserve()
        if delay > 0:
            await sleep(delay)
        if epoch_of(pacer) == epoch:
            return


def on_failure(pacer: Pacer, failure: Failure) -> None:
    """Tell `pacer` about a failed attempt, if the service answered it.

    Without an HTTP status nothing came back (refused, reset, timed out): counting that as an
    accept would inflate the pacer's measurement of the quota, counting it as a throttle would
    slow every worker down for a network problem.
    """
    if failure.status is not None:
        pacer.on_response(throttled=failure.kind is ErrorKind.THROTTLE)


class Pacing(Protocol):
    """A pacing strategy: makes the pacer for one (Region, operation) of a run."""

    def new_pacer(self, *, clock: Clock) -> Pacer: ...


class TokenBucket:
    """A token bucket that books slots ahead: a negative balance is a queue of waiters.

    Booking ahead (rather than polling for a token) keeps waiters in FIFO order and lets the
    rate change under them: a later `set_rate` affects slots booked after it.
    """

    def __init__(self, *, rate: float, burst: float, clock: Clock) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self._rate = rate
        self._burst = max(burst, 1.0)
        self._clock = clock
        self._tokens = self._burst
        self._updated = clock()
        self._full_s = 0.0  # seconds spent full so far: see `full_s`

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> float:
        return self._burst

    @property
    def full_s(self) -> float:
        """Total seconds the bucket has spent full, up to now.

        A full bucket is one nobody is drawing on: the spell was not paced by it, and the
        service's own bucket, filling alongside, was throwing its tokens away too.
        """
        self._refill()
        return self._full_s

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        if elapsed > 0:
            to_full = (self._burst - self._tokens) / self._rate
            self._full_s += max(0.0, elapsed - max(to_full, 0.0))
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._updated = now

    def skip(self) -> None:
        """Let the time since the last update pass without refilling (dispatch was held).

        After a brownout pause the run must go on at its rate, not burst into a service that
        has just come back.
        """
        self._updated = self._clock()

    def set_rate(self, rate: float) -> None:
        self._refill()
        self._rate = rate

    def drain(self) -> None:
        """Forget saved-up tokens (the service's own bucket is evidently empty)."""
        self._refill()
        self._tokens = min(self._tokens, 0.0)

    def void_bookings(self) -> None:
        """Forget saved-up tokens and every slot booked ahead, and skip one slot: the next
        is two intervals from now (the waiters that held the voided slots book again).

        The skipped slot is slack for the service's bucket, empty after a throttle: requests
        sent evenly arrive unevenly (latency varies), and at a low rate the margin alone would
        take seconds to save up the one token an early arrival needs.
        """
        self._refill()
        self._tokens = -1.0

    def reserve(self) -> float:
        self._refill()
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class _FixedPacer:
    def __init__(self, bucket: TokenBucket) -> None:
        self._bucket = bucket

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def reserve(self) -> float:
        return self._bucket.reserve()

    def on_response(self, *, throttled: bool) -> None:
        """A fixed rate ignores feedback: the user said how fast."""

    def pause(self) -> None:
        """Nothing to learn from a pause."""

    def resume(self) -> None:
        """Nothing to learn from a pause."""


class _UnpacedPacer:
    rate = math.inf

    def reserve(self) -> float:
        return 0.0

    def on_response(self, *, throttled: bool) -> None:
        """Nothing to adapt."""

    def pause(self) -> None:
        """Nothing to adapt."""

    def resume(self) -> None:
        """Nothing to adapt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedRate:
    """Send at most `rate` requests per second, allowing bursts of `burst`."""

    rate: float
    burst: float = 1.0

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be positive, got {self.rate}")
        if not self.burst >= 1:
            raise ValueError(f"burst must be at least 1, got {self.burst}")

    def new_pacer(self, *, clock: Clock) -> Pacer:
        return _FixedPacer(TokenBucket(rate=self.rate, burst=self.burst, clock=clock))


@dataclass(frozen=True, slots=True)
class Unpaced:
    """No pacing at all: for tests, raised quotas you know, or a service of your own."""

    def new_pacer(self, *, clock: Clock) -> Pacer:
        return _UnpacedPacer()


@dataclass(frozen=True, slots=True, kw_only=True)
class Adaptive:
    """Find the service's real rate: start at the documented quota, probe up, settle under it.

    The service meters each operation with a token bucket, and a drained token bucket admits
    exactly its refill rate. So the requests the service accepted between two throttles (the
    bucket empty at both) divided by the time between them *is* the quota, and the pacer
    settles at `margin` times that measurement instead of halving and climbing back the way
    AIMD or CUBIC do.

    - Slow start: begin at `initial_rate` with the documented `burst`, and grow by `growth`
      per second (exponentially) while nothing is throttled and the pacer is what limits the
      run (a rate nobody uses is never raised).
    - First throttle: drop to `margin` times the rate accepted over the last
      `first_window_s`. That window may include the ramp up, so the estimate is rough: grow
      again by `regrowth` per second until the next throttle. If the rate did climb, that
      throttle ends a climb from below the quota, during which the service was saturated
      only near its end: it measures the last second's accepts (at most the rate it was
      sending at), not the climb's average.
    - Later throttles: drop to `margin` times the rate accepted since the previous throttle
      (when that was at most `interval_max_s` ago) — a measurement, not a guess — and from
      then on probe upward by only `probe_growth` per second, faster the longer nothing is
      throttled, so a quota raised mid-run is still found. Below `probe_full_rate` the probing
      slows in proportion to the rate: each probe ends in a throttle that costs the one or two
      requests then in flight, a larger share of the requests the slower they go (at the
      documented 10/s, probing at the full pace would throttle ~3 % of them). The 429s that
      follow one within `react_gap_s` are the same event. `max_rate` caps everything.
    - A first throttle within `first_window_s` of the start is measured too: the service's
      bucket began full (the documented `burst`) and is empty now, so it accepted `burst`
      plus the quota times the time since the start. With fewer than 10 accepted beyond the
      burst that measures nothing (several clients' opening bursts met, or answers were
      still in flight): the rate stays at most `initial_rate`. Halving it instead cost two
      clients opening together on 50/s about 5 s of regrowth.
    - Other clients on the same quota (other processes or hosts, not coordinated through
      Redis) make the measurement a *share*. Three signs tell: the service refuses our
      opening burst (fewer than half of it accepted by the first throttle: its bucket was not
      full when we began), a measurement falls below `contention_drop` times the one before
      (someone took part of what we had), or one falls below 0.9 times `initial_rate` (the
      documented quota, which a client alone on it measures). A contended pacer probes at
      the full pace whatever its rate, and once past its last measurement with no throttle
      it grows by `regrowth` per second: the share it measured has been given up (a client
      finished) or was never fair. Without this a client that began late stays at the small
      share it first measured, and the one left at the end climbs back at the slowed pace of
      a low quota (in simulation, one of three clients sharing 50/s finished alone at 4/s).
    - Idle spells do not count: a measurement divides by the time the pacer was what
      limited the sends, which leaves out spells when its bucket was full (nobody wanted a
      slot) and spells when the brownout gate held dispatch (`pause` … `resume`; the bucket
      does not save up tokens then, so the run resumes at its rate instead of bursting).
      Dividing by wall time instead would take a 3 s brownout at 100/s for a quota of ~61/s.
    """

    initial_rate: float = 10.0
    burst: float = 20.0
    max_rate: float | None = None
    min_rate: float = 0.5
    growth: float = 3.0
    regrowth: float = 0.3
    probe_growth: float = 0.005
    margin: float = 0.98
    first_window_s: float = 1.0
    interval_max_s: float = 10.0
    react_gap_s: float = 0.5
    probe_full_rate: float = 50.0
    contention_drop: float = 0.8

    def __post_init__(self) -> None:
        for name in (
            "initial_rate",
            "min_rate",
            "first_window_s",
            "interval_max_s",
            "probe_full_rate",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.max_rate is not None and not self.max_rate >= self.min_rate:
            raise ValueError(f"max_rate must be at least min_rate, got {self.max_rate}")
        if not 0 < self.contention_drop <= 1:
            raise ValueError(f"contention_drop must be in (0, 1], got {self.contention_drop}")
        if not 0 < self.margin <= 1:
            raise ValueError(f"margin must be in (0, 1], got {self.margin}")
        if not self.burst >= 1:
            raise ValueError(f"burst must be at least 1, got {self.burst}")
        for name in ("growth", "regrowth", "probe_growth", "react_gap_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")

    def new_pacer(self, *, clock: Clock) -> Pacer:
        return AdaptivePacer(self, clock=clock)


class AdaptivePacer:
    """The pacer behind `Adaptive`; see its docstring for the algorithm."""

    def __init__(self, settings: Adaptive, *, clock: Clock = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        # A cap on the rate caps the burst too: `max_rate=1` must not send 20 at once.
        burst = settings.burst
        if settings.max_rate is not None:
            burst = min(burst, max(settings.max_rate, 1.0))
        self._bucket = TokenBucket(
            rate=self._clamp(settings.initial_rate), burst=burst, clock=clock
        )
        self._started = clock()
        self._last_adjust = self._started
        self._last_throttle: float | None = None  # when the pacer last reacted to one
        self._measured_once = False  # has a throttle-to-throttle interval measured the quota?
        self._measurement = math.inf  # what the last throttle measured (our share, contended)
        self._previous_interval: float | None = None  # the last throttle-to-throttle one
        self._contended = False  # another client draws on the same quota (class docstring)
        self._accepted_total = 0
        self._accepted_at_throttle = 0
        self._recent_accepts: deque[float] = deque()  # for the first estimate
        self._recent_slots: deque[float] = deque()  # demand: slots booked in the last second
        # Seconds the pacer did not limit the sends: the bucket full, or dispatch paused.
        self._paused_s = 0.0  # finished pauses
        self._pauses = 0  # pauses in progress (several runs may share one pacer)
        self._paused_since = 0.0
        self._idle_at_throttle = 0.0
        self.epoch = 0  # moves on when booked slots are voided (a throttle was reacted to)

    @classmethod
    def continuing(cls, settings: Adaptive, *, rate: float, clock: Clock) -> AdaptivePacer:
        """A pacer taking over at `rate` from another that learned it (the shared quota
        became unreachable): no slow start, no saved-up burst, only slow probing."""
        pacer = cls(settings, clock=clock)
        pacer._bucket.set_rate(pacer._clamp(rate))
        pacer._bucket.drain()
        pacer._last_throttle = pacer._started  # as though it had just measured the quota
        pacer._measured_once = True
        return pacer

    @property
    def rate(self) -> float:
        return self._bucket.rate

    def _clamp(self, rate: float) -> float:
        ceiling = self._settings.max_rate if self._settings.max_rate is not None else math.inf
        return min(max(rate, self._settings.min_rate), ceiling)

    @staticmethod
    def _trim(times: deque[float], horizon: float) -> None:
        while times and times[0] < horizon:
            times.popleft()

    def idle_s(self) -> float:
        """Seconds so far in which the pacer was not what limited the sends."""
        self._hold_if_paused()
        paused = self._paused_s
        if self._pauses:
            paused += self._clock() - self._paused_since
        return self._bucket.full_s + paused

    def _hold_if_paused(self) -> None:
        # While paused the bucket neither refills nor counts as full: the pause is counted
        # once, as a pause.
        if self._pauses:
            self._bucket.skip()

    def pause(self) -> None:
        if self._pauses == 0:
            self._bucket.full_s  # noqa: B018 -- settle the idle time up to the pause
            self._paused_since = self._clock()
        self._pauses += 1

    def resume(self) -> None:
        if self._pauses == 0:
            return
        self._hold_if_paused()
        self._pauses -= 1
        if self._pauses == 0:
            now = self._clock()
            self._paused_s += now - self._paused_since
            self._last_adjust = now  # no growth for a spell nobody sent in

    def reserve(self) -> float:
        self._hold_if_paused()
        now = self._clock()
        self._recent_slots.append(now)
        self._trim(self._recent_slots, now - 1.0)
        self._grow(now)
        return self._bucket.reserve()

    def _grow(self, now: float) -> None:
        elapsed = now - self._last_adjust
        if elapsed <= 0:
            return
        self._last_adjust = now
        # Grow only while the pacer is the bottleneck: if the workers cannot even fill the
        # current rate, a higher one would be a number with no evidence behind it.
        if len(self._recent_slots) < 0.5 * self.rate:
            return
        if self._last_throttle is None:
            growth = self._settings.growth
        elif not self._measured_once:
            growth = self._settings.regrowth
        elif self._contended and self.rate > self._measurement:
            growth = self._settings.regrowth  # past our share unthrottled: it was given up
        else:
            quiet = now - self._last_throttle
            slowdown = 1.0 if self._contended else self.rate / self._settings.probe_full_rate
            growth = min(
                self._settings.growth,
                self._settings.probe_growth
                * (1 + quiet / self._settings.interval_max_s)
                * min(1.0, slowdown),
            )
        self._bucket.set_rate(self._clamp(self.rate * math.exp(growth * elapsed)))

    def on_response(self, *, throttled: bool) -> None:
        self._hold_if_paused()
        now = self._clock()
        if not throttled:
            self._accepted_total += 1
            self._recent_accepts.append(now)
            self._trim(self._recent_accepts, now - self._settings.first_window_s)
            return
        last = self._last_throttle
        # The 429s right after one are the same event. The gap also lets enough requests
        # through that the next measurement is not a count of two or three.
        gap = max(self._settings.react_gap_s, _MIN_MEASURED / self.rate)
        if last is not None and now - last < gap:
            return
        idle = self.idle_s()
        was_measured = self._measured_once
        sending_at = self.rate
        measured = self._measured(
            now,
            last,
            limited_s=None if last is None else (now - last - (idle - self._idle_at_throttle)),
        )
        reacted_rate = self._clamp(self._settings.margin * self._measurement)
        if last is not None and not was_measured and sending_at > reacted_rate:
            # This throttle ends the climb from the first, rough estimate (class docstring).
            measured = max(measured, min(self._last_second(now), sending_at))
        self._note_contention(measured, first=last is None, interval=was_measured)
        self._measurement = measured
        self._bucket.set_rate(self._clamp(self._settings.margin * measured))
        # The service's bucket is empty: ours must not burst into it, and the slots booked
        # ahead at the old rate are void (their waiters book again: see `take_slot`).
        self._bucket.void_bookings()
        self.epoch += 1
        self._last_throttle = now
        self._last_adjust = now
        self._accepted_at_throttle = self._accepted_total
        self._idle_at_throttle = idle

    def _note_contention(self, measured: float, *, first: bool, interval: bool) -> None:
        """Look for another client on the same quota (the class docstring's three signs)."""
        if first and self._accepted_total < 0.5 * self._bucket.burst:
            self._contended = True
        if not interval:
            return  # a first estimate or the end of a climb: too rough to compare with
        previous = self._previous_interval
        if previous is not None and measured < self._settings.contention_drop * previous:
            self._contended = True
        if measured < _ALONE_MEASURES_AT_LEAST * self._settings.initial_rate:
            self._contended = True
        self._previous_interval = measured

    def _measured(
        self, now: float, last_throttle: float | None, *, limited_s: float | None
    ) -> float:
        """The rate the service accepted: the quota, when its bucket was empty at both ends.

        `limited_s` is the time since the last throttle in which the pacer limited the sends.
        """
        if limited_s is not None and 0 < limited_s <= self._settings.interval_max_s:
            self._measured_once = True
            return (self._accepted_total - self._accepted_at_throttle) / limited_s
        since_start = now - self._started
        if last_throttle is None and 0 < since_start <= self._settings.first_window_s:
            # The burst the service began with, plus its quota for the time since: all it
            # could accept, and (its bucket being empty now) all it did.
            beyond_burst = self._accepted_total - self._bucket.burst
            if beyond_burst < _MIN_MEASURED:
                # Too few to measure anything: the opening burst met another client's, or
                # answers still in flight. Keep the documented rate (or less, if already).
                return min(self.rate, self._settings.initial_rate)
            return beyond_burst / since_start
        # The floor only guards against a window too short to count in: never above half the
        # documented rate, so that a ramp that overshot does not keep the rate up.
        return max(self._last_second(now), 0.5 * min(self.rate, self._settings.initial_rate))

    def _last_second(self, now: float) -> float:
        """The rate accepted over the last `first_window_s`, less the opening burst when the
        window holds the start (those were the service's saved-up tokens, not its rate)."""
        # It errs high when the window holds part of a ramp above the quota, which the next
        # throttle corrects within one gap; erring low would be corrected only by slow probing.
        window = self._settings.first_window_s
        self._trim(self._recent_accepts, now - window)
        count = float(len(self._recent_accepts))
        if now - self._started <= window:
            count = max(count - self._bucket.burst, 0.0)
        return count / window
