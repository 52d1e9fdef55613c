"""The token bucket, the per-operation quota and the `--rate` spec parser, on a fake clock."""

from __future__ import annotations

import pytest

from chime_bulk.emulator import RateLimit, TokenBucket, parse_rate_spec, parse_rate_specs
from chime_bulk.emulator.quota import Quota
from fakes import ManualClock


def _admitted(bucket: TokenBucket, attempts: int) -> list[bool]:
    return [bucket.try_acquire() for _ in range(attempts)]


def test_bucket_starts_full_and_admits_exactly_the_burst() -> None:
    """A new bucket admits `burst` requests at once and refuses the next."""
    bucket = TokenBucket(RateLimit(5, 3), clock=ManualClock())
    assert _admitted(bucket, 4) == [True, True, True, False]


def test_bucket_refills_at_the_rate() -> None:
    """After 0.5 s at 4/s an empty bucket admits exactly two more requests."""
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(4, 4), clock=clock)
    assert _admitted(bucket, 4) == [True] * 4
    clock.now = 0.5
    assert _admitted(bucket, 3) == [True, True, False]


def test_bucket_needs_a_whole_token() -> None:
    """Half a token admits nothing; the second half completes it."""
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(1, 1), clock=clock)
    assert bucket.try_acquire()
    clock.now = 0.5
    assert not bucket.try_acquire()
    clock.now = 1.0
    assert bucket.try_acquire()


def test_bucket_never_holds_more_than_the_burst() -> None:
    """A long idle period refills only up to `burst`."""
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(10, 2), clock=clock)
    clock.now = 3600.0
    assert bucket.tokens == 2
    assert _admitted(bucket, 3) == [True, True, False]


def test_a_refused_request_takes_no_token() -> None:
    """Refusals do not drain the bucket further: the refill arrives on schedule."""
    clock = ManualClock()
    bucket = TokenBucket(RateLimit(2, 1), clock=clock)
    assert bucket.try_acquire()
    assert _admitted(bucket, 10) == [False] * 10
    clock.now = 0.5
    assert bucket.try_acquire()


def test_rate_zero_is_unlimited() -> None:
    """A rate of 0 admits every request."""
    bucket = TokenBucket(RateLimit(0, 0), clock=ManualClock())
    assert all(_admitted(bucket, 1000))


def test_quota_default_is_ten_per_second_burst_twenty_per_operation() -> None:
    """Without rates every operation has its own 10/s, burst 20 bucket."""
    clock = ManualClock()
    quota = Quota(None, clock=clock)
    assert [quota.try_acquire("ListAttendees") for _ in range(21)] == [True] * 20 + [False]
    assert quota.try_acquire("GetAttendee")
    clock.now = 0.1
    assert quota.try_acquire("ListAttendees")
    assert not quota.try_acquire("ListAttendees")


def test_quota_named_operation_overrides_star() -> None:
    """A named operation's limit wins over `*`, which covers the rest."""
    quota = Quota(
        {"*": RateLimit(1, 1), "UpdateAttendeeCapabilities": RateLimit(3, 3)}, clock=ManualClock()
    )
    assert [quota.try_acquire("UpdateAttendeeCapabilities") for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert [quota.try_acquire("GetMeeting") for _ in range(2)] == [True, False]


def test_quota_rejects_unknown_operations() -> None:
    """A misspelt operation in `rates` is a ValueError that suggests the right name."""
    with pytest.raises(ValueError, match="UpdateAttendeeCapabilities"):
        Quota({"UpdateAttendeeCapability": RateLimit(1, 1)}, clock=ManualClock())


def test_set_rates_refills_every_bucket() -> None:
    """New rates take effect at once, with full buckets."""
    quota = Quota({"*": RateLimit(1, 1)}, clock=ManualClock())
    assert quota.try_acquire("GetMeeting")
    assert not quota.try_acquire("GetMeeting")
    quota.set_rates({"GetMeeting": RateLimit(2, 2)})
    assert [quota.try_acquire("GetMeeting") for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            "UpdateAttendeeCapabilities=5:5",
            ("UpdateAttendeeCapabilities", RateLimit(5, 5)),
            id="rate-and-burst",
        ),
        pytest.param("*=50", ("*", RateLimit(50, 100)), id="burst-defaults-to-twice-rate"),
        pytest.param("*=10:20", ("*", RateLimit(10, 20)), id="documented-default"),
        pytest.param("ListAttendees=0", ("ListAttendees", RateLimit(0, 0)), id="unlimited"),
        pytest.param("GetMeeting=0.2", ("GetMeeting", RateLimit(0.2, 1)), id="burst-at-least-1"),
        pytest.param(" GetMeeting = 2.5 : 4 ", ("GetMeeting", RateLimit(2.5, 4)), id="spaces"),
    ],
)
def test_parse_rate_spec(spec: str, expected: tuple[str, RateLimit]) -> None:
    """Valid specs parse to the operation and its limit."""
    assert parse_rate_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("UpdateAttendeeCapabilities", "OP=RATE", id="no-equals"),
        pytest.param("=5", "OP=RATE", id="no-operation"),
        pytest.param("GetMeeting=", "OP=RATE", id="no-rate"),
        pytest.param("UpdateAttendee=5", "unknown operation", id="unknown-operation"),
        pytest.param("GetMeeting=fast", "not a number", id="rate-not-a-number"),
        pytest.param("GetMeeting=5:x", "not a number", id="burst-not-a-number"),
        pytest.param("GetMeeting=-1", ">= 0", id="negative-rate"),
        pytest.param("GetMeeting=5:0.5", "burst", id="burst-below-one"),
        pytest.param("GetMeeting=inf", "finite", id="infinite"),
    ],
)
def test_parse_rate_spec_errors(spec: str, message: str) -> None:
    """Malformed specs raise a ValueError that says what is wrong."""
    with pytest.raises(ValueError, match=message):
        parse_rate_spec(spec)


def test_parse_rate_specs_rejects_duplicates() -> None:
    """Naming one operation twice is an error rather than a silent override."""
    assert parse_rate_specs(["*=1", "GetMeeting=2:3"]) == {
        "*": RateLimit(1, 2),
        "GetMeeting": RateLimit(2, 3),
    }
    with pytest.raises(ValueError, match="more than once"):
        parse_rate_specs(["GetMeeting=1", "GetMeeting=2"])


def test_rate_limit_validates() -> None:
    """A negative rate or a burst below 1 is refused at construction."""
    with pytest.raises(ValueError, match="rate"):
        RateLimit(-1, 1)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(1, 0)
