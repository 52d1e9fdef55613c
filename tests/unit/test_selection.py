"""mute/unmute arithmetic: only the sending half of the chosen media changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chime_bulk import (
    AttendeeResult,
    AttendeeState,
    BatchExcept,
    Capabilities,
    Media,
    MeetingFeatures,
    PlanError,
    Status,
    Update,
)
from chime_bulk.state_aware import (
    CHANGED_SINCE,
    NOT_APPLIED,
    Hosts,
    MediaSelection,
    plan_meeting,
    restore_changes,
    sending_changes,
    verify_batch,
)

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


def _updates(count: int, capabilities: Capabilities, *, start: int = 0) -> list[Update]:
    return [
        Update(
            meeting_id=MEETING,
            attendee_id=f"{n:08x}-0000-0000-0000-000000000000",
            capabilities=capabilities,
        )
        for n in range(start, start + count)
    ]


MUTED = Capabilities("SendReceive", "Receive", "SendReceive")
ODD = Capabilities("Receive", "Receive", "None")
HOST = "eeeeeeee-0000-0000-0000-000000000000"


def test_batch_leaves_out_everyone_who_is_not_a_member() -> None:
    """The largest group of alike changes becomes one batch that leaves out every other listed
    attendee; the odd one goes on its own."""
    updates = _updates(5, MUTED)
    (odd,) = _updates(1, ODD, start=100)
    listed = [HOST, odd.attendee_id, *(u.attendee_id for u in updates)]
    plan = plan_meeting(MEETING, [*updates, odd], listed=listed, strategy="batch-except")
    assert plan.batch is not None
    assert plan.batch.members == tuple(updates)
    assert set(plan.batch.excluded_ids) == {HOST, odd.attendee_id}
    assert plan.batch.listed == tuple(listed)
    assert plan.singles == (odd,)
    assert plan.requests == 2


def test_batch_of_everyone_sends_one_member_alone() -> None:
    """The service needs someone left out: when all change alike, one goes on its own."""
    updates = _updates(4, MUTED)
    plan = plan_meeting(
        MEETING, updates, listed=[u.attendee_id for u in updates], strategy="batch-except"
    )
    assert plan.batch is not None
    assert len(plan.batch.members) == 3
    assert plan.singles == (updates[-1],)
    assert plan.batch.excluded_ids == (updates[-1].attendee_id,)


@pytest.mark.parametrize(
    ("changes", "batched"),
    [
        pytest.param(1, False, id="one-update-costs-less-than-batch-and-verify"),
        pytest.param(2, False, id="two-cost-the-same-as-batch-and-verify"),
        pytest.param(3, True, id="three-cost-more"),
        pytest.param(248, True, id="a-whole-meeting"),
    ],
)
def test_auto_batches_only_when_it_costs_fewer_requests(changes: int, batched: bool) -> None:
    """`auto` takes the batch when 1 call + 1 verifying listing page beats one call each."""
    updates = _updates(changes, MUTED)
    listed = [HOST, *(u.attendee_id for u in updates)]
    plan = plan_meeting(MEETING, updates, listed=listed, hosts={HOST})
    assert (plan.batch is not None) is batched
    assert plan.requests == (1 if batched else changes)


def test_auto_counts_every_verifying_page() -> None:
    """A 250-attendee meeting takes 3 listing pages to verify: 4 alike changes don't pay."""
    updates = _updates(4, MUTED)
    others = [f"{n:08x}-1111-0000-0000-000000000000" for n in range(246)]
    plan = plan_meeting(MEETING, updates, listed=[*others, *(u.attendee_id for u in updates)])
    assert plan.batch is None


def test_per_attendee_never_batches() -> None:
    """`per-attendee` sends one update per change, however many are alike."""
    updates = _updates(50, MUTED)
    plan = plan_meeting(MEETING, updates, listed=[HOST], strategy="per-attendee")
    assert (plan.batch, plan.singles) == (None, tuple(updates))


def test_batch_always_leaves_out_the_hosts_even_unlisted() -> None:
    """A host the listing did not see (who may join late) is still left out of the batch."""
    updates = _updates(4, MUTED)
    late_host = "dddddddd-0000-0000-0000-000000000000"
    plan = plan_meeting(
        MEETING,
        updates,
        listed=[u.attendee_id for u in updates],
        hosts={late_host},
        strategy="batch-except",
    )
    assert plan.batch is not None
    assert plan.batch.excluded_ids == (late_host,)
    assert plan.batch.members == tuple(updates)


def test_more_than_250_left_out_falls_back_to_single_updates() -> None:
    """A batch may leave out at most 250 attendees: past that the group goes one by one."""
    updates = _updates(5, MUTED)
    hosts = {f"{n:08x}-2222-0000-0000-000000000000" for n in range(251)}
    plan = plan_meeting(MEETING, updates, listed=[u.attendee_id for u in updates], hosts=hosts)
    assert plan.batch is None
    assert plan.singles == tuple(updates)


