"""Reading a meeting: its attendees and their capabilities, and its media features.

Reads go through the same attempt path as writes (the `Send` given: gate, pacer, stop,
unreachable-endpoint rule, retries); this module only says what to ask and how to read the
answer. `ListAttendees` returns each attendee's JoinToken, a secret. It is dropped here, at
the only place chime-bulk reads that response, so no later code can log, report or keep it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .._engine.request import Request, Send
from .._model.capabilities import Capabilities, MeetingFeatures
from .._model.errors import ListingFailed
from .._model.results import Status
from .._policy.classification import ErrorKind, Failure

__all__ = [
    "GET_MEETING_OPERATION",
    "LIST_OPERATION",
    "AttendeeState",
    "list_attendees",
    "meeting_features",
]

LIST_OPERATION: Final = "ListAttendees"
GET_MEETING_OPERATION: Final = "GetMeeting"
_PAGE_SIZE: Final = 100  # the API's maximum: fewest requests against the quota


@dataclass(frozen=True, slots=True, kw_only=True)
class AttendeeState:
    """An attendee as listed: its ID and current capabilities (`None` if not returned).

    `external_user_id` is kept only to match hosts named by it; the service marks it
    sensitive, so it is left out of `repr` and never logged or reported.
    """

    attendee_id: str
    capabilities: Capabilities | None
    external_user_id: str | None = field(default=None, repr=False)


def _state(attendee: Mapping[str, Any]) -> AttendeeState:
    raw = attendee.get("Capabilities")
    try:
        capabilities = Capabilities.from_api(raw) if raw is not None else None
    except ValueError:
        capabilities = None  # a value this version does not know: not safe to change
    external = attendee.get("ExternalUserId")
    return AttendeeState(
        attendee_id=attendee["AttendeeId"],
        capabilities=capabilities,
        external_user_id=external if isinstance(external, str) else None,
    )


async def list_attendees(
    send: Send, *, meeting_id: str, region: str | None = None
) -> list[AttendeeState]:
    """Every attendee of `meeting_id`, one paced and retried request per page."""
    attendees: list[AttendeeState] = []
    params: dict[str, Any] = {"MeetingId": meeting_id, "MaxResults": _PAGE_SIZE}
    while True:
        page = await _read(
            send,
            LIST_OPERATION,
            params,
            meeting_id=meeting_id,
            region=region,
            method="list_attendees",
        )
        attendees.extend(_state(attendee) for attendee in page.get("Attendees", []))
        token = page.get("NextToken")
        if not token:
            return attendees
        params = {**params, "NextToken": token}


async def meeting_features(
    send: Send, *, meeting_id: str, region: str | None = None
) -> MeetingFeatures:
    """The parts of a meeting's `MeetingFeatures` that constrain capabilities (GetMeeting)."""
    response = await _read(
        send,
        GET_MEETING_OPERATION,
        {"MeetingId": meeting_id},
        meeting_id=meeting_id,
        region=region,
        method="get_meeting",
    )
    return MeetingFeatures.from_api(response.get("Meeting", {}).get("MeetingFeatures"))


async def _read(
    send: Send,
    operation: str,
    params: Mapping[str, Any],
    *,
    meeting_id: str,
    region: str | None,
    method: str,
) -> Mapping[str, Any]:
    """One read through the attempt path; `ListingFailed` when it cannot be done."""

    async def call(client: Any) -> Mapping[str, Any]:
        response: Mapping[str, Any] = await getattr(client, method)(**params)
        return response

    outcome = await send(
        Request(operation=operation, region=region, call=call, meeting_id=meeting_id, write=False)
    )
    if outcome.status is Status.SUCCEEDED and outcome.response is not None:
        return outcome.response
    failure = outcome.failure or Failure(
        kind=ErrorKind.TRANSIENT, code="Cancelled", message="the run stopped before the read"
    )
    raise ListingFailed(meeting_id, failure)
