"""`Update`: one attendee's desired capabilities, the unit of work of every run."""

from __future__ import annotations

from dataclasses import dataclass

from .capabilities import Capabilities

__all__ = ["Update"]


@dataclass(frozen=True, slots=True)
class Update:
    """Set `attendee_id` in `meeting_id` to `capabilities`.

    `region` names the control Region that created the meeting (the only one that can change
    it); `None` means the run's default Region. Constructing an `Update` checks nothing: a
    malformed ID is reported by the engine as `invalid`, never raised.
    """

    meeting_id: str
    attendee_id: str
    capabilities: Capabilities
    region: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(meeting, attendee): what identifies the attendee this update is for."""
        return (self.meeting_id, self.attendee_id)
