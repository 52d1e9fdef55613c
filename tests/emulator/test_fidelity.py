"""As strict as AWS: each case names the model trait or the documented rule it follows.

`model-…` ids follow botocore's `chime-sdk-meetings` 2021-07-15 service model; `doc-…` ids the
API reference text of that shape or member (carried in the model's `documentation`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import anyio
import pytest

from chime_bulk.emulator import Emulator

pytestmark = pytest.mark.anyio

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
MUTED = {"Audio": "Receive", "Video": "Receive", "Content": "None"}
SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=A/20250101/us-east-1/chime/aws4_request"}


def _send_body_instead(api: Any, body: dict[str, Any]) -> None:
    """Make the client's next request carry `body`, which its serializer would refuse to
    build (the signature then covers it, as a hand-rolled client's would)."""

    def replace(request: Any, **_: Any) -> None:
        request.data = json.dumps(body).encode()
        api.client.meta.events.unregister("before-sign.chime-sdk-meetings", replace)

    api.client.meta.events.register_first("before-sign.chime-sdk-meetings", replace)


def _code(caught: pytest.ExceptionInfo[Any]) -> tuple[int, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


async def test_create_attendee_is_idempotent_on_external_user_id(
    api: Any, emulator: Emulator
) -> None:
    """doc-CreateAttendeeRequest.ExternalUserId ("an idempotency token"): the same ID in any
    case returns the existing attendee."""
    meeting_id = emulator.create_meeting()
    first = await api("create_attendee", MeetingId=meeting_id, ExternalUserId="Alice@Example")
    again = await api("create_attendee", MeetingId=meeting_id, ExternalUserId="alice@example")
    assert again["Attendee"]["AttendeeId"] == first["Attendee"]["AttendeeId"]
    assert again["Attendee"]["JoinToken"] == first["Attendee"]["JoinToken"]
    assert emulator.meetings[meeting_id] == [first["Attendee"]["AttendeeId"]]


async def test_batch_create_attendee_is_idempotent_on_external_user_id(
    api: Any, emulator: Emulator
) -> None:
    """doc-CreateAttendeeRequestItem.ExternalUserId: a batch naming an existing user (or one
    user twice) creates one attendee for it."""
    meeting_id = emulator.create_meeting()
    existing = emulator.add_attendee(meeting_id, external_user_id="bob")
    result = await api(
        "batch_create_attendee",
        MeetingId=meeting_id,
        Attendees=[
            {"ExternalUserId": "BOB"},
            {"ExternalUserId": "carol"},
            {"ExternalUserId": "Carol"},
        ],
    )
    ids = [a["AttendeeId"] for a in result["Attendees"]]
    assert ids[0] == existing
    assert ids[1] == ids[2]
    assert result["Errors"] == []
    assert len(emulator.meetings[meeting_id]) == 2


async def test_create_meeting_with_attendees_is_idempotent_on_external_user_id(api: Any) -> None:
    """doc-CreateAttendeeRequestItem.ExternalUserId: duplicates within the request are one
    attendee."""
    result = await api(
        "create_meeting_with_attendees",
        MediaRegion="us-east-1",
        ExternalMeetingId="standup",
        Attendees=[{"ExternalUserId": "dana"}, {"ExternalUserId": "DANA"}],
    )
    first, second = (a["AttendeeId"] for a in result["Attendees"])
    assert first == second


@pytest.mark.parametrize("user", ["aws:me", "AWS:me", "Aws:x"])
async def test_aws_prefix_is_reserved(api: Any, emulator: Emulator, user: str) -> None:
    """doc-ExternalUserId ("Values that begin with aws: are reserved", case-insensitive): 400."""
    meeting_id = emulator.create_meeting()
    with pytest.raises(api.exceptions.BadRequestException, match="reserved") as caught:
        await api("create_attendee", MeetingId=meeting_id, ExternalUserId=user)
    assert _code(caught) == (400, "BadRequestException")
    with pytest.raises(api.exceptions.BadRequestException, match="reserved"):
        await api(
            "batch_create_attendee", MeetingId=meeting_id, Attendees=[{"ExternalUserId": user}]
        )
    assert emulator.meetings[meeting_id] == []


async def test_external_user_id_pattern_is_enforced(api: Any, emulator: Emulator) -> None:
    """doc-ExternalUserId pattern (no `<`, `;`, `*`…): a ValidationException that does not echo
    the sensitive value."""
    meeting_id = emulator.create_meeting()
    with pytest.raises(api.exceptions.ClientError, match="regular expression") as caught:
        await api("create_attendee", MeetingId=meeting_id, ExternalUserId="<script>")
    assert _code(caught) == (400, "ValidationException")
    assert "<script>" not in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("operation", "params", "path"),
    [
        pytest.param(
            "update_attendee_capabilities",
            {"MeetingId": UNKNOWN_ID, "AttendeeId": "bad", "Capabilities": MUTED},
            "attendeeId",
            id="model-GuidString-AttendeeId",
        ),
        pytest.param(
            "list_attendees",
            {"MeetingId": UNKNOWN_ID, "MaxResults": 500},
            "maxResults",
            id="model-ResultMax-1..100",
        ),
        pytest.param(
            "batch_update_attendee_capabilities_except",
            {"MeetingId": UNKNOWN_ID, "ExcludedAttendeeIds": [], "Capabilities": MUTED},
            "excludedAttendeeIds",
            id="model-AttendeeIdsList-1..250",
        ),
        pytest.param(
            "create_attendee",
            {"MeetingId": UNKNOWN_ID, "ExternalUserId": "x"},
            "externalUserId",
            id="model-ExternalUserId-min-2",
        ),
        pytest.param(
            "create_attendee",
            {"MeetingId": UNKNOWN_ID, "ExternalUserId": "eve", "Capabilities": {"Audio": "Loud"}},
            "capabilities.video",
            id="model-required-AttendeeCapabilities.Video",
        ),
        pytest.param(
            "batch_create_attendee",
            {
                "MeetingId": UNKNOWN_ID,
                "Attendees": [{"ExternalUserId": f"u{i}"} for i in range(101)],
            },
            "attendees",
            id="model-CreateAttendeeRequestItemList-max-100",
        ),
    ],
)
async def test_model_constraints_are_checked_before_lookup(
    api: Any, operation: str, params: dict[str, Any], path: str
) -> None:
    """model traits: a request breaking them is 400 ValidationException even for a meeting
    that does not exist (validation precedes the 404)."""
    with pytest.raises(api.exceptions.ClientError, match=path) as caught:
        await api(operation, **params)
    assert _code(caught) == (400, "ValidationException")
    assert "validation error" in caught.value.response["Error"]["Message"]


async def test_several_violations_are_reported_together(api: Any) -> None:
    """model traits: every violated constraint is listed, counted, in one message."""
    with pytest.raises(api.exceptions.ClientError) as caught:
        await api(
            "update_attendee_capabilities",
            MeetingId="m",
            AttendeeId="a",
            Capabilities={"Audio": "Loud", "Video": "None", "Content": "None"},
        )
    message = caught.value.response["Error"]["Message"]
    assert message.startswith("3 validation errors detected: ")
    assert "'meetingId'" in message
    assert "'attendeeId'" in message
    assert "'capabilities.audio'" in message


async def test_batch_create_reports_a_full_meeting_per_item(api: Any, emulator: Emulator) -> None:
    """model BatchCreateAttendeeResponse.Errors (CreateAttendeeError): attendees that do not fit
    are listed with ExternalUserId, ErrorCode, ErrorMessage; the others are created."""
    meeting_id = emulator.create_meeting(features={"Attendee": {"MaxCount": 2}})
    emulator.add_attendee(meeting_id)
    users = [{"ExternalUserId": "a1"}, {"ExternalUserId": "a2"}, {"ExternalUserId": "a3"}]
    result = await api("batch_create_attendee", MeetingId=meeting_id, Attendees=users)
    assert [a["ExternalUserId"] for a in result["Attendees"]] == ["a1"]
    assert [(e["ExternalUserId"], e["ErrorCode"]) for e in result["Errors"]] == [
        ("a2", "ResourceLimitExceeded"),
        ("a3", "ResourceLimitExceeded"),
    ]
    assert all("maximum of 2" in e["ErrorMessage"] for e in result["Errors"])
    assert len(emulator.meetings[meeting_id]) == 2


async def test_create_meeting_with_attendees_reports_per_item_errors(api: Any) -> None:
    """model CreateMeetingWithAttendeesResponse.Errors: an attendee whose capabilities the new
    meeting forbids is an error item; the meeting and the other attendees are created."""
    result = await api(
        "create_meeting_with_attendees",
        MediaRegion="us-east-1",
        ExternalMeetingId="audio-only",
        MeetingFeatures={"Video": {"MaxResolution": "None"}, "Content": {"MaxResolution": "None"}},
        Attendees=[
            {"ExternalUserId": "ok"},
            {
                "ExternalUserId": "wants-video",
                "Capabilities": {"Audio": "SendReceive", "Video": "Send", "Content": "None"},
            },
        ],
    )
    assert [a["ExternalUserId"] for a in result["Attendees"]] == ["ok"]
    ((error),) = result["Errors"]
    assert (error["ExternalUserId"], error["ErrorCode"]) == ("wants-video", "BadRequest")
    assert result["Meeting"]["MeetingId"]


async def test_unknown_capabilities_member_is_rejected(api: Any, emulator: Emulator) -> None:
    """model AttendeeCapabilities has only Audio, Video, Content: another member is a 400."""
    ((meeting_id, (attendee_id,)),) = emulator.seed(meetings=1, attendees=1).items()
    _send_body_instead(api, {"Capabilities": {**MUTED, "Screen": "None"}})
    with pytest.raises(api.exceptions.BadRequestException, match="Screen") as caught:
        await api(
            "update_attendee_capabilities",
            MeetingId=meeting_id,
            AttendeeId=attendee_id,
            Capabilities=MUTED,
        )
    assert _code(caught) == (400, "BadRequestException")
    assert emulator.write_count(meeting_id, attendee_id) == 0


@pytest.mark.parametrize(
    ("operation", "params", "body", "expected"),
    [
        pytest.param(
            "create_attendee",
            {"MeetingId": UNKNOWN_ID, "ExternalUserId": "ab"},
            {"ExternalUserId": ["a", "b"]},
            "'externalUserId' must be a string",
            id="model-type-list-for-string",
        ),
        pytest.param(
            "update_attendee_capabilities",
            {"MeetingId": UNKNOWN_ID, "AttendeeId": UNKNOWN_ID, "Capabilities": MUTED},
            {"Capabilities": "None"},
            "'capabilities' must be an object",
            id="model-type-string-for-structure",
        ),
        pytest.param(
            "batch_create_attendee",
            {"MeetingId": UNKNOWN_ID, "Attendees": [{"ExternalUserId": "xy"}]},
            {"Attendees": {"ExternalUserId": "x"}},
            "'attendees' must be a list",
            id="model-type-object-for-list",
        ),
        pytest.param(
            "create_meeting",
            {"MediaRegion": "us-east-1", "ExternalMeetingId": "xy"},
            {
                "ClientRequestToken": "token-1",
                "MediaRegion": "us-east-1",
                "ExternalMeetingId": "xy",
                "MeetingFeatures": {"Attendee": {"MaxCount": True}},
            },
            "'meetingFeatures.attendee.maxCount' must be an integer",
            id="model-type-boolean-for-integer",
        ),
    ],
)
async def test_wrong_json_types_are_clean_bad_requests(
    api: Any, operation: str, params: dict[str, Any], body: dict[str, Any], expected: str
) -> None:
    """model member types: a wrong JSON type is an AWS-shaped 400 with a request ID."""
    _send_body_instead(api, body)
    with pytest.raises(api.exceptions.BadRequestException, match=expected) as caught:
        await api(operation, **params)
    assert _code(caught) == (400, "BadRequestException")
    assert caught.value.response["ResponseMetadata"]["RequestId"]


def _post(url: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=SIGNED)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(b"{not json", "BadRequest", id="not-json"),
        pytest.param(b"[1, 2]", "BadRequest", id="array-body"),
        pytest.param(b'"text"', "BadRequest", id="string-body"),
        pytest.param(b'{"ExternalUserId": {"nested": 1}}', "BadRequest", id="object-for-string"),
        pytest.param(b"\xff\xfe", "BadRequest", id="not-utf8"),
    ],
)
async def test_malformed_bodies_get_the_aws_error_shape(
    emulator: Emulator, body: bytes, code: str
) -> None:
    """wire: a malformed body is a JSON 400 with x-amzn-RequestId, x-amzn-ErrorType and the
    body `{Code, Message, RequestId}` — never a traceback."""
    url = f"{emulator.endpoint_url}/meetings/{UNKNOWN_ID}/attendees"
    status, headers, raw = await anyio.to_thread.run_sync(_post, url, body)
    document = json.loads(raw)
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "BadRequestException"
    assert document["Code"] == code
    assert document["RequestId"] == headers["x-amzn-RequestId"]
    assert set(document) == {"Code", "Message", "RequestId"}


@pytest.mark.parametrize(
    ("path", "status", "error_type", "code"),
    [
        pytest.param(f"/meetings/{UNKNOWN_ID}", 404, "NotFoundException", "NotFound", id="404"),
        pytest.param("/meetings/nope", 400, "ValidationException", "ValidationException", id="400"),
    ],
)
async def test_error_type_header_and_body_code(
    emulator: Emulator, path: str, status: int, error_type: str, code: str
) -> None:
    """wire: x-amzn-ErrorType names the model's exception shape (botocore maps it to the class);
    the body Code is the Chime ErrorCode form (botocore `chime` 2018-05-01 `ErrorCode` enum)."""
    request = urllib.request.Request(f"{emulator.endpoint_url}{path}", headers=SIGNED)
    with pytest.raises(urllib.error.HTTPError) as caught:
        await anyio.to_thread.run_sync(lambda: urllib.request.urlopen(request, timeout=5))
    assert caught.value.code == status
    assert caught.value.headers["x-amzn-ErrorType"] == error_type
    assert json.loads(caught.value.read())["Code"] == code
