"""Every operation, through real boto3 and aiobotocore clients, against the running emulator."""

from __future__ import annotations

from typing import Any

import pytest

from chime_bulk.emulator import Emulator

pytestmark = pytest.mark.anyio

MUTED = {"Audio": "Receive", "Video": "Receive", "Content": "None"}
ALL = {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}


async def _create_meeting(api: Any, **extra: Any) -> dict[str, Any]:
    # botocore fills in ClientRequestToken (an idempotency token) unless given.
    response = await api(
        "create_meeting",
        MediaRegion="us-east-1",
        ExternalMeetingId="standup",
        **extra,
    )
    meeting: dict[str, Any] = response["Meeting"]
    return meeting


async def test_create_get_delete_meeting(api: Any, emulator: Emulator) -> None:
    """A created meeting is returned by GetMeeting with its features, and gone once deleted."""
    features = {"Video": {"MaxResolution": "None"}, "Content": {"MaxResolution": "FHD"}}
    meeting = await _create_meeting(api, MeetingFeatures=features, MeetingHostId="host-1")
    got = (await api("get_meeting", MeetingId=meeting["MeetingId"]))["Meeting"]
    assert got == meeting
    assert got["MeetingFeatures"] == features
    assert got["MediaRegion"] == "us-east-1"
    assert got["ExternalMeetingId"] == "standup"
    assert got["MeetingHostId"] == "host-1"
    assert got["MediaPlacement"]["SignalingUrl"].startswith("wss://")
    assert got["MeetingArn"].endswith(f":meeting/{meeting['MeetingId']}")
    assert meeting["MeetingId"] in emulator.meetings
    deleted = await api("delete_meeting", MeetingId=meeting["MeetingId"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(api.exceptions.NotFoundException):
        await api("get_meeting", MeetingId=meeting["MeetingId"])


async def test_create_meeting_is_idempotent_per_client_token(api: Any) -> None:
    """The same ClientRequestToken returns the same meeting instead of a second one."""
    first = await _create_meeting(api, ClientRequestToken="same-token")
    again = await _create_meeting(api, ClientRequestToken="same-token")
    other = await _create_meeting(api, ClientRequestToken="other-token")
    assert first["MeetingId"] == again["MeetingId"] != other["MeetingId"]


async def test_create_meeting_with_attendees(api: Any, emulator: Emulator) -> None:
    """CreateMeetingWithAttendees returns the meeting and each attendee with a JoinToken."""
    response = await api(
        "create_meeting_with_attendees",
        ClientRequestToken="with-attendees",
        MediaRegion="us-east-1",
        ExternalMeetingId="all-hands",
        Attendees=[
            {"ExternalUserId": "alice"},
            {"ExternalUserId": "bob", "Capabilities": MUTED},
        ],
    )
    meeting_id = response["Meeting"]["MeetingId"]
    attendees = response["Attendees"]
    assert [a["ExternalUserId"] for a in attendees] == ["alice", "bob"]
    assert all(len(a["JoinToken"]) >= 32 for a in attendees)
    assert attendees[1]["Capabilities"] == MUTED
    assert response["Errors"] == []
    assert emulator.meetings[meeting_id] == [a["AttendeeId"] for a in attendees]


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        pytest.param(None, ALL, id="no-features"),
        pytest.param(
            {"Video": {"MaxResolution": "None"}},
            {"Audio": "SendReceive", "Video": "Receive", "Content": "SendReceive"},
            id="no-video",
        ),
        pytest.param(
            {"Content": {"MaxResolution": "None"}},
            {"Audio": "SendReceive", "Video": "SendReceive", "Content": "None"},
            id="no-content",
        ),
        pytest.param(
            {"Video": {"MaxResolution": "None"}, "Content": {"MaxResolution": "None"}},
            {"Audio": "SendReceive", "Video": "None", "Content": "None"},
            id="neither",
        ),
    ],
)
async def test_create_attendee_default_capabilities(
    api: Any, features: dict[str, Any] | None, expected: dict[str, str]
) -> None:
    """Without Capabilities an attendee gets the documented defaults for the meeting."""
    extra = {"MeetingFeatures": features} if features else {}
    meeting = await _create_meeting(api, **extra)
    created = await api("create_attendee", MeetingId=meeting["MeetingId"], ExternalUserId="al")
    assert created["Attendee"]["Capabilities"] == expected
    assert created["Attendee"]["JoinToken"]


async def test_batch_create_attendee(api: Any, emulator: Emulator) -> None:
    """BatchCreateAttendee creates every attendee given, in order, with JoinTokens."""
    meeting_id = emulator.create_meeting()
    response = await api(
        "batch_create_attendee",
        MeetingId=meeting_id,
        Attendees=[{"ExternalUserId": f"user-{i}", "Capabilities": MUTED} for i in range(5)],
    )
    ids = [a["AttendeeId"] for a in response["Attendees"]]
    assert emulator.meetings[meeting_id] == ids
    assert all(a["JoinToken"] for a in response["Attendees"])
    assert emulator.capabilities(meeting_id, ids[4]) == MUTED


async def test_get_and_delete_attendee(api: Any, emulator: Emulator) -> None:
    """GetAttendee returns the attendee with its JoinToken; after DeleteAttendee it is 404."""
    ((meeting_id, (attendee_id, other)),) = emulator.seed(meetings=1, attendees=2).items()
    got = (await api("get_attendee", MeetingId=meeting_id, AttendeeId=attendee_id))["Attendee"]
    assert got["AttendeeId"] == attendee_id
    assert got["Capabilities"] == ALL
    assert got["JoinToken"]
    deleted = await api("delete_attendee", MeetingId=meeting_id, AttendeeId=attendee_id)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert emulator.capabilities(meeting_id, attendee_id) is None
    assert emulator.meetings[meeting_id] == [other]
    with pytest.raises(api.exceptions.NotFoundException):
        await api("get_attendee", MeetingId=meeting_id, AttendeeId=attendee_id)


