"""Fixtures for the shared quota: a real Redis server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .redis_server import RedisServer, start_redis


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server on a free loopback port, killed by PID afterwards."""
    server = start_redis()
    try:
        yield server
    finally:
        server.kill()
