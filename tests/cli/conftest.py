"""Run the real `chime-bulk` executable against an emulator in this process."""

from __future__ import annotations

import os
import subprocess
import sys
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


def chime_bulk(
    *args: str, input_text: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI as a user would, capturing stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "chime_bulk", *args],
        capture_output=True,
        text=True,
        input=input_text,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def start_chime_bulk(*args: str) -> subprocess.Popen[str]:
    """Start the CLI in the background, stdout and stderr piped, for tests that interrupt
    it or read it as it goes."""
    return subprocess.Popen(
        [sys.executable, "-m", "chime_bulk", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
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
