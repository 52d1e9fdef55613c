"""The check before the first update: a wrong setup ends in one line, not a run of failures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chime_bulk import BulkUpdater, PreflightFailed
from chime_bulk.emulator import Emulator

from .conftest import chime_bulk, plan_for, writes

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # closed again: nothing listens


def _no_summary(stderr: str) -> None:
    """No table of failed/cancelled rows, no rate, no trace: just the error line."""
    for word in ("cancelled", "updates/s", "Traceback", "succeeded"):
        assert word not in stderr


def test_missing_credentials_end_in_one_line_and_exit_3(emulator: Emulator, tmp_path: Path) -> None:
    """No credentials anywhere: one line saying so, exit 3, and nothing reaches the service."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=20)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chime_bulk",
            "apply",
            str(plan),
            "--endpoint-url",
            emulator.endpoint_url,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "no AWS credentials found" in done.stderr
    assert "nothing was sent" in done.stderr
    _no_summary(done.stderr)
    assert emulator.requests == []


def test_an_unknown_region_is_a_usage_error(tmp_path: Path) -> None:
    """`--region us-eats-1` (a typo): one line naming the Region, exit 2, no connection."""
    plan = tmp_path / "plan.jsonl"
    plan.write_text(
        '{"MeetingId": "11111111-1111-1111-1111-111111111111", "AttendeeId": '
        '"22222222-2222-2222-2222-222222222222", "Capabilities": {"Audio": "SendReceive", '
        '"Video": "Receive", "Content": "None"}}\n'
    )
    done = chime_bulk("apply", str(plan), "--region", "us-eats-1")
    assert done.returncode == 2, done.stderr
    assert "unknown Region 'us-eats-1'" in done.stderr
    _no_summary(done.stderr)


def test_an_endpoint_that_refuses_connections_is_exit_3(emulator: Emulator, tmp_path: Path) -> None:
    """Nothing listening at --endpoint-url: one line naming it, exit 3, no report rows."""
    plan, _ = plan_for(emulator, tmp_path, meetings=1, attendees=50)
    url = _closed_port_url()
    report_path = tmp_path / "report.json"
    done = chime_bulk("apply", str(plan), "--endpoint-url", url, "--report", str(report_path))
    assert done.returncode == 3, done.stderr
    assert f"cannot connect to {url}" in done.stderr
    _no_summary(done.stderr)
    assert not report_path.exists()
    assert writes(emulator) == []


async def test_preflight_passes_against_a_working_endpoint(emulator: Emulator) -> None:
    """From Python: `preflight()` passes when everything is right and raises
    `PreflightFailed` (fatal, `EndpointUnreachable`) when nothing listens."""
    async with BulkUpdater(endpoint_url=emulator.endpoint_url) as bulk:
        await bulk.preflight()
    async with BulkUpdater(endpoint_url=_closed_port_url()) as bulk:
        with pytest.raises(PreflightFailed) as raised:
            await bulk.preflight()
    assert (raised.value.code, raised.value.fatal) == ("EndpointUnreachable", True)
    assert emulator.requests == []
