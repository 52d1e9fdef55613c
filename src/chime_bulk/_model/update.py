"""`Update`: one attendee's desired capabilities, the unit of work of every run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .capabilities import Capabilities

__all__ = ["BatchExcept", "Update"]


def _check_capabilities(name: str, value: object) -> None:
    if isinstance(value, Capabilities):
        return
    fix = "use Capabilities(audio, video, content)"
    if isinstance(value, (tuple, list, Mapping)):
        fix = f"convert it with Capabilities.of({value!r})"
    raise TypeError(
        f"Update.{name} must be a Capabilities, got {type(value).__name__} {value!r}; {fix}"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    """Set `attendee_id` in `meeting_id` to `capabilities`.

    `region` names the control Region that created the meeting (the only one that can change
    it); `None` means the run's default Region. `previous` is the attendee's state before the
    update when the caller knows it (a state-aware command read it); the report keeps it so
    the change can be undone. Constructing an `Update` checks only the types, with a
    `TypeError` that names the fix (`capabilities` must be a `Capabilities`: convert a tuple
    or the API's mapping with `Capabilities.of`); a malformed ID is reported by the engine as
    `invalid`, never raised.
    """

    meeting_id: str
    attendee_id: str
    capabilities: Capabilities
    region: str | None = None
    previous: Capabilities | None = None

    def __post_init__(self) -> None:
        # Checked here, at the door: a tuple would otherwise fail deep in a run, far from
        # the line that made it ("'tuple' object has no attribute 'to_api'").
        for name in ("meeting_id", "attendee_id"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"Update.{name} must be a str, got {type(value).__name__}")
        if self.region is not None and not isinstance(self.region, str):
            raise TypeError(
                f"Update.region must be a str or None, got {type(self.region).__name__}"
            )
        _check_capabilities("capabilities", self.capabilities)
        if self.previous is not None:
            _check_capabilities("previous", self.previous)

    @property
    def key(self) -> tuple[str, str]:
        """(meeting, attendee): what identifies the attendee this update is for."""
        return (self.meeting_id, self.attendee_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchExcept:
    """One `BatchUpdateAttendeeCapabilitiesExcept`: give `capabilities` to every attendee of
    `meeting_id` except `excluded_ids`, on behalf of `members` (each reported on its own).

    State-aware operations build these from a listing: `listed` is every attendee it saw.
    With `listed` given, the meeting is listed again after the call and each member's result
    is what the service then holds; an attendee who joined in between and was changed by the
    call is reported too. Without it, the members' results are the call's answer.
    """

    meeting_id: str
    capabilities: Capabilities
    excluded_ids: tuple[str, ...]
    members: tuple[Update, ...]
    region: str | None = None
    listed: tuple[str, ...] = ()
