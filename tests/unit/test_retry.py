"""The retry layer: full jitter capped before it is drawn, Retry-After as a floor."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from tenacity import AsyncRetrying, RetryCallState

from chime_bulk._policy.classification import ErrorKind, Failure
from chime_bulk._policy.retry import AttemptFailed, FullJitterWait, RetryPolicy, new_retrying


def _failed_state(attempt_number: int, error: BaseException) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt_number
    state.set_exception((type(error), error, None))
    return state


def _throttle(retry_after: float | None = None) -> AttemptFailed:
    return AttemptFailed(
        Failure(
            kind=ErrorKind.THROTTLE,
            code="ThrottlingException",
            message="slow down",
            retry_after_s=retry_after,
        )
    )


def test_backoff_series_is_capped_before_jitter() -> None:
    """With the jitter draw pinned at its maximum, delays double from base and stop at cap."""
    wait = FullJitterWait(RetryPolicy(base_s=1, cap_s=20), random=lambda: 1.0)
    assert [wait.backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 20, 20]


def test_backoff_draws_uniformly_below_the_ceiling() -> None:
    """The jitter scales the capped ceiling, so a draw of 0.25 gives a quarter of it."""
    wait = FullJitterWait(RetryPolicy(base_s=0.5, cap_s=3), random=lambda: 0.25)
    assert [wait.backoff(n) for n in range(1, 6)] == [0.125, 0.25, 0.5, 0.75, 0.75]


def test_retry_after_is_a_floor() -> None:
    """A Retry-After longer than the jittered delay wins; a shorter one does not."""
    wait = FullJitterWait(RetryPolicy(base_s=1, cap_s=20), random=lambda: 1.0)
    assert wait(_failed_state(1, _throttle(retry_after=2.5))) == 2.5
    assert wait(_failed_state(4, _throttle(retry_after=2.5))) == 8


def test_retry_after_is_capped() -> None:
    """An absurd Retry-After is capped at retry_after_cap_s."""
    wait = FullJitterWait(RetryPolicy(retry_after_cap_s=30), random=lambda: 0.0)
    assert wait(_failed_state(1, _throttle(retry_after=3600))) == 30


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("max_attempts", 0, id="no-attempts"),
        pytest.param("base_s", -1, id="negative-base"),
        pytest.param("max_elapsed_s", 0, id="zero-time-limit"),
    ],
)
def test_policy_rejects_nonsense(field: str, value: float) -> None:
    """A policy that cannot work is refused with the field's name in the message."""
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**{field: value})  # type: ignore[arg-type]


async def _count_attempts(retrying: AsyncRetrying, error: AttemptFailed) -> int:
    """Run a call that always fails with `error`; how many times was it called?"""
    calls = 0

    async def always_failing() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(AttemptFailed) as raised:
        await retrying(always_failing)
    assert raised.value is error
    return calls


#: A clock that never moves: only the attempt count can stop the retries.
_FROZEN_CLOCK: dict[str, Any] = {"clock": lambda: 0.0, "started": 0.0}


@pytest.mark.anyio
async def test_max_attempts_counts_every_attempt() -> None:
    """max_attempts=3 means exactly three calls, then the last failure is re-raised."""
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    retrying = new_retrying(
        RetryPolicy(max_attempts=3, base_s=1), sleep=sleep, random=lambda: 1.0, **_FROZEN_CLOCK
    )
    calls = await _count_attempts(retrying, _throttle())
    assert calls == 3
    assert slept == [1, 2]


@pytest.mark.anyio
async def test_final_errors_are_not_retried() -> None:
    """A not-found failure is final: one attempt, no sleep."""
    retrying = new_retrying(RetryPolicy(), sleep=anyio.sleep, **_FROZEN_CLOCK)
    not_found = Failure(kind=ErrorKind.NOT_FOUND, code="NotFoundException", message="")
    assert await _count_attempts(retrying, AttemptFailed(not_found)) == 1


@pytest.mark.anyio
async def test_cancellation_is_never_retried() -> None:
    """A cancelled attempt propagates at once instead of being retried."""
    calls = 0
    with anyio.move_on_after(5) as scope:
        async for attempt in new_retrying(RetryPolicy(), sleep=anyio.sleep, **_FROZEN_CLOCK):
            with attempt:
                calls += 1
                scope.cancel()
                await anyio.sleep(1)
    assert calls == 1
    assert scope.cancelled_caught


@pytest.mark.anyio
async def test_max_elapsed_counts_from_the_first_attempt_on_the_injected_clock() -> None:
    """`max_elapsed_s` is measured on the run's clock from when the request started, even
    though the controller is made only after the first attempt failed."""
    now = [10.0]
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)
        now[0] += delay

    policy = RetryPolicy(max_attempts=100, base_s=1, cap_s=1, max_elapsed_s=2.5)
    # The request started at 9.0: one second passed before this controller was made.
    retrying = new_retrying(
        policy, sleep=sleep, random=lambda: 1.0, clock=lambda: now[0], started=9.0
    )
    calls = await _count_attempts(retrying, _throttle())
    # Elapsed since 9.0: 1.0 after attempt 1, 2.0 after attempt 2, 3.0 >= 2.5 after attempt 3.
    assert calls == 3
    assert slept == [1, 1]
