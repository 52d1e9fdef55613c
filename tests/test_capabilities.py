"""The capability model: Media directions, the Capabilities triple and the service's rules."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chime_bulk._model.capabilities import Capabilities, Media, MeetingFeatures, capability_problems
from chime_bulk._model.update import Update

MEDIA_VALUES = [media.value for media in Media]
ALL_CAPABILITIES = [Capabilities(*triple) for triple in itertools.product(Media, repeat=3)]
# A meeting's MaxResolution: unknown (None), turned off ("None") or some resolution.
VIDEO_RESOLUTIONS = [None, "None", "HD", "FHD"]
CONTENT_RESOLUTIONS = [None, "None", "FHD", "UHD"]
ALL_FEATURES: list[MeetingFeatures | None] = [
    None,
    *(
        MeetingFeatures(video_max_resolution=video, content_max_resolution=content)
        for video, content in itertools.product(VIDEO_RESOLUTIONS, CONTENT_RESOLUTIONS)
    ),
]

not_a_capability = st.text().filter(lambda text: text not in MEDIA_VALUES)


def expected_violations(capabilities: Capabilities, features: MeetingFeatures | None) -> int:
    """The rules of the UpdateAttendeeCapabilities docs, written out independently."""
    receives = {"SendReceive", "Receive"}
    violations = 0
    if capabilities.content.value in receives and capabilities.video.value not in receives:
        violations += 1
    if features is not None:
        if features.video_max_resolution == "None" and capabilities.video.value != "None":
            violations += 1
        if features.content_max_resolution == "None" and capabilities.content.value != "None":
            violations += 1
    return violations


def test_capability_problems_match_the_documented_rules_for_every_combination() -> None:
    """Every one of the 64 triples under every meeting feature gets one problem per broken rule."""
    mismatches = [
        (str(capabilities), features, problems)
        for capabilities in ALL_CAPABILITIES
        for features in ALL_FEATURES
        if len(problems := capability_problems(capabilities, features=features))
        != expected_violations(capabilities, features)
    ]
    assert len(ALL_CAPABILITIES) * len(ALL_FEATURES) == 64 * 17
    assert mismatches == []


@given(st.sampled_from(ALL_CAPABILITIES), st.sampled_from(ALL_FEATURES))
def test_each_problem_names_the_value_it_objects_to(
    capabilities: Capabilities, features: MeetingFeatures | None
) -> None:
    """A problem message quotes the offending Video or Content value so a user can fix it."""
    for problem in capability_problems(capabilities, features=features):
        assert capabilities.video.value in problem or capabilities.content.value in problem


def test_exactly_the_content_without_video_triples_are_rejected_without_features() -> None:
    """With no meeting features, the only rejected triples receive content but not video."""
    rejected = {str(c) for c in ALL_CAPABILITIES if capability_problems(c)}
    assert len(rejected) == 4 * 2 * 2  # 4 audios, 2 receiving contents, 2 non-receiving videos
    assert "audio=None video=Send content=Receive" in rejected
    assert "audio=None video=Receive content=SendReceive" not in rejected


@pytest.mark.parametrize(
    ("media", "can_send", "can_receive"),
    [
        pytest.param(Media.SEND_RECEIVE, True, True, id="SendReceive"),
        pytest.param(Media.SEND, True, False, id="Send"),
        pytest.param(Media.RECEIVE, False, True, id="Receive"),
        pytest.param(Media.NONE, False, False, id="None"),
    ],
)
def test_media_directions(media: Media, can_send: bool, can_receive: bool) -> None:
    """`can_send` and `can_receive` read the value's two directions."""
    assert (media.can_send, media.can_receive) == (can_send, can_receive)


@given(st.sampled_from(Media))
def test_without_send_removes_sending_and_keeps_receiving(media: Media) -> None:
    """Muting takes sending away, keeps receiving as it was, and is idempotent."""
    muted = media.without_send()
    assert not muted.can_send
    assert muted.can_receive == media.can_receive
    assert muted.without_send() is muted


