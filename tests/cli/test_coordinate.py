"""`--coordinate` end to end: the real CLI shares its quota through a real Redis."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chime_bulk.emulator import Emulator, RateLimit
from shared.redis_server import RedisServer, redis_server_binary

from .conftest import chime_bulk, plan_for

pytestmark = pytest.mark.filterwarnings("ignore:Unclosed <MemoryObject:ResourceWarning")


def _keys(server: RedisServer) -> list[str]:
    import subprocess

    cli = Path(redis_server_binary()).with_name("redis-cli")
    done = subprocess.run(
        [str(cli), "-p", str(server.port), "--scan", "--pattern", "chime-bulk:*"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.split()


def test_coordinate_keeps_the_bucket_in_redis(redis_server: RedisServer, tmp_path: Path) -> None:
    """apply --coordinate redis://… succeeds and its bucket is a key in that Redis."""
    with Emulator(rates={"*": RateLimit(0, 0)}, seed=5) as emulator:
        plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=20)
        done = chime_bulk(
            "apply",
            str(plan),
            "--endpoint-url",
            emulator.endpoint_url,
            "--region",
            "us-east-1",
            "--coordinate",
            redis_server.url,
            "--no-progress",
        )
    assert done.returncode == 0, done.stderr
    (key,) = _keys(redis_server)
    assert key.endswith(":us-east-1:UpdateAttendeeCapabilities:" + key.rsplit(":", 1)[1])


def test_the_environment_variable_coordinates_too(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CHIME_BULK_COORDINATE does what --coordinate does."""
    monkeypatch.setenv("CHIME_BULK_COORDINATE", redis_server.url)
    assert os.environ["CHIME_BULK_COORDINATE"] == redis_server.url
    with Emulator(rates={"*": RateLimit(0, 0)}, seed=6) as emulator:
        plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=5)
        done = chime_bulk(
            "apply",
            str(plan),
            "--endpoint-url",
            emulator.endpoint_url,
            "--region",
            "us-east-1",
        )
    assert done.returncode == 0, done.stderr
    assert len(_keys(redis_server)) == 1


def test_a_url_that_is_not_redis_is_a_usage_error(tmp_path: Path) -> None:
    """--coordinate http://… exits 2 naming the option, before anything is sent."""
    plan = tmp_path / "plan.jsonl"
    plan.write_text("")
    done = chime_bulk("apply", str(plan), "--coordinate", "http://localhost:6379")
    assert done.returncode == 2
    assert "--coordinate" in done.stderr
