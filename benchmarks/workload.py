"""The updates every contender is given: one per attendee, seeded, never the default state.

Each attendee gets a valid capability combination drawn from a seeded `random.Random`, never
the emulator's default (SendReceive everywhere), so an update that never landed shows up as a
ground-truth mismatch.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from chime_bulk import Capabilities, Media, Update, capability_problems

__all__ = ["Target", "targets", "write_plan_jsonl"]

_DEFAULT = Capabilities(Media.SEND_RECEIVE, Media.SEND_RECEIVE, Media.SEND_RECEIVE)
_CHOICES = tuple(
    caps
    for caps in (Capabilities(*combo) for combo in itertools.product(Media, repeat=3))
    if caps != _DEFAULT and not capability_problems(caps)
)


@dataclass(frozen=True, slots=True)
class Target:
    """One attendee and the capabilities it should end with."""

    meeting_id: str
    attendee_id: str
    capabilities: Capabilities

    @property
    def key(self) -> tuple[str, str]:
        return (self.meeting_id, self.attendee_id)

    def update(self) -> Update:
        return Update(
            meeting_id=self.meeting_id,
            attendee_id=self.attendee_id,
            capabilities=self.capabilities,
        )


def targets(meetings: dict[str, list[str]], *, seed: int) -> list[Target]:
    """One target per attendee, meeting by meeting, in the ready file's order."""
    rng = random.Random(seed)
    return [
        Target(meeting, attendee, rng.choice(_CHOICES))
        for meeting, attendees in meetings.items()
        for attendee in attendees
    ]


def _plan_lines(meetings: dict[str, list[str]], *, seed: int) -> Iterator[str]:
    for target in targets(meetings, seed=seed):
        yield json.dumps(
            {
                "MeetingId": target.meeting_id,
                "AttendeeId": target.attendee_id,
                "Capabilities": target.capabilities.to_api(),
            }
        )


def write_plan_jsonl(path: Path, meetings: dict[str, list[str]], *, seed: int) -> int:
    """Write the targets as a `chime-bulk apply` plan; returns the number of lines."""
    count = 0
    with path.open("w", encoding="utf-8") as plan:
        for line in _plan_lines(meetings, seed=seed):
            plan.write(line + "\n")
            count += 1
    return count
