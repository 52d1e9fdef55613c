"""Ground truth after a run, read from the emulator through the public API with boto3.

`ListAttendees` (100 per page) returns each attendee's `Capabilities`; the emulator is started
with `--rate "*=0"` so these reads are never throttled, and reads get no injected faults. The
attendees' JoinTokens are in the response too: they are dropped at once, never stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import boto3
from botocore.config import Config

from chime_bulk import Capabilities

from .environment import REGION
from .workload import Target

__all__ = ["GroundTruth", "read_ground_truth"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroundTruth:
    checked: int
    mismatched: list[tuple[str, str]]  # attendees whose state differs from the desired one
    missing: list[tuple[str, str]]  # attendees the emulator no longer lists
    reads: int  # ListAttendees calls made

    @property
    def mismatches(self) -> int:
        return len(self.mismatched) + len(self.missing)


def read_ground_truth(endpoint_url: str, targets: Iterable[Target]) -> GroundTruth:
    client = boto3.client(
        "chime-sdk-meetings",
        region_name=REGION,
        endpoint_url=endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )
    desired: dict[str, dict[str, Capabilities]] = {}
    for target in targets:
        desired.setdefault(target.meeting_id, {})[target.attendee_id] = target.capabilities
    mismatched: list[tuple[str, str]] = []
    missing: list[tuple[str, str]] = []
    reads = 0
    for meeting_id, wanted in desired.items():
        actual: dict[str, Capabilities] = {}
        token: str | None = None
        while True:  # ListAttendees has no botocore paginator: follow NextToken by hand
            page = client.list_attendees(
                MeetingId=meeting_id, MaxResults=100, **({"NextToken": token} if token else {})
            )
            reads += 1
            for attendee in page["Attendees"]:
                actual[attendee["AttendeeId"]] = Capabilities.from_api(attendee["Capabilities"])
            token = page.get("NextToken")
            if not token:
                break
        for attendee_id, capabilities in wanted.items():
            got = actual.get(attendee_id)
            if got is None:
                missing.append((meeting_id, attendee_id))
            elif got != capabilities:
                mismatched.append((meeting_id, attendee_id))
    client.close()
    return GroundTruth(
        checked=sum(len(wanted) for wanted in desired.values()),
        mismatched=mismatched,
        missing=missing,
        reads=reads,
    )
