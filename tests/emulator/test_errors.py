"""Every error class, as botocore raises it from the emulator's wire format."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import anyio
import pytest

from chime_bulk.emulator import Emulator, Faults, RateLimit

pytestmark = pytest.mark.anyio

MUTED = {"Audio": "Receive", "Video": "Receive", "Content": "None"}
ALL = {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def _one_attendee(emulator: Emulator, **kwargs: Any) -> tuple[str, str]:
    ((meeting_id, (attendee_id,)),) = emulator.seed(meetings=1, attendees=1, **kwargs).items()
    return meeting_id, attendee_id


async def _update(api: Any, meeting_id: str, attendee_id: str, caps: Any = None) -> Any:
    return await api(
        "update_attendee_capabilities",
        MeetingId=meeting_id,
        AttendeeId=attendee_id,
        Capabilities=MUTED if caps is None else caps,
    )


VALIDATION = "ValidationException"
BAD_REQUEST = "BadRequestException"


@pytest.mark.parametrize(
    ("capabilities", "code"),
    [
        pytest.param(
            {"Audio": "Loud", "Video": "None", "Content": "None"},
            VALIDATION,
            id="model-enum-MediaCapabilities",
        ),
        pytest.param(
            {"Audio": "None", "Video": "None"}, VALIDATION, id="model-required-AttendeeCapabilities"
        ),
        pytest.param(
            {"Audio": "None", "Video": "None", "Content": "Receive"},
            BAD_REQUEST,
            id="doc-AttendeeCapabilities-content-needs-video",
        ),
        pytest.param(
            {"Audio": "None", "Video": "Send", "Content": "SendReceive"},
            BAD_REQUEST,
            id="doc-AttendeeCapabilities-video-send",
        ),
    ],
)
async def test_invalid_capabilities_are_bad_requests(
    api: Any, emulator: Emulator, capabilities: Any, code: str
) -> None:
    """Model violations are ValidationException, the documented rules BadRequestException."""
    meeting_id, attendee_id = _one_attendee(emulator)
    with pytest.raises(api.exceptions.ClientError) as caught:
        await _update(api, meeting_id, attendee_id, capabilities)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert emulator.capabilities(meeting_id, attendee_id) == ALL
    assert emulator.write_count(meeting_id, attendee_id) == 0


@pytest.mark.parametrize(
    ("features", "capabilities"),
    [
        pytest.param(
            {"Video": {"MaxResolution": "None"}},
            {"Audio": "SendReceive", "Video": "Receive", "Content": "None"},
            id="video-in-meeting-without-video",
        ),
        pytest.param(
            {"Content": {"MaxResolution": "None"}},
            {"Audio": "SendReceive", "Video": "SendReceive", "Content": "Send"},
            id="content-in-meeting-without-content",
        ),
    ],
)
async def test_meeting_features_restrict_capabilities(
    api: Any, emulator: Emulator, features: dict[str, Any], capabilities: dict[str, str]
) -> None:
    """A meeting created with MaxResolution None rejects that media other than None."""
    meeting_id, attendee_id = _one_attendee(emulator, features=features)
    with pytest.raises(api.exceptions.BadRequestException, match="MaxResolution None"):
        await _update(api, meeting_id, attendee_id, capabilities)
    allowed = {**capabilities, **dict.fromkeys(features, "None")}
    if allowed["Video"] == "None":
        allowed["Content"] = "None"
    await _update(api, meeting_id, attendee_id, allowed)
    assert emulator.capabilities(meeting_id, attendee_id) == allowed


@pytest.mark.parametrize(
    ("meeting", "attendee"),
    [
        pytest.param("not-a-meeting", None, id="meeting-id"),
        pytest.param(None, "12345678-1234-1234-1234-12345678901", id="attendee-id-short"),
        pytest.param(None, "g2345678-1234-1234-1234-123456789012", id="attendee-id-not-hex"),
    ],
)
async def test_malformed_ids_are_bad_requests(
    api: Any, emulator: Emulator, meeting: str | None, attendee: str | None
) -> None:
    """IDs not matching the model's GuidString pattern are 400 ValidationException, not 404."""
    meeting_id, attendee_id = _one_attendee(emulator)
    with pytest.raises(api.exceptions.ClientError, match="regular expression pattern") as caught:
        await _update(api, meeting or meeting_id, attendee or attendee_id)
    assert caught.value.response["Error"]["Code"] == VALIDATION