async def test_list_attendees_paginates_250_over_3_pages(api: Any, emulator: Emulator) -> None:
    """250 attendees at max-results 100 come back as pages of 100, 100 and 50, each once."""
    ((meeting_id, expected),) = emulator.seed(meetings=1, attendees=250).items()
    pages: list[list[dict[str, Any]]] = []
    params: dict[str, Any] = {"MeetingId": meeting_id, "MaxResults": 100}
    while True:
        response = await api("list_attendees", **params)
        pages.append(response["Attendees"])
        if "NextToken" not in response:
            break
        params["NextToken"] = response["NextToken"]
    assert [len(page) for page in pages] == [100, 100, 50]
    listed = [a["AttendeeId"] for page in pages for a in page]
    assert listed == expected
    assert all(a["JoinToken"] and a["Capabilities"] == ALL for page in pages for a in page)


async def test_list_attendees_default_page_and_deletion_between_pages(
    api: Any, emulator: Emulator
) -> None:
    """The default page is 10, and deleting a listed attendee does not shift the next page."""
    ((meeting_id, ids),) = emulator.seed(meetings=1, attendees=15).items()
    first = await api("list_attendees", MeetingId=meeting_id)
    assert [a["AttendeeId"] for a in first["Attendees"]] == ids[:10]
    emulator.remove_attendee(meeting_id, ids[3])
    second = await api("list_attendees", MeetingId=meeting_id, NextToken=first["NextToken"])
    assert [a["AttendeeId"] for a in second["Attendees"]] == ids[10:]
    assert "NextToken" not in second


def test_list_attendees_has_no_botocore_paginator(boto_client: Any) -> None:
    """botocore models no paginator for ListAttendees, so callers must follow NextToken."""
    assert not boto_client.can_paginate("list_attendees")


async def test_update_attendee_capabilities(api: Any, emulator: Emulator) -> None:
    """An update is applied, echoed back without JoinToken, counted and logged as a change."""
    ((meeting_id, (attendee_id,)),) = emulator.seed(meetings=1, attendees=1).items()
    response = await api(
        "update_attendee_capabilities",
        MeetingId=meeting_id,
        AttendeeId=attendee_id,
        Capabilities=MUTED,
    )
    assert response["Attendee"]["Capabilities"] == MUTED
    assert "JoinToken" not in response["Attendee"]
    assert emulator.capabilities(meeting_id, attendee_id) == MUTED
    assert emulator.write_count(meeting_id, attendee_id) == 1
    (record,) = [r for r in emulator.requests if r.operation == "UpdateAttendeeCapabilities"]
    assert (record.status, record.state_changed, record.attendee_id) == (200, True, attendee_id)
    assert record.request_id == response["ResponseMetadata"]["RequestId"]


async def test_batch_update_except(api: Any, emulator: Emulator) -> None:
    """Every attendee but the excluded ones gets the capabilities; the excluded are untouched."""
    ((meeting_id, ids),) = emulator.seed(meetings=1, attendees=4).items()
    host = ids[0]
    response = await api(
        "batch_update_attendee_capabilities_except",
        MeetingId=meeting_id,
        ExcludedAttendeeIds=[{"AttendeeId": host}],
        Capabilities=MUTED,
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert emulator.capabilities(meeting_id, host) == ALL
    assert emulator.write_count(meeting_id, host) == 0
    assert [emulator.capabilities(meeting_id, a) for a in ids[1:]] == [MUTED] * 3
    assert [emulator.write_count(meeting_id, a) for a in ids[1:]] == [1, 1, 1]


async def test_transcription_and_tags(api: Any, emulator: Emulator) -> None:
    """Transcription start/stop and tag/untag/list work on an existing meeting."""
    meeting = await _create_meeting(api, Tags=[{"Key": "team", "Value": "blue"}])
    meeting_id, arn = meeting["MeetingId"], meeting["MeetingArn"]
    config = {"EngineTranscribeSettings": {"LanguageCode": "en-US"}}
    await api(
        "start_meeting_transcription", MeetingId=meeting_id, TranscriptionConfiguration=config
    )
    await api("stop_meeting_transcription", MeetingId=meeting_id)
    await api("tag_resource", ResourceARN=arn, Tags=[{"Key": "env", "Value": "test"}])
    await api("untag_resource", ResourceARN=arn, TagKeys=["team"])
    tags = (await api("list_tags_for_resource", ResourceARN=arn))["Tags"]
    assert tags == [{"Key": "env", "Value": "test"}]
    with pytest.raises(api.exceptions.ResourceNotFoundException):
        await api("list_tags_for_resource", ResourceARN=arn + "0")


async def test_every_response_carries_a_request_id(api: Any, emulator: Emulator) -> None:
    """Success and error responses both carry x-amzn-RequestId, matching the request log."""
    ((meeting_id, _),) = emulator.seed(meetings=1, attendees=1).items()
    ok = await api("get_meeting", MeetingId=meeting_id)
    with pytest.raises(api.exceptions.NotFoundException) as caught:
        await api("get_meeting", MeetingId="00000000-0000-4000-8000-000000000000")
    ids = [ok["ResponseMetadata"]["RequestId"], caught.value.response["RequestId"]]
    assert caught.value.response["ResponseMetadata"]["RequestId"] == ids[1]
    assert [r.request_id for r in emulator.requests] == ids
