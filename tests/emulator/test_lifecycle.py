"""Errors met while serving surface from stop(); the request log is bounded."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from chime_bulk.emulator import DEFAULT_LOG_LIMIT, Emulator, EmulatorError, RateLimit

SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=A/20250101/us-east-1/chime/aws4_request"}


class _BreakableClock:
    """A clock that raises once broken: a stand-in for any bug inside a request handler."""

    def __init__(self) -> None:
        self.broken = False

    def __call__(self) -> float:
        if self.broken:
            raise ZeroDivisionError("clock broke")
        return 1000.0


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=SIGNED)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_handler_error_is_aws_shaped_and_raised_from_stop() -> None:
    """A handler's exception is answered 500 ServiceFailureException and re-raised by stop()."""
    clock = _BreakableClock()
    emu = Emulator(clock=clock, rates={"*": RateLimit(0, 0)})
    emu.start()
    clock.broken = True
    status, headers, body = _get(f"{emu.endpoint_url}/meetings/x")
    assert status == 500
    assert headers["x-amzn-ErrorType"] == "ServiceFailureException"
    assert headers["x-amzn-RequestId"]
    assert json.loads(body)["Message"] == "The emulator failed internally."
    with pytest.raises(EmulatorError) as raised:
        emu.stop()
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    emu.stop()  # raised once: a second stop is quiet


def test_with_block_raises_the_serving_error() -> None:
    """Leaving a `with` block raises the error the server met while the block ran."""
    clock = _BreakableClock()

    def serve_one_broken_request() -> None:
        with Emulator(clock=clock) as emu:
            clock.broken = True
            assert _get(f"{emu.endpoint_url}/meetings")[0] == 500

    with pytest.raises(EmulatorError):
        serve_one_broken_request()


def test_a_failing_test_keeps_its_own_error() -> None:
    """An exception already leaving the block wins; the emulator's error becomes a note."""
    clock = _BreakableClock()

    def fail_after_a_broken_request() -> None:
        with Emulator(clock=clock) as emu:
            clock.broken = True
            _get(f"{emu.endpoint_url}/meetings")
            raise AssertionError("the test's own failure")

    with pytest.raises(AssertionError, match="own failure") as raised:
        fail_after_a_broken_request()
    assert any("emulator failed while serving" in note for note in raised.value.__notes__)


def test_request_log_is_bounded_by_default_and_configurable() -> None:
    """The default log keeps DEFAULT_LOG_LIMIT records; `max_logged_requests` changes it."""
    assert 10_000 <= DEFAULT_LOG_LIMIT <= 100_000
    with Emulator(max_logged_requests=2) as emu:
        for _ in range(3):
            _get(f"{emu.endpoint_url}/meetings/x")
        assert len(emu.requests) == 2
