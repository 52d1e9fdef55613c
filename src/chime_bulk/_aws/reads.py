"""Reading a meeting: its attendees and their capabilities, and its media features.

`ListAttendees` returns each attendee's JoinToken, a secret. It is dropped here, at the only
place chime-bulk reads that response, so no later code can log, report or keep it.
"""

from __future__ import annotations

import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import anyio

from .._model.capabilities import Capabilities, MeetingFeatures
from .._model.errors import ChimeBulkError
from .._policy.classification import Failure, classify
from .._policy.pacing import Pacer, on_failure, take_slot
from .._policy.retry import AttemptFailed, RetryPolicy, new_retrying

__all__ = ["AttendeeState", "ListingFailed", "list_attendees", "meeting_features"]

LIST_OPERATION: Final = "ListAttendees"
GET_MEETING_OPERATION: Final = "GetMeeting"
_PAGE_SIZE: Final = 100  # the API's maximum: fewest requests against the quota


@dataclass(frozen=True, slots=True)
class AttendeeState:
    """An attendee as listed: its ID and current capabilities (`None` if not returned)."""

    attendee_id: str
    capabilities: Capabilities | None


class ListingFailed(ChimeBulkError):
    """A meeting could not be read (it does not exist, or retries ran out)."""

    def __init__(self, meeting_id: str, failure: Failure) -> None:
        super().__init__(f"cannot read meeting {meeting_id}: {failure.code} {failure.message}")
        self.meeting_id = meeting_id
        self.failure = failure


def _state(attendee: dict[str, Any]) -> AttendeeState:
    raw = attendee.get("Capabilities")
    try:
        capabilities = Capabilities.from_api(raw) if raw is not None else None
    except ValueError:
        capabilities = None  # a value this version does not know: not safe to change
    return AttendeeState(attendee_id=attendee["AttendeeId"], capabilities=capabilities)


async def list_attendees(
    *,
    client: Any,
    meeting_id: str,
    pacer: Pacer,
    retry: RetryPolicy,
    random: Callable[[], float] = _random.random,
) -> list[AttendeeState]:
    """Every attendee of `meeting_id`, each page paced and retried like any other request."""
    attendees: list[AttendeeState] = []
    params: dict[str, Any] = {"MeetingId": meeting_id, "MaxResults": _PAGE_SIZE}
    while True:
        page = await _read(
            client.list_attendees,
            params,
            meeting_id=meeting_id,
            pacer=pacer,
            retry=retry,
            random=random,
        )
        attendees.extend(_state(attendee) for attendee in page.get("Attendees", []))
        token = page.get("NextToken")
        if not token:
            return attendees
        params = {**params, "NextToken": token}


async def meeting_features(
    *,
    client: Any,
    meeting_id: str,
    pacer: Pacer,
    retry: RetryPolicy,
    random: Callable[[], float] = _random.random,
) -> MeetingFeatures:
    """The parts of a meeting's `MeetingFeatures` that constrain capabilities (GetMeeting)."""
    response = await _read(
        client.get_meeting,
        {"MeetingId": meeting_id},
        meeting_id=meeting_id,
        pacer=pacer,
        retry=retry,
        random=random,
    )
    return MeetingFeatures.from_api(response.get("Meeting", {}).get("MeetingFeatures"))


async def _read(
    call: Callable[..., Awaitable[dict[str, Any]]],
    params: dict[str, Any],
    *,
    meeting_id: str,
    pacer: Pacer,
    retry: RetryPolicy,
    random: Callable[[], float],
) -> dict[str, Any]:
    """One read, paced and retried; `ListingFailed` when it cannot be done."""
    try:
        async for attempt in new_retrying(retry, sleep=anyio.sleep, random=random):
            with attempt:
                await take_slot(pacer, sleep=anyio.sleep)
                try:
                    response = await call(**params)
                except Exception as error:
                    failure = classify(error)
                    on_failure(pacer, failure)  # a connection failure is not an accept
                    raise AttemptFailed(failure) from None
                pacer.on_response(throttled=False)
                return response
    except AttemptFailed as failed:
        raise ListingFailed(meeting_id, failed.failure) from None
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover
