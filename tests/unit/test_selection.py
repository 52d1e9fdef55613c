"""mute/unmute arithmetic: only the sending half of the chosen media changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chime_bulk import AttendeeResult, Capabilities, Media, MeetingFeatures, Status, Update
from chime_bulk._aws.reads import AttendeeState
from chime_bulk._model.update import BatchExcept
from chime_bulk.state_aware import MIN_BATCH, MediaSelection, batched, sending_changes

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
        AttendeeState(attendee_id=ids[0], capabilities=on),
        AttendeeState(attendee_id=ids[1], capabilities=None),
        AttendeeState(attendee_id=ids[2], capabilities=off),
        AttendeeState(attendee_id=ids[3], capabilities=on),
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


def _updates(count: int, capabilities: Capabilities) -> list[Update]:
    return [
        Update(
            meeting_id=MEETING,
            attendee_id=f"{n:08x}-0000-0000-0000-000000000000",
            capabilities=capabilities,
        )
        for n in range(count)
    ]


MUTED = Capabilities("SendReceive", "Receive", "SendReceive")


def test_batch_leaves_out_everyone_who_is_not_a_member() -> None:
    """The most common change becomes one batch that leaves out every other listed attendee."""
    updates = _updates(5, MUTED)
    odd = Update(
        meeting_id=MEETING,
        attendee_id="ffffffff-0000-0000-0000-000000000000",
        capabilities=Capabilities("Receive", "Receive", "None"),
    )
    host = "eeeeeeee-0000-0000-0000-000000000000"
    listed = [host, odd.attendee_id, *(u.attendee_id for u in updates)]
    items = batched(MEETING, [*updates, odd], listed=listed)
    batch, rest = items[0], items[1:]
    assert isinstance(batch, BatchExcept)
    assert batch.members == tuple(updates)
    assert set(batch.excluded_ids) == {host, odd.attendee_id}
    assert rest == [odd]


def test_batch_of_everyone_sends_one_member_alone() -> None:
    """The service needs someone left out: when all change alike, one goes on its own."""
    updates = _updates(4, MUTED)
    items = batched(MEETING, updates, listed=[u.attendee_id for u in updates])
    batch = items[0]
    assert isinstance(batch, BatchExcept)
    assert len(batch.members) == 3
    assert items[1:] == [updates[-1]]
    assert batch.excluded_ids == (updates[-1].attendee_id,)


def test_small_changes_are_not_batched() -> None:
    """Fewer than MIN_BATCH alike updates stay individual."""
    updates = _updates(MIN_BATCH - 1, MUTED)
    listed = [u.attendee_id for u in updates] + ["eeeeeeee-0000-0000-0000-000000000000"]
    assert batched(MEETING, updates, listed=listed) == updates


def test_batch_always_leaves_out_the_excepted_even_unlisted() -> None:
    """An --except attendee the listing did not see (a host who joins late) is still left
    out of the batch."""
    updates = _updates(4, MUTED)
    late_host = "dddddddd-0000-0000-0000-000000000000"
    items = batched(MEETING, updates, listed=[u.attendee_id for u in updates], excluded={late_host})
    batch = items[0]
    assert isinstance(batch, BatchExcept)
    assert batch.excluded_ids == (late_host,)
    assert batch.members == tuple(updates)


def test_a_change_the_meeting_forbids_is_invalid() -> None:
    """With the meeting's features known, a desired state it would reject is not sent."""
    attendee = AttendeeState(
        attendee_id="aaaaaaaa-0000-0000-0000-000000000000",
        capabilities=Capabilities("SendReceive", "Receive", "SendReceive"),
    )
    (item,) = sending_changes(
        MEETING,
        [attendee],
        media=MediaSelection(audio=True),
        allow_send=False,
        features=MeetingFeatures(video_max_resolution="None"),
    )
    assert isinstance(item, AttendeeResult)
    assert item.status is Status.INVALID
    assert item.desired == Capabilities("Receive", "Receive", "SendReceive")