@pytest.mark.parametrize(
    "excluded",
    [
        pytest.param([], id="empty"),
        pytest.param([{"AttendeeId": UNKNOWN_ID}] * 251, id="251"),
        pytest.param([{"AttendeeId": "host"}], id="malformed-id"),
    ],
)
async def test_batch_update_excluded_ids_are_validated(
    api: Any, emulator: Emulator, excluded: list[dict[str, str]]
) -> None:
    """ExcludedAttendeeIds must hold 1 to 250 valid IDs; otherwise nothing is written."""
    meeting_id, attendee_id = _one_attendee(emulator)
    with pytest.raises(api.exceptions.ClientError, match="excludedAttendeeIds"):
        await api(
            "batch_update_attendee_capabilities_except",
            MeetingId=meeting_id,
            ExcludedAttendeeIds=excluded,
            Capabilities=MUTED,
        )
    assert emulator.write_count(meeting_id, attendee_id) == 0


async def test_batch_update_accepts_250_excluded_ids(api: Any, emulator: Emulator) -> None:
    """Exactly 250 excluded IDs is within the limit."""
    meeting_id, attendee_id = _one_attendee(emulator)
    excluded = [{"AttendeeId": f"00000000-0000-4000-8000-{i:012d}"} for i in range(250)]
    await api(
        "batch_update_attendee_capabilities_except",
        MeetingId=meeting_id,
        ExcludedAttendeeIds=excluded,
        Capabilities=MUTED,
    )
    assert emulator.capabilities(meeting_id, attendee_id) == MUTED


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"MaxResults": 101}, "maxResults", id="model-ResultMax-101"),
        pytest.param({"MaxResults": 0}, "maxResults", id="model-ResultMax-0"),
        pytest.param({"NextToken": "garbage"}, "next-token", id="bad-token"),
    ],
)
async def test_list_attendees_rejects_bad_paging(
    api: Any, emulator: Emulator, params: dict[str, Any], message: str
) -> None:
    """max-results outside 1..100 and an unknown next-token are 400s."""
    meeting_id, _ = _one_attendee(emulator)
    with pytest.raises(api.exceptions.ClientError, match=message):
        await api("list_attendees", MeetingId=meeting_id, **params)


async def test_unknown_meeting_and_attendee_are_not_found(api: Any, emulator: Emulator) -> None:
    """Well-formed IDs that do not exist are 404 NotFoundException."""
    meeting_id, attendee_id = _one_attendee(emulator)
    with pytest.raises(api.exceptions.NotFoundException):
        await _update(api, UNKNOWN_ID, attendee_id)
    with pytest.raises(api.exceptions.NotFoundException) as caught:
        await _update(api, meeting_id, UNKNOWN_ID)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


async def test_meeting_is_not_found_from_another_control_region(
    make_api: Any, emulator: Emulator
) -> None:
    """A meeting is only visible through the Region that created it, as in the service."""
    meeting_id, attendee_id = _one_attendee(emulator)
    async with make_api("aiobotocore", emulator, region="eu-west-1") as api:
        with pytest.raises(api.exceptions.NotFoundException):
            await _update(api, meeting_id, attendee_id)
    assert emulator.write_count(meeting_id, attendee_id) == 0


async def test_attendee_limit_is_limit_exceeded(api: Any, emulator: Emulator) -> None:
    """The 251st attendee of a meeting is refused with LimitExceededException (400)."""
    ((meeting_id, _ids),) = emulator.seed(meetings=1, attendees=250).items()
    with pytest.raises(api.exceptions.LimitExceededException) as caught:
        await api("create_attendee", MeetingId=meeting_id, ExternalUserId="one-too-many")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(emulator.meetings[meeting_id]) == 250


async def test_throttling_exception(make_api: Any, client_kind: str) -> None:
    """An empty bucket is a 429 ThrottlingException that changes nothing."""
    rates = {"*": RateLimit(0, 0), "UpdateAttendeeCapabilities": RateLimit(1, 1)}
    with Emulator(rates=rates) as emu:
        meeting_id, attendee_id = _one_attendee(emu)
        async with make_api(client_kind, emu) as client:
            await _update(client, meeting_id, attendee_id)
            with pytest.raises(client.exceptions.ThrottlingException) as caught:
                await _update(client, meeting_id, attendee_id, ALL)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert emu.capabilities(meeting_id, attendee_id) == MUTED
    assert emu.write_count(meeting_id, attendee_id) == 1
    assert [r.status for r in emu.requests] == [200, 429]
    assert not emu.requests[1].state_changed


