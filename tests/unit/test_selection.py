"""mute/unmute arithmetic: only the sending half of the chosen media changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chime_bulk import Capabilities, Media, Status, Update
from chime_bulk.listing import AttendeeState
from chime_bulk.selection import MediaSelection, sending_changes

MEETING = "11111111-1111-1111-1111-111111111111"
capabilities = st.builds(Capabilities, *(st.sampled_from(list(Media)) for _ in range(3)))


@given(capabilities)
def test_mute_takes_away_sending_and_keeps_receiving(current: Capabilities) -> None:
    """After muting video, video cannot send and receives exactly as before; the rest is
    untouched."""
    muted = MediaSelection(video=True).apply(current, allow_send=False)
    assert not muted.video.can_send
    assert muted.video.can_receive == current.video.can_receive
    assert (muted.audio, muted.content) == (current.audio, current.content)


@given(capabilities)
def test_unmute_after_mute_restores_what_could_send(current: Capabilities) -> None:
    """Muting then unmuting all media gives every medium sending, receiving unchanged."""
    media = MediaSelection(audio=True, video=True, content=True)
    back = media.apply(media.apply(current, allow_send=False), allow_send=True)
    for before, after in zip(
        (current.audio, current.video, current.content),
        (back.audio, back.video, back.content),
        strict=True,
    ):
        assert after.can_send
        assert after.can_receive == before.can_receive


def test_selection_needs_a_medium() -> None:
    """Selecting nothing is refused."""
    with pytest.raises(ValueError, match="at least one"):
        MediaSelection()


def test_each_attendee_becomes_one_item() -> None:
    """Excluded, unknown and already-muted attendees are decided; the rest become updates."""
    on = Capabilities("SendReceive", "SendReceive", "SendReceive")
    off = Capabilities("SendReceive", "Receive", "SendReceive")
    ids = [f"{n}0000000-0000-0000-0000-000000000000" for n in range(4)]
    attendees = [
        AttendeeState(ids[0], on),
        AttendeeState(ids[1], None),
        AttendeeState(ids[2], off),
        AttendeeState(ids[3], on),
    ]
    items = sending_changes(
        MEETING,
        attendees,
        media=MediaSelection(video=True),
        allow_send=False,
        excluded={ids[0]},
    )
    assert [getattr(item, "status", None) for item in items] == [
        Status.EXCLUDED,
        Status.INVALID,
        Status.UNCHANGED,
        None,
    ]
    assert items[3] == Update(meeting_id=MEETING, attendee_id=ids[3], capabilities=off, previous=on)