@given(st.sampled_from(Media))
def test_with_send_allows_sending_and_keeps_receiving(media: Media) -> None:
    """Unmuting allows sending, keeps receiving as it was, and undoes a mute."""
    unmuted = media.with_send()
    assert unmuted.can_send
    assert unmuted.can_receive == media.can_receive
    assert media.without_send().with_send() is unmuted


def test_mute_and_unmute_spelled_out() -> None:
    """The four direction changes land on the expected API values."""
    assert Media.SEND_RECEIVE.without_send() is Media.RECEIVE
    assert Media.SEND.without_send() is Media.NONE
    assert Media.RECEIVE.with_send() is Media.SEND_RECEIVE
    assert Media.NONE.with_send() is Media.SEND


@given(st.sampled_from(ALL_CAPABILITIES))
def test_to_api_and_from_api_round_trip(capabilities: Capabilities) -> None:
    """`from_api(to_api())` gives back an equal triple, with the API's keys and strings."""
    api = capabilities.to_api()
    assert list(api) == ["Audio", "Video", "Content"]
    assert all(isinstance(value, str) and value in MEDIA_VALUES for value in api.values())
    assert Capabilities.from_api(api) == capabilities


@given(st.tuples(*[st.sampled_from(Media)] * 3))
def test_strings_and_members_make_equal_hashable_capabilities(triple: tuple[Media, ...]) -> None:
    """`Capabilities` built from API strings equals, and hashes like, one built from members."""
    from_members = Capabilities(*triple)
    from_strings = Capabilities(*(media.value for media in triple))
    assert from_members == from_strings
    assert hash(from_members) == hash(from_strings)
    assert {from_members, from_strings} == {from_members}


@given(not_a_capability, st.integers(min_value=0, max_value=2))
def test_a_value_that_is_not_a_capability_raises_value_error(bad: str, position: int) -> None:
    """Only a value outside SendReceive|Send|Receive|None raises, and the message lists those."""
    values = ["None", "None", "None"]
    values[position] = bad
    with pytest.raises(
        ValueError, match=re.escape("(expected SendReceive | Send | Receive | None)")
    ):
        Capabilities(*values)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        pytest.param({"Audio": "None", "Video": "None"}, "missing.*Content", id="missing"),
        pytest.param(
            {"Audio": "None", "Video": "None", "Content": "None", "Vidoe": "None"},
            "unknown.*Vidoe",
            id="unknown",
        ),
        pytest.param({"Audio": "None", "Video": "none", "Content": "None"}, "'none'", id="value"),
    ],
)
def test_from_api_names_what_is_wrong(data: dict[str, str], match: str) -> None:
    """`from_api` raises ValueError naming the missing key, unknown key or bad value."""
    with pytest.raises(ValueError, match=match):
        Capabilities.from_api(data)


@given(st.text(), st.text(), st.sampled_from(ALL_CAPABILITIES), st.none() | st.text())
def test_update_never_checks_ids(
    meeting_id: str, attendee_id: str, capabilities: Capabilities, region: str | None
) -> None:
    """Any strings make an `Update`: bad IDs are the engine's to report as invalid."""
    update = Update(
        meeting_id=meeting_id, attendee_id=attendee_id, capabilities=capabilities, region=region
    )
    assert update.key == (meeting_id, attendee_id)
    assert update.capabilities is capabilities


def test_update_is_keyword_only() -> None:
    """`Update` takes its fields by name only, so a swapped meeting and attendee cannot pass."""
    capabilities = Capabilities("None", "None", "None")
    with pytest.raises(TypeError):
        Update("m", "a", capabilities)  # type: ignore[call-arg]


def test_capabilities_and_update_are_frozen() -> None:
    """Neither value object can be changed after construction."""
    capabilities = Capabilities("None", "None", "None")
    update = Update(meeting_id="m", attendee_id="a", capabilities=capabilities)
    with pytest.raises(dataclasses.FrozenInstanceError):
        capabilities.audio = Media.SEND  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        update.meeting_id = "other"  # type: ignore[misc]