async def test_service_unavailable_carries_retry_after(api: Any, emulator: Emulator) -> None:
    """A 503 has Retry-After, which botocore exposes as RetryAfterSeconds == "2"."""
    meeting_id, attendee_id = _one_attendee(emulator)
    emulator.set_faults(Faults(p503=1.0, retry_after_s=2))
    with pytest.raises(api.exceptions.ServiceUnavailableException) as caught:
        await _update(api, meeting_id, attendee_id)
    assert caught.value.response["RetryAfterSeconds"] == "2"
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "2"
    assert emulator.write_count(meeting_id, attendee_id) == 0


async def test_service_failure_before_write_changes_nothing(api: Any, emulator: Emulator) -> None:
    """p500 answers 500 ServiceFailureException without applying the write."""
    meeting_id, attendee_id = _one_attendee(emulator)
    emulator.set_faults(Faults(p500=1.0))
    with pytest.raises(api.exceptions.ServiceFailureException):
        await _update(api, meeting_id, attendee_id)
    assert emulator.capabilities(meeting_id, attendee_id) == ALL
    assert emulator.write_count(meeting_id, attendee_id) == 0


async def test_unauthorized_fault(api: Any, emulator: Emulator) -> None:
    """With the unauthorized fault every request, reads included, is 401."""
    meeting_id, _ = _one_attendee(emulator)
    emulator.set_faults(Faults(unauthorized=True))
    with pytest.raises(api.exceptions.UnauthorizedException) as caught:
        await api("get_meeting", MeetingId=meeting_id)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401


async def test_unsigned_botocore_request_is_forbidden(make_api: Any, emulator: Emulator) -> None:
    """A client that does not sign gets 403, which botocore raises as ForbiddenException."""
    meeting_id, _ = _one_attendee(emulator)
    for kind in ("boto3", "aiobotocore"):
        async with make_api(kind, emulator, unsigned=True) as api:
            with pytest.raises(api.exceptions.ForbiddenException):
                await api("get_meeting", MeetingId=meeting_id)


