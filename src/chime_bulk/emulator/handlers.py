"""The operations themselves: validated request in, `(status, body)` out.

Handlers are synchronous and run with `Store.lock` held. Errors are raised as `ServiceError`.
The two capability writes are split in two — `prepare_write` (validation and lookups) and
`PendingWrite.apply` — so that the pipeline can inject faults between them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from . import operations as ops
from .model import check_shape
from .operations import Route
from .state import Attendee, Meeting, Store
from .validation import (
    check_id,
    check_string,
    default_capabilities,
    max_attendees,
    parse_capabilities,
    parse_excluded_ids,
    parse_max_results,
    parse_meeting_features,
)
from .wire import ServiceError

__all__ = ["HANDLERS", "Call", "PendingWrite", "Result", "create_meeting", "prepare_write"]

Result = tuple[int, dict[str, Any] | None]

#: Media Regions the service accepts: the list in the botocore model's documentation of
#: `CreateMeetingRequest.MediaRegion` ("Available values: …", GovCloud included).
MEDIA_REGIONS: Final = frozenset(
    {
        "af-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
        "eu-central-1",
        "eu-north-1",
        "eu-south-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-gov-east-1",
        "us-gov-west-1",
        "us-west-1",
        "us-west-2",
    }
)
_CLIENT_TOKEN: Final = re.compile(r"[-_a-zA-Z0-9]{2,64}")
_MAX_TAGS: Final = 50
_MAX_CREATE_WITH_MEETING: Final = 20
_MAX_BATCH_CREATE: Final = 100
#: ListAttendees page size when `max-results` is not given.
DEFAULT_PAGE_SIZE: Final = 10


@dataclass(frozen=True, slots=True)
class Call:
    """One routed request: `region` is the Region its SigV4 credential scope names."""

    route: Route
    body: dict[str, Any]
    query: Mapping[str, str]
    region: str


# --- lookups --------------------------------------------------------------------------------


def _meeting(call: Call, store: Store) -> Meeting:
    meeting_id = check_id(call.route.meeting_id, name="MeetingId")
    meeting = store.meetings.get(meeting_id)
    # A meeting exists only in the control Region that created it.
    if meeting is None or meeting.control_region != call.region:
        raise ServiceError.not_found(f"The meeting {meeting_id} does not exist.")
    return meeting


def _attendee(call: Call, meeting: Meeting) -> Attendee:
    attendee_id = check_id(call.route.attendee_id, name="AttendeeId")
    attendee = meeting.attendees.get(attendee_id)
    if attendee is None:
        raise ServiceError.not_found(
            f"The attendee {attendee_id} does not exist in meeting {meeting.meeting_id}."
        )
    return attendee


# --- meetings -------------------------------------------------------------------------------


def create_meeting(
    store: Store,
    *,
    external_meeting_id: object,
    media_region: object,
    control_region: str,
    features: object = None,
) -> Meeting:
    """Validate and add a meeting (shared by the API and the emulator's Python API)."""
    if features is not None:
        check_shape("MeetingFeaturesConfiguration", features, path="meetingFeatures")
    external_id = check_string(external_meeting_id, name="ExternalMeetingId", min_len=2, max_len=64)
    region = check_string(media_region, name="MediaRegion", min_len=2, max_len=64)
    if region not in MEDIA_REGIONS:
        raise ServiceError.bad_request(f"MediaRegion {region!r} is not supported.")
    parsed = parse_meeting_features(features)
    return store.add_meeting(
        external_meeting_id=external_id,
        media_region=region,
        control_region=control_region,
        features=parsed,
        max_attendees=max_attendees(parsed),
    )


def _new_meeting(call: Call, store: Store) -> tuple[Meeting, bool]:
    """The meeting a create call asks for, and whether it is new (False: a retried create)."""
    body = call.body
    token = body.get("ClientRequestToken")
    if not isinstance(token, str) or _CLIENT_TOKEN.fullmatch(token) is None:
        raise ServiceError.bad_request("ClientRequestToken must be 2 to 64 of [-_a-zA-Z0-9].")
    previous = store.meetings.get(store.client_tokens.get(token, ""))
    if previous is not None:
        return previous, False
    # Everything is validated before the meeting is added, so a 400 leaves no trace.
    host_id = _optional_string(body, "MeetingHostId", max_len=64)
    primary_id = _optional_string(body, "PrimaryMeetingId", max_len=64)
    tenant_ids = _tenant_ids(body["TenantIds"]) if "TenantIds" in body else None
    tags = _tags(body.get("Tags") or [])
    meeting = create_meeting(
        store,
        external_meeting_id=body.get("ExternalMeetingId"),
        media_region=body.get("MediaRegion"),
        control_region=call.region,
        features=body.get("MeetingFeatures"),
    )
    meeting.host_id, meeting.primary_meeting_id = host_id, primary_id
    meeting.tenant_ids, meeting.tags = tenant_ids, tags
    store.client_tokens[token] = meeting.meeting_id
    return meeting, True


def _optional_string(body: Mapping[str, Any], key: str, *, max_len: int) -> str | None:
    if key not in body:
        return None
    return check_string(body[key], name=key, min_len=2, max_len=max_len)


def _tenant_ids(value: object) -> list[str]:
    if not isinstance(value, list) or not 1 <= len(value) <= 5:
        raise ServiceError.bad_request("TenantIds must list 1 to 5 tenant IDs.")
    return [check_string(v, name="TenantIds", min_len=2, max_len=256) for v in value]


def _create_meeting(call: Call, store: Store) -> Result:
    meeting, _ = _new_meeting(call, store)
    return 200, {"Meeting": meeting.to_api()}


def _create_meeting_with_attendees(call: Call, store: Store) -> Result:
    requested = _attendee_items(call.body.get("Attendees"), limit=_MAX_CREATE_WITH_MEETING)
    meeting, _ = _new_meeting(call, store)
    # A retried create (same token) finds its attendees by ExternalUserId: nothing doubles.
    attendees, errors = _add_attendees(store, meeting, requested)
    return 200, {"Meeting": meeting.to_api(), "Attendees": attendees, "Errors": errors}


def _get_meeting(call: Call, store: Store) -> Result:
    return 200, {"Meeting": _meeting(call, store).to_api()}


def _delete_meeting(call: Call, store: Store) -> Result:
    store.remove_meeting(_meeting(call, store).meeting_id, reason="DeleteMeeting")
    return 204, None


# --- attendees ------------------------------------------------------------------------------


def _attendee_items(value: object, *, limit: int) -> list[tuple[str, object]]:
    """`(ExternalUserId, Capabilities or None)` per item of an `Attendees` list."""
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise ServiceError.bad_request(f"Attendees must list 1 to {limit} attendees.")
    items: list[tuple[str, object]] = []
    for item in value:
        if not isinstance(item, dict):
            raise ServiceError.bad_request("Each Attendees item must be an object.")
        user = check_string(
            item.get("ExternalUserId"), name="ExternalUserId", min_len=2, max_len=64
        )
        items.append((user, item.get("Capabilities")))
    return items


def _add_attendee(store: Store, meeting: Meeting, user: str, raw: object) -> Attendee:
    """The attendee of `user` (ExternalUserId): the existing one, or a new one."""
    # ExternalUserId is "an idempotency token" (CreateAttendeeRequest, API reference),
    # compared case-insensitively like its reserved aws: prefix.
    existing = meeting.attendee_of_user(user)
    if existing is not None:
        return existing
    capabilities = (
        default_capabilities(meeting.features)
        if raw is None
        else parse_capabilities(raw, features=meeting.features)
    )
    if len(meeting.attendees) >= meeting.max_attendees:
        raise ServiceError(
            "LimitExceededException",
            f"The meeting {meeting.meeting_id} already has the maximum of "
            f"{meeting.max_attendees} attendees.",
        )
    return store.add_attendee(meeting, external_user_id=user, capabilities=capabilities)


def _add_attendees(
    store: Store, meeting: Meeting, items: list[tuple[str, object]]
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Create each attendee that can be; the others are `Errors` (`CreateAttendeeError`)."""
    attendees: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for user, raw in items:
        try:
            attendees.append(_add_attendee(store, meeting, user, raw).to_api())
        except ServiceError as error:
            errors.append(
                {
                    "ExternalUserId": user,
                    "ErrorCode": error.body_code,
                    "ErrorMessage": error.message,
                }
            )
    return attendees, errors


def _create_attendee(call: Call, store: Store) -> Result:
    meeting = _meeting(call, store)
    user = check_string(
        call.body.get("ExternalUserId"), name="ExternalUserId", min_len=2, max_len=64
    )
    attendee = _add_attendee(store, meeting, user, call.body.get("Capabilities"))
    return 200, {"Attendee": attendee.to_api()}


def _batch_create_attendee(call: Call, store: Store) -> Result:
    meeting = _meeting(call, store)
    items = _attendee_items(call.body.get("Attendees"), limit=_MAX_BATCH_CREATE)
    attendees, errors = _add_attendees(store, meeting, items)
    return 200, {"Attendees": attendees, "Errors": errors}


def _get_attendee(call: Call, store: Store) -> Result:
    meeting = _meeting(call, store)
    return 200, {"Attendee": _attendee(call, meeting).to_api()}


def _delete_attendee(call: Call, store: Store) -> Result:
    meeting = _meeting(call, store)
    attendee_id = _attendee(call, meeting).attendee_id
    store.remove_attendee(meeting.meeting_id, attendee_id, reason="DeleteAttendee")
    return 204, None


def _page_token(meeting_id: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{meeting_id}/{seq}".encode()).decode()


def _after_seq(token: str | None, meeting_id: str) -> int:
    if token is None:
        return 0
    try:
        owner, _, seq = base64.urlsafe_b64decode(token.encode()).decode().partition("/")
        if owner == meeting_id:
            return int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ServiceError.bad_request("The next-token is not valid for this meeting.")


def _list_attendees(call: Call, store: Store) -> Result:
    meeting = _meeting(call, store)
    page_size = parse_max_results(call.query.get("max-results"), default=DEFAULT_PAGE_SIZE)
    after = _after_seq(call.query.get("next-token"), meeting.meeting_id)
    # Attendees are kept in creation order, so seq increases along the dict.
    remaining = [a for a in meeting.attendees.values() if a.seq > after]
    page = remaining[:page_size]
    body: dict[str, Any] = {"Attendees": [a.to_api() for a in page]}
    if len(remaining) > page_size:
        body["NextToken"] = _page_token(meeting.meeting_id, page[-1].seq)
    return 200, body


# --- capability writes ----------------------------------------------------------------------


@dataclass(slots=True)
class PendingWrite:
    """A validated capability write, not yet applied."""

    meeting: Meeting
    targets: list[Attendee]
    capabilities: dict[str, str]
    single: bool

    def churn(self, store: Store, choose: Callable[[list[str]], str]) -> None:
        """An attendee leaves just before the write (a single update then fails with 404)."""
        ids = [a.attendee_id for a in self.targets]
        if not ids:
            return
        leaving = choose(ids)
        store.remove_attendee(self.meeting.meeting_id, leaving, reason="churn")
        self.targets = [a for a in self.targets if a.attendee_id != leaving]
        if self.single:
            raise ServiceError.not_found(
                f"The attendee {leaving} does not exist in meeting {self.meeting.meeting_id}."
            )

    def apply(self, store: Store) -> Result:
        for attendee in self.targets:
            store.write(self.meeting, attendee, self.capabilities)
        if self.single:
            return 200, {"Attendee": self.targets[0].to_api(join_token=False)}
        return 200, None

    @property
    def changes_state(self) -> bool:
        return bool(self.targets)


def prepare_write(call: Call, store: Store) -> PendingWrite:
    """Validate one of the two capability writes; nothing is changed yet."""
    meeting = _meeting(call, store)
    if call.route.operation == ops.UPDATE_ATTENDEE_CAPABILITIES:
        attendee = _attendee(call, meeting)
        capabilities = parse_capabilities(call.body.get("Capabilities"), features=meeting.features)
        return PendingWrite(
            meeting=meeting, targets=[attendee], capabilities=capabilities, single=True
        )
    excluded = parse_excluded_ids(call.body.get("ExcludedAttendeeIds"))
    capabilities = parse_capabilities(call.body.get("Capabilities"), features=meeting.features)
    targets = [a for a in meeting.attendees.values() if a.attendee_id not in excluded]
    return PendingWrite(meeting=meeting, targets=targets, capabilities=capabilities, single=False)


# --- transcription and tags -----------------------------------------------------------------


def _start_transcription(call: Call, store: Store) -> Result:
    meeting = _meeting(call, store)
    if not isinstance(call.body.get("TranscriptionConfiguration"), dict):
        raise ServiceError.bad_request("TranscriptionConfiguration is required.")
    meeting.transcribing = True
    return 200, None


def _stop_transcription(call: Call, store: Store) -> Result:
    _meeting(call, store).transcribing = False
    return 200, None


def _tags(value: object) -> dict[str, str]:
    if not isinstance(value, list):
        raise ServiceError.bad_request("Tags must be a list.")
    tags: dict[str, str] = {}
    for tag in value:
        if not isinstance(tag, dict):
            raise ServiceError.bad_request("Each tag must be an object with Key and Value.")
        key = check_string(tag.get("Key"), name="Tag Key", min_len=1, max_len=128)
        tags[key] = check_string(tag.get("Value"), name="Tag Value", min_len=0, max_len=256)
    return tags


def _tagged(arn: object, call: Call, store: Store) -> Meeting:
    for meeting in store.meetings.values():
        if meeting.arn == arn and meeting.control_region == call.region:
            return meeting
    raise ServiceError("ResourceNotFoundException", f"The resource {arn!r} does not exist.")


def _list_tags(call: Call, store: Store) -> Result:
    meeting = _tagged(call.query.get("arn"), call, store)
    return 200, {"Tags": [{"Key": k, "Value": v} for k, v in meeting.tags.items()]}


def _tag_resource(call: Call, store: Store) -> Result:
    meeting = _tagged(call.body.get("ResourceARN"), call, store)
    tags = {**meeting.tags, **_tags(call.body.get("Tags"))}
    if len(tags) > _MAX_TAGS:
        raise ServiceError("TooManyTagsException", f"A resource has at most {_MAX_TAGS} tags.")
    meeting.tags = tags
    return 204, None


def _untag_resource(call: Call, store: Store) -> Result:
    meeting = _tagged(call.body.get("ResourceARN"), call, store)
    keys = call.body.get("TagKeys")
    if not isinstance(keys, list) or not keys:
        raise ServiceError.bad_request("TagKeys must list at least one key.")
    for key in keys:
        meeting.tags.pop(key, None)
    return 204, None


#: The handler of every operation but the two capability writes.
HANDLERS: Final[Mapping[str, Callable[[Call, Store], Result]]] = {
    ops.CREATE_MEETING: _create_meeting,
    ops.CREATE_MEETING_WITH_ATTENDEES: _create_meeting_with_attendees,
    ops.GET_MEETING: _get_meeting,
    ops.DELETE_MEETING: _delete_meeting,
    ops.CREATE_ATTENDEE: _create_attendee,
    ops.BATCH_CREATE_ATTENDEE: _batch_create_attendee,
    ops.GET_ATTENDEE: _get_attendee,
    ops.DELETE_ATTENDEE: _delete_attendee,
    ops.LIST_ATTENDEES: _list_attendees,
    ops.START_TRANSCRIPTION: _start_transcription,
    ops.STOP_TRANSCRIPTION: _stop_transcription,
    ops.LIST_TAGS: _list_tags,
    ops.TAG_RESOURCE: _tag_resource,
    ops.UNTAG_RESOURCE: _untag_resource,
}
