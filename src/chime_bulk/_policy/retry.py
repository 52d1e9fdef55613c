"""The one retry layer: tenacity, full jitter capped before it is drawn, Retry-After honoured.

botocore's own retries are switched off on every client chime-bulk makes (see `clients`), so
this is the only place an attempt is repeated. A fresh `AsyncRetrying` is built for every
request because tenacity's controllers keep per-call state and are not safe to share.
"""

from __future__ import annotations

import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from .classification import Failure

__all__ = ["AttemptFailed", "FullJitterWait", "RetryPolicy", "StopAfterElapsed", "new_retrying"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """How hard to try one update.

    `max_attempts` counts every attempt, the first included. The wait before attempt n+1 is
    `uniform(0, min(cap_s, base_s * 2**(n-1)))` (AWS "full jitter"), but never less than the
    service's `Retry-After`, itself capped at `retry_after_cap_s`. `max_elapsed_s` bounds the
    time one update may spend retrying.
    """

    max_attempts: int = 8
    base_s: float = 0.1
    cap_s: float = 20.0
    retry_after_cap_s: float = 30.0
    max_elapsed_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("base_s", "cap_s", "retry_after_cap_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        if self.max_elapsed_s is not None and not self.max_elapsed_s > 0:
            raise ValueError(f"max_elapsed_s must be positive, got {self.max_elapsed_s}")


class AttemptFailed(Exception):
    """Raised inside the retry loop for a failed attempt, so tenacity can decide on it."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.code)
        self.failure = failure


def _retryable(error: BaseException) -> bool:
    return isinstance(error, AttemptFailed) and error.failure.kind.retryable


class FullJitterWait(wait_base):
    """Full-jitter exponential backoff that never undercuts the service's Retry-After."""

    def __init__(self, policy: RetryPolicy, *, random: Callable[[], float]) -> None:
        self._policy = policy
        self._random = random

    def backoff(self, failed_attempts: int) -> float:
        """The jittered delay after `failed_attempts` failures (1 after the first)."""
        ceiling = min(self._policy.cap_s, self._policy.base_s * 2.0 ** (failed_attempts - 1))
        return ceiling * float(self._random())

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = self.backoff(retry_state.attempt_number)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, AttemptFailed) and error.failure.retry_after_s is not None:
            floor = min(error.failure.retry_after_s, self._policy.retry_after_cap_s)
            delay = max(delay, floor)
        return delay


class StopAfterElapsed(stop_base):
    """Stop once `max_elapsed_s` have passed since `started`, on the run's own clock.

    tenacity's `stop_after_delay` times from when its controller was made, on the real clock;
    the engine makes the controller only after the first attempt failed, and its clock is
    injected, so the time is measured here instead.
    """

    def __init__(self, max_elapsed_s: float, *, clock: Callable[[], float], started: float) -> None:
        self._max = max_elapsed_s
        self._clock = clock
        self._started = started

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._clock() - self._started >= self._max


def new_retrying(
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]],
    clock: Callable[[], float],
    started: float,
    random: Callable[[], float] = _random.random,
    before_sleep: Callable[[RetryCallState], Awaitable[None] | None] | None = None,
) -> AsyncRetrying:
    """A fresh retry controller for one request (tenacity's are not safe to share).

    `started` is when the request's first attempt began, on `clock`: `max_elapsed_s` counts
    from there.
    """
    stop: stop_base = stop_after_attempt(policy.max_attempts)
    if policy.max_elapsed_s is not None:
        stop = stop | StopAfterElapsed(policy.max_elapsed_s, clock=clock, started=started)
    return AsyncRetrying(
        stop=stop,
        wait=FullJitterWait(policy, random=random),
        retry=retry_if_exception(_retryable),
        sleep=sleep,
        reraise=True,
        before_sleep=before_sleep,
    )
