"""Fixtures shared by every test: no real AWS configuration, ever."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

#: Dummy credentials: the emulator accepts any SigV4 signature.
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture(autouse=True)
def _realtime_runs_alone(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """A test marked `realtime` runs while no other test does, on any xdist worker.

    Those tests pace real requests on the wall clock and assert on their timing; another
    worker's CLI subprocesses on the same two cores delay and bunch their sends, which reads
    as a pacing fault that is not there. Every other test holds the lock shared, so they
    still run side by side.
    """
    # Every worker's base temp folder lies in one folder of the session: the lock's home.
    lock_path = tmp_path_factory.getbasetemp().parent / "chime-bulk-realtime.lock"
    exclusive = request.node.get_closest_marker("realtime") is not None
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, and nothing from the machine's own AWS configuration."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "CHIME_BULK_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in TEST_ENV.items():
        monkeypatch.setenv(name, value)


def pytest_configure(config: pytest.Config) -> None:
    """Tests are the application here: keep the library's debug events out of the output."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


@pytest.fixture
def log_events() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every structlog event the library emits during the test, debug level included."""
    import logging

    import structlog

    previous = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    try:
        with structlog.testing.capture_logs() as events:
            yield events
    finally:
        structlog.configure(wrapper_class=previous)


@pytest.fixture
def redis_server() -> Iterator[Any]:
    """A fresh, real redis-server on a free loopback port, killed by PID afterwards."""
    import gc
    import warnings

    from shared.redis_server import start_redis

    server = start_redis()
    try:
        yield server
    finally:
        server.kill()
        # coredis 6.9 leaves anyio memory streams unclosed when a connection attempt fails
        # (its defect, reported by the streams' __del__): collect them now, only that warning
        # silenced, rather than in whichever later test the collector happens to run.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Unclosed <MemoryObject", ResourceWarning)
            gc.collect()
