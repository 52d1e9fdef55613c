"""Client-side checks that spare the service a request it would reject with 400."""

from __future__ import annotations

import re
from typing import Final

from .capabilities import MeetingFeatures, capability_problems
from .update import BatchExcept, Update

__all__ = ["ID_PATTERN", "batch_problems", "is_valid_id", "update_problems"]

#: The service takes 1 to 250 attendees to leave out of a batch update.
MAX_EXCLUDED = 250

#: The service's pattern for meeting and attendee IDs.
ID_PATTERN: Final = re.compile(r"[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}")


def is_valid_id(value: str) -> bool:
    return ID_PATTERN.fullmatch(value) is not None


def update_problems(update: Update, *, features: MeetingFeatures | None = None) -> list[str]:
    """Every reason `update` would be rejected by the service; empty when it may be sent."""
    problems: list[str] = []
    if not is_valid_id(update.meeting_id):
        problems.append(f"meeting ID {update.meeting_id!r} is not a valid Chime ID")
    if not is_valid_id(update.attendee_id):
        problems.append(f"attendee ID {update.attendee_id!r} is not a valid Chime ID")
    problems.extend(capability_problems(update.capabilities, features=features))
    return problems


def batch_problems(batch: BatchExcept) -> list[str]:
    """Every reason the service would reject `batch`; empty when it may be sent."""
    problems: list[str] = []
    if not is_valid_id(batch.meeting_id):
        problems.append(f"meeting ID {batch.meeting_id!r} is not a valid Chime ID")
    if not 1 <= len(batch.excluded_ids) <= MAX_EXCLUDED:
        problems.append(
            f"a batch update must leave out 1 to {MAX_EXCLUDED} attendees, "
            f"not {len(batch.excluded_ids)}"
        )
    problems.extend(
        f"excluded attendee ID {attendee!r} is not a valid Chime ID"
        for attendee in batch.excluded_ids
        if not is_valid_id(attendee)
    )
    problems.extend(capability_problems(batch.capabilities))
    return problems
