"""`Update`: one attendee's desired capabilities, the unit of work of every run."""

from __future__ import annotations

from dataclasses import dataclass

from .capabilities import Capabilities

__all__ = ["BatchExcept", "Update"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    """Set `attendee_id` in `meeting_id` to `capabilities`.

    `region` names the control Region that created the meeting (the only one that can change
    it); `None` means the run's default Region. `previous` is the attendee's state before the
    update when the caller knows it (a state-aware command read it); the report keeps it so
    the change can be undone. Constructing an `Update` checks nothing: a
    malformed ID is reported by the engine as `invalid`, never raised.
    """

    meeting_id: str
    attendee_id: str
    capabilities: Capabilities
    region: str | None = None
    previous: Capabilities | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(meeting, attendee): what identifies the attendee this update is for."""
        return (self.meeting_id, self.attendee_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchExcept:
    """One `BatchUpdateAttendeeCapabilitiesExcept`: give `capabilities` to every attendee of
    `meeting_id` except `excluded_ids`, on behalf of `members` (each reported on its own).

    Only state-aware commands build these: they have listed the meeting, so they know that
    `members` are exactly the attendees the call will change. An attendee who joins between
    the listing and the call gets the capabilities too, and is not in the report.
    """

    meeting_id: str
    capabilities: Capabilities
    excluded_ids: tuple[str, ...]
    members: tuple[Update, ...]
    region: str | None = None
