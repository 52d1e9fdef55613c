"""Fixtures for the engine: an emulator and a way to build plans against it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chime_bulk import Capabilities, Update
from chime_bulk.emulator import Emulator, RateLimit

NO_LIMITS = {"*": RateLimit(0, 0)}
MUTE_VIDEO = Capabilities("SendReceive", "Receive", "SendReceive")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An emulator with no quota and no faults, seed 0."""
    with Emulator(rates=NO_LIMITS, seed=0) as emu:
        yield emu


def mute_all(
    meetings: dict[str, list[str]], capabilities: Capabilities = MUTE_VIDEO
) -> list[Update]:
    return [
        Update(meeting_id=meeting, attendee_id=attendee, capabilities=capabilities)
        for meeting, attendees in meetings.items()
        for attendee in attendees
    ]
