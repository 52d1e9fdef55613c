"""The service's operations and the router that maps an HTTP request onto one.

The routes are the botocore model's (`chime-sdk-meetings` 2021-07-15). Matching is done on
path segments rather than with aiohttp's URL dispatcher because two routes overlap:
`PUT /meetings/{MeetingId}/attendees/capabilities?operation=batch-update-except` and
`/meetings/{MeetingId}/attendees/{AttendeeId}` — the real service picks by method and the
`operation` query parameter, and so does `resolve`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["MUTATING_OPERATIONS", "OPERATIONS", "WRITE_OPERATIONS", "Route", "resolve"]

CREATE_MEETING: Final = "CreateMeeting"
CREATE_MEETING_WITH_ATTENDEES: Final = "CreateMeetingWithAttendees"
GET_MEETING: Final = "GetMeeting"
DELETE_MEETING: Final = "DeleteMeeting"
CREATE_ATTENDEE: Final = "CreateAttendee"
BATCH_CREATE_ATTENDEE: Final = "BatchCreateAttendee"
GET_ATTENDEE: Final = "GetAttendee"
DELETE_ATTENDEE: Final = "DeleteAttendee"
LIST_ATTENDEES: Final = "ListAttendees"
UPDATE_ATTENDEE_CAPABILITIES: Final = "UpdateAttendeeCapabilities"
BATCH_UPDATE_EXCEPT: Final = "BatchUpdateAttendeeCapabilitiesExcept"
START_TRANSCRIPTION: Final = "StartMeetingTranscription"
STOP_TRANSCRIPTION: Final = "StopMeetingTranscription"
TAG_RESOURCE: Final = "TagResource"
UNTAG_RESOURCE: Final = "UntagResource"
LIST_TAGS: Final = "ListTagsForResource"

#: Every operation the emulator serves (the whole botocore model).
OPERATIONS: Final = frozenset(
    {
        CREATE_MEETING,
        CREATE_MEETING_WITH_ATTENDEES,
        GET_MEETING,
        DELETE_MEETING,
        CREATE_ATTENDEE,
        BATCH_CREATE_ATTENDEE,
        GET_ATTENDEE,
        DELETE_ATTENDEE,
        LIST_ATTENDEES,
        UPDATE_ATTENDEE_CAPABILITIES,
        BATCH_UPDATE_EXCEPT,
        START_TRANSCRIPTION,
        STOP_TRANSCRIPTION,
        TAG_RESOURCE,
        UNTAG_RESOURCE,
        LIST_TAGS,
    }
)

#: The capability writes: the only operations that injected write faults apply to.
WRITE_OPERATIONS: Final = frozenset({UPDATE_ATTENDEE_CAPABILITIES, BATCH_UPDATE_EXCEPT})

#: Operations whose success changes state (`RequestRecord.state_changed`).
MUTATING_OPERATIONS: Final = WRITE_OPERATIONS | {
    CREATE_MEETING,
    CREATE_MEETING_WITH_ATTENDEES,
    DELETE_MEETING,
    CREATE_ATTENDEE,
    BATCH_CREATE_ATTENDEE,
    DELETE_ATTENDEE,
    START_TRANSCRIPTION,
    STOP_TRANSCRIPTION,
    TAG_RESOURCE,
    UNTAG_RESOURCE,
}


@dataclass(frozen=True, slots=True)
class Route:
    """A resolved request: the operation and the raw (unvalidated) path parameters."""

    operation: str
    meeting_id: str | None = None
    attendee_id: str | None = None


# (method, shape of the path, value of ?operation=) -> operation. "M"/"A" stand for the
# meeting and attendee ID segments; every other segment is literal.
_TABLE: Final[dict[tuple[str, tuple[str, ...], str | None], str]] = {
    ("POST", ("meetings",), None): CREATE_MEETING,
    ("POST", ("meetings",), "create-attendees"): CREATE_MEETING_WITH_ATTENDEES,
    ("GET", ("meetings", "M"), None): GET_MEETING,
    ("DELETE", ("meetings", "M"), None): DELETE_MEETING,
    ("POST", ("meetings", "M", "attendees"), None): CREATE_ATTENDEE,
    ("POST", ("meetings", "M", "attendees"), "batch-create"): BATCH_CREATE_ATTENDEE,
    ("GET", ("meetings", "M", "attendees"), None): LIST_ATTENDEES,
    ("PUT", ("meetings", "M", "attendees", "capabilities"), "batch-update-except"): (
        BATCH_UPDATE_EXCEPT
    ),
    ("GET", ("meetings", "M", "attendees", "A"), None): GET_ATTENDEE,
    ("DELETE", ("meetings", "M", "attendees", "A"), None): DELETE_ATTENDEE,
    ("PUT", ("meetings", "M", "attendees", "A", "capabilities"), None): (
        UPDATE_ATTENDEE_CAPABILITIES
    ),
    ("POST", ("meetings", "M", "transcription"), "start"): START_TRANSCRIPTION,
    ("POST", ("meetings", "M", "transcription"), "stop"): STOP_TRANSCRIPTION,
    ("GET", ("tags",), None): LIST_TAGS,
    ("POST", ("tags",), "tag-resource"): TAG_RESOURCE,
    ("POST", ("tags",), "untag-resource"): UNTAG_RESOURCE,
}


def resolve(method: str, path: str, operation_query: str | None) -> Route | None:
    """The route for a request, or None when the service has no such operation.

    `operation_query` is the value of the `operation` query parameter, if any.
    """
    segments = path.strip("/").split("/")
    if segments[0] not in ("meetings", "tags") or "" in segments:
        return None
    shape = list(segments)
    meeting_id = attendee_id = None
    if segments[0] == "meetings" and len(segments) >= 2:
        meeting_id, shape[1] = segments[1], "M"
    if len(segments) >= 4 and shape[2] == "attendees":
        literal = _TABLE.get((method, tuple(shape), operation_query))
        if literal is not None:  # the batch route's literal "capabilities" segment
            return Route(operation=literal, meeting_id=meeting_id)
        attendee_id, shape[3] = segments[3], "A"
    operation = _TABLE.get((method, tuple(shape), operation_query))
    if operation is None:
        return None
    return Route(operation=operation, meeting_id=meeting_id, attendee_id=attendee_id)