def _state(attendee_id: str, capabilities: Capabilities | None) -> AttendeeState:
    return AttendeeState(attendee_id=attendee_id, capabilities=capabilities)


def test_verification_reports_what_the_service_holds() -> None:
    """After a batch: members with its capabilities succeeded, a member without them failed,
    a member gone not_found, a joiner changed by it succeeded with the default as previous,
    and a joiner it did not change is handed back for planning."""
    members = _updates(3, MUTED)
    on = Capabilities("SendReceive", "SendReceive", "SendReceive")
    members = [
        Update(meeting_id=MEETING, attendee_id=u.attendee_id, capabilities=MUTED, previous=on)
        for u in members
    ]
    batch = BatchExcept(
        meeting_id=MEETING,
        capabilities=MUTED,
        excluded_ids=(HOST,),
        members=tuple(members),
        listed=(HOST, *(m.attendee_id for m in members)),
    )
    joined, late = "abababab-0000-0000-0000-000000000000", "cdcdcdcd-0000-0000-0000-000000000000"
    after = [
        _state(HOST, on),
        _state(members[0].attendee_id, MUTED),
        _state(members[1].attendee_id, on),
        _state(joined, MUTED),
        _state(late, on),
    ]
    verified = verify_batch(batch, after=after, default=on, attempts=1, request_id="r")
    by_id = {r.attendee_id: r for r in verified.results}
    assert by_id[members[0].attendee_id].status is Status.SUCCEEDED
    assert by_id[members[0].attendee_id].previous == on
    assert by_id[members[1].attendee_id].status is Status.FAILED
    assert by_id[members[1].attendee_id].error_code == NOT_APPLIED
    assert by_id[members[2].attendee_id].status is Status.NOT_FOUND
    assert by_id[joined].status is Status.SUCCEEDED
    assert by_id[joined].previous == on
    assert "joined during the run" in (by_id[joined].error_message or "")
    assert HOST not in by_id
    assert [s.attendee_id for s in verified.joined_unchanged] == [late]


def test_restore_changes_decides_from_the_state_now() -> None:
    """Back already: unchanged; gone: not_found; changed by someone else: failed and left
    alone; still as the run left it: an update back to its previous capabilities."""
    on = Capabilities("SendReceive", "SendReceive", "SendReceive")
    ids = [f"{n:08x}-3333-0000-0000-000000000000" for n in range(4)]
    changed = [
        AttendeeResult(
            meeting_id=MEETING, attendee_id=a, status=Status.SUCCEEDED, desired=MUTED, previous=on
        )
        for a in ids
    ]
    current = [_state(ids[0], on), _state(ids[2], ODD), _state(ids[3], MUTED)]
    items = restore_changes(MEETING, changed, current=current)
    assert [getattr(i, "status", None) for i in items] == [
        Status.UNCHANGED,
        Status.NOT_FOUND,
        Status.FAILED,
        None,
    ]
    assert getattr(items[2], "error_code", None) == CHANGED_SINCE
    assert items[3] == Update(
        meeting_id=MEETING, attendee_id=ids[3], capabilities=on, previous=MUTED
    )


def test_hosts_match_attendee_ids_and_external_user_ids_case_insensitively() -> None:
    """A hosts file names attendees by ID or ExternalUserId, everywhere or per meeting."""
    hosts = Hosts.parse(
        ["# hosts", "", "Alice@Example.com", f"{MEETING},bbbbbbbb-0000-0000-0000-000000000000"],
        source="hosts.txt",
    )
    attendees = [
        AttendeeState(
            attendee_id="aaaaaaaa-0000-0000-0000-000000000000",
            capabilities=None,
            external_user_id="alice@example.com",
        ),
        AttendeeState(attendee_id="cccccccc-0000-0000-0000-000000000000", capabilities=None),
    ]
    assert hosts.in_meeting(MEETING, attendees) == {
        "aaaaaaaa-0000-0000-0000-000000000000",
        "bbbbbbbb-0000-0000-0000-000000000000",
    }
    other = "22222222-2222-2222-2222-222222222222"
    assert hosts.in_meeting(other, attendees) == {"aaaaaaaa-0000-0000-0000-000000000000"}
    assert "alice" not in repr(attendees[0]).lower()


def test_a_bad_hosts_file_line_is_named() -> None:
    """A meeting ID before the comma that is not one is an error with its line number."""
    with pytest.raises(PlanError) as raised:
        Hosts.parse(["ok", "not-a-meeting,host"], source="hosts.txt")
    assert str(raised.value) == "hosts.txt:2: not a meeting ID before the comma"


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