def _plain_request(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def test_plain_http_without_authorization_is_403(emulator: Emulator) -> None:
    """A plain HTTP request without a SigV4 Authorization header gets the AWS 403 shape."""
    meeting_id, _ = _one_attendee(emulator)
    url = f"{emulator.endpoint_url}/meetings/{meeting_id}"
    status, headers, body = await anyio.to_thread.run_sync(_plain_request, url, {})
    assert status == 403
    assert headers["x-amzn-ErrorType"] == "ForbiddenException"
    document = json.loads(body)
    assert document["Code"] == "Forbidden"
    assert document["RequestId"] == headers["x-amzn-RequestId"]


async def test_any_sigv4_signature_is_accepted(emulator: Emulator) -> None:
    """A request with any SigV4-shaped Authorization header is served."""
    meeting_id, _ = _one_attendee(emulator)
    authorization = (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/chime/aws4_request, "
        "SignedHeaders=host, Signature=0000"
    )
    url = f"{emulator.endpoint_url}/meetings/{meeting_id}"
    status, _, body = await anyio.to_thread.run_sync(
        _plain_request, url, {"Authorization": authorization}
    )
    assert status == 200
    assert json.loads(body)["Meeting"]["MeetingId"] == meeting_id


async def test_unknown_route_is_404_unknown_operation(emulator: Emulator) -> None:
    """A path no operation has is 404 UnknownOperationException."""
    authorization = "AWS4-HMAC-SHA256 Credential=A/20250101/us-east-1/chime/aws4_request, S=x"
    url = f"{emulator.endpoint_url}/nothing/here"
    status, headers, _ = await anyio.to_thread.run_sync(
        _plain_request, url, {"Authorization": authorization}
    )
    assert (status, headers["x-amzn-ErrorType"]) == (404, "UnknownOperationException")
    assert emulator.requests[-1].operation == "Unknown"


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        pytest.param(
            {"MediaRegion": "mars-north-1"},
            BAD_REQUEST,
            "MediaRegion",
            id="doc-MediaRegion-available-values",
        ),
        pytest.param(
            {"MediaRegion": "il-central-1"},
            BAD_REQUEST,
            "MediaRegion",
            id="doc-MediaRegion-not-listed",
        ),
        pytest.param(
            {"ExternalMeetingId": "x"},
            VALIDATION,
            "externalMeetingId",
            id="model-ExternalMeetingId-min-2",
        ),
        pytest.param(
            {"MeetingFeatures": {"Video": {"MaxResolution": "FHD"}}},
            BAD_REQUEST,
            "MaxCount",
            id="doc-VideoFeatures-FHD-needs-MaxCount",
        ),
        pytest.param(
            {"MeetingFeatures": {"Video": {"MaxResolution": "FHD"}, "Attendee": {"MaxCount": 26}}},
            BAD_REQUEST,
            "at most 25",
            id="doc-VideoFeatures-FHD-MaxCount-over-25",
        ),
        pytest.param(
            {
                "MeetingFeatures": {
                    "Content": {"MaxResolution": "UHD"},
                    "Attendee": {"MaxCount": 30},
                }
            },
            BAD_REQUEST,
            "at most 25",
            id="doc-ContentFeatures-UHD-MaxCount-over-25",
        ),
        pytest.param(
            {"MeetingFeatures": {"Content": {"MaxResolution": "4K"}}},
            VALIDATION,
            "maxResolution",
            id="model-enum-ContentResolution",
        ),
        pytest.param(
            {"MeetingFeatures": {"Attendee": {"MaxCount": 251}}},
            VALIDATION,
            "maxCount",
            id="model-AttendeeMax-250",
        ),
        pytest.param(
            {"MeetingFeatures": {"Attendee": {"MaxCount": "25"}}},
            BAD_REQUEST,
            "must be an integer",
            id="model-type-AttendeeMax-integer",
        ),
        pytest.param(
            {"MediaPlacementNetworkType": "Ipv6Only"},
            VALIDATION,
            "enum value set: \\[Ipv4Only, DualStack\\]",
            id="model-enum-MediaPlacementNetworkType",
        ),
        pytest.param(
            {"MeetingHostId": "AWS:host"},
            BAD_REQUEST,
            "reserved",
            id="doc-ExternalUserId-aws-prefix-reserved",
        ),
        pytest.param(
            {"Tags": [{"Key": "k" * 129, "Value": "v"}]},
            VALIDATION,
            "tags.1.member.key",
            id="model-TagKey-max-128",
        ),
    ],
)
async def test_create_meeting_is_validated(
    api: Any, emulator: Emulator, params: dict[str, Any], code: str, message: str
) -> None:
    """CreateMeeting rejects what the service rejects, and creates nothing."""
    request = {"MediaRegion": "us-east-1", "ExternalMeetingId": "standup", **params}
    with pytest.raises(api.exceptions.ClientError, match=message) as caught:
        await api("create_meeting", **request)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert emulator.meetings == {}


async def test_fhd_meeting_of_25_is_accepted(api: Any) -> None:
    """FHD video with Attendee.MaxCount 25 is within the documented limit."""
    features = {"Video": {"MaxResolution": "FHD"}, "Attendee": {"MaxCount": 25}}
    created = await api(
        "create_meeting", MediaRegion="eu-west-2", ExternalMeetingId="hd", MeetingFeatures=features
    )
    assert created["Meeting"]["MeetingFeatures"]["Video"] == {"MaxResolution": "FHD"}


async def test_attendee_max_count_is_enforced(api: Any, emulator: Emulator) -> None:
    """A meeting created with Attendee.MaxCount 2 refuses a third attendee."""
    meeting = await api(
        "create_meeting",
        MediaRegion="us-east-1",
        ExternalMeetingId="small",
        MeetingFeatures={"Attendee": {"MaxCount": 2}},
    )
    meeting_id = meeting["Meeting"]["MeetingId"]
    users = [{"ExternalUserId": "alice"}, {"ExternalUserId": "bob"}]
    await api("batch_create_attendee", MeetingId=meeting_id, Attendees=users)
    with pytest.raises(api.exceptions.LimitExceededException):
        await api("create_attendee", MeetingId=meeting_id, ExternalUserId="carol")
    assert len(emulator.meetings[meeting_id]) == 2
