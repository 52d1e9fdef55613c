"""Run the real `chime-bulk` executable against an emulator in this process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from chime_bulk import Capabilities, Update, write_plan
from chime_bulk.emulator import Emulator, RateLimit

MUTE_VIDEO = Capabilities("SendReceive", "Receive", "SendReceive")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An emulator without quota or faults."""
    with Emulator(rates={"*": RateLimit(0, 0)}, seed=11) as emu:
        yield emu


_HERE = Path(__file__).parent
#: The fork server's socket while this worker's server runs (`_fork_server`).
_fork_server_socket: Path | None = None


@pytest.fixture(scope="session", autouse=True)
def _fork_server() -> Iterator[None]:
    """One fork server per test worker: each CLI run is its own process, forked from an
    interpreter that has already imported chime-bulk (see fork_server.py for why and how)."""
    global _fork_server_socket
    with tempfile.TemporaryDirectory(prefix="chime-bulk-fork-") as folder:
        socket_path = Path(folder) / "server.sock"
        server = subprocess.Popen(
            [sys.executable, str(_HERE / "fork_server.py"), str(socket_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        if server.stdout.readline() != "ready\n":  # it says so once it listens
            server.kill()
            raise RuntimeError(f"the fork server did not start: exit {server.wait()}")
        _fork_server_socket = socket_path
        try:
            yield
        finally:
            _fork_server_socket = None
            server.kill()
            server.wait()
            server.stdout.close()


def _command(args: Sequence[str], env: dict[str, str]) -> list[str]:
    """`python -m chime_bulk ARGS`, through this worker's fork server when it runs."""
    if _fork_server_socket is None:
        return [sys.executable, "-m", "chime_bulk", *args]
    env["CHIME_BULK_FORK_SERVER"] = str(_fork_server_socket)
    return [sys.executable, "-I", "-S", str(_HERE / "fork_client.py"), *args]


def chime_bulk(
    *args: str, input_text: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in a process of its own, capturing stdout and stderr."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        _command(args, env),
        capture_output=True,
        text=True,
        input=input_text,
        timeout=timeout,
        env=env,
        check=False,
    )


def start_chime_bulk(*args: str) -> subprocess.Popen[str]:
    """Start the CLI in the background, stdout and stderr piped, for tests that interrupt
    it or read it as it goes."""
    env = dict(os.environ)
    return subprocess.Popen(
        _command(args, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def plan_for(
    emulator: Emulator, tmp_path: Path, *, meetings: int, attendees: int, name: str = "plan.jsonl"
) -> tuple[Path, list[Update]]:
    seeded = emulator.seed(meetings=meetings, attendees=attendees)
    updates = [
        Update(meeting_id=m, attendee_id=a, capabilities=MUTE_VIDEO)
        for m, ids in seeded.items()
        for a in ids
    ]
    path = tmp_path / name
    write_plan(path, updates)
    return path, updates


def writes(emulator: Emulator) -> Sequence[object]:
    return [r for r in emulator.requests if r.operation == "UpdateAttendeeCapabilities"]


def batch_writes(emulator: Emulator) -> Sequence[object]:
    return [r for r in emulator.requests if r.operation == "BatchUpdateAttendeeCapabilitiesExcept"]
