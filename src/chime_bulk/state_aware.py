"""State-aware changes: from what a meeting's attendees have now to what each should get.

`mute` and `unmute` change only the *sending* half of the chosen media and keep everything
else an attendee has, so each attendee's desired state depends on its current one. Attendees
that are already there are `unchanged` and those named in `--except` are `excluded`: both are
reported, neither is sent. `restore` undoes a run from its report.

The arithmetic (`sending_changes`, `batched`, `undo_updates`) is pure; `plan_sending_change`
reads the meetings through a `BulkUpdater` and returns what to hand to its `run()`::

    async with BulkUpdater(region="us-east-1") as bulk:
        plan = await plan_sending_change(bulk, [meeting], media=MediaSelection(video=True),
                                         allow_send=False, excluded={host})
        report = await bulk.run(plan.items)
        ...
        report = await bulk.run(undo_updates(report).updates)   # put it all back
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ._aws.reads import AttendeeState
from ._model.capabilities import Capabilities, Media, MeetingFeatures, capability_problems
from ._model.results import AttendeeResult, Status
from ._model.update import BatchExcept, Update

if TYPE_CHECKING:
    from ._engine.updater import BulkUpdater
    from ._model.report import Report

__all__ = [
    "MIN_BATCH",
    "MediaSelection",
    "SendingPlan",
    "UndoPlan",
    "batched",
    "plan_sending_change",
    "sending_changes",
    "undo_updates",
]

#: The fewest attendees worth one BatchUpdateAttendeeCapabilitiesExcept instead of their own
#: updates: below this the per-attendee calls are as cheap and report more precisely.
MIN_BATCH: Final = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaSelection:
    """Which media a mute or unmute touches."""

    audio: bool = False
    video: bool = False
    content: bool = False

    def __post_init__(self) -> None:
        if not (self.audio or self.video or self.content):
            raise ValueError("select at least one of audio, video, content")

    def apply(self, capabilities: Capabilities, *, allow_send: bool) -> Capabilities:
        """`capabilities` with sending allowed or taken away for the selected media."""

        def change(media: Media, selected: bool) -> Media:
            if not selected:
                return media
            return media.with_send() if allow_send else media.without_send()

        return Capabilities(
            change(capabilities.audio, self.audio),
            change(capabilities.video, self.video),
            change(capabilities.content, self.content),
        )


def sending_changes(
    meeting_id: str,
    attendees: Iterable[AttendeeState],
    *,
    media: MediaSelection,
    allow_send: bool,
    excluded: Collection[str] = (),
    features: MeetingFeatures | None = None,
    region: str | None = None,
) -> list[Update | AttendeeResult]:
    """One item per attendee: an `Update` to send, or a result decided without sending.

    With the meeting's `features`, a change the meeting would reject (video in a meeting
    created without video) is `invalid` and not sent.
    """
    return [
        _change(
            meeting_id,
            attendee,
            media=media,
            allow_send=allow_send,
            excluded=excluded,
            features=features,
            region=region,
        )
        for attendee in attendees
    ]


def _change(
    meeting_id: str,
    attendee: AttendeeState,
    *,
    media: MediaSelection,
    allow_send: bool,
    excluded: Collection[str],
    features: MeetingFeatures | None,
    region: str | None,
) -> Update | AttendeeResult:
    current = attendee.capabilities

    def decided(
        status: Status, message: str | None, desired: Capabilities | None = current
    ) -> AttendeeResult:
        return AttendeeResult.decided(
            meeting_id=meeting_id,
            attendee_id=attendee.attendee_id,
            status=status,
            desired=desired,
            previous=current,
            message=message,
            region=region,
        )

    if attendee.attendee_id in excluded:
        return decided(Status.EXCLUDED, "excluded on request")
    if current is None:
        return decided(Status.INVALID, "the service did not say its capabilities")
    desired = media.apply(current, allow_send=allow_send)
    if desired == current:
        return decided(Status.UNCHANGED, None)
    problems = capability_problems(desired, features=features)
    if problems:
        return decided(Status.INVALID, "; ".join(problems), desired)
    return Update(
        meeting_id=meeting_id,
        attendee_id=attendee.attendee_id,
        capabilities=desired,
        region=region,
        previous=current,
    )


def batched(
    meeting_id: str,
    items: Sequence[Update | AttendeeResult],
    *,
    listed: Sequence[str],
    excluded: Collection[str] = (),
    region: str | None = None,
) -> list[Update | BatchExcept | AttendeeResult]:
    """Fold the meeting's most common change into one batch request, when worth it.

    `items` are one meeting's `sending_changes`; `listed` every attendee the listing saw.
    The batch changes every attendee except those it leaves out, so it leaves out everyone
    who is not one of its members, and always everyone in `excluded` (listed or not: a host
    may join after the listing). The service needs at least one left out, so if nobody else
    is, one member is sent on its own instead.
    """
    updates = [item for item in items if isinstance(item, Update)]
    if not updates:
        return list(items)
    capabilities, count = Counter(u.capabilities for u in updates).most_common(1)[0]
    if count < MIN_BATCH:
        return list(items)
    members = [u for u in updates if u.capabilities == capabilities]
    member_ids = {u.attendee_id for u in members}
    left_out = tuple(dict.fromkeys(a for a in (*listed, *excluded) if a not in member_ids))
    rest: list[Update | BatchExcept | AttendeeResult] = [
        item for item in items if not (isinstance(item, Update) and item in members)
    ]
    if not left_out:
        alone = members.pop()
        left_out = (alone.attendee_id,)
        rest.append(alone)
        if len(members) < MIN_BATCH - 1:
            return list(items)
    batch = BatchExcept(
        meeting_id=meeting_id,
        capabilities=capabilities,
        excluded_ids=left_out,
        members=tuple(members),
        region=region,
    )
    return [batch, *rest]


@dataclass(frozen=True, slots=True, kw_only=True)
class SendingPlan:
    """What a mute or unmute will do: `items` for `BulkUpdater.run`, and the `--except`
    attendees that are in none of the meetings (`unknown_excluded`, sorted)."""

    items: list[Update | BatchExcept | AttendeeResult]
    unknown_excluded: list[str]


async def plan_sending_change(
    bulk: BulkUpdater,
    meeting_ids: Iterable[str],
    *,
    media: MediaSelection,
    allow_send: bool,
    excluded: Collection[str] = (),
    batch: bool = False,
    region: str | None = None,
) -> SendingPlan:
    """Read each meeting (features, attendees) and plan the change of its sending.

    With `batch=True` each meeting's most common change is folded into one
    `BatchUpdateAttendeeCapabilitiesExcept` (see `batched`). Raises `ListingFailed` when a
    meeting cannot be read.
    """
    items: list[Update | BatchExcept | AttendeeResult] = []
    seen: set[str] = set()
    for meeting_id in dict.fromkeys(meeting_ids):
        features = await bulk.meeting_features(meeting_id, region=region)
        attendees = await bulk.list_attendees(meeting_id, region=region)
        listed = [attendee.attendee_id for attendee in attendees]
        seen.update(listed)
        changes = sending_changes(
            meeting_id,
            attendees,
            media=media,
            allow_send=allow_send,
            excluded=excluded,
            features=features,
            region=region,
        )
        if batch:
            items.extend(
                batched(meeting_id, changes, listed=listed, excluded=excluded, region=region)
            )
        else:
            items.extend(changes)
    return SendingPlan(items=items, unknown_excluded=sorted(set(excluded) - seen))


@dataclass(frozen=True, slots=True, kw_only=True)
class UndoPlan:
    """The updates that put back what a run changed, and how many changed attendees could
    not be put back because the report does not know their previous state."""

    updates: list[Update]
    without_previous: int


def undo_updates(report: Report) -> UndoPlan:
    """Updates that return every attendee a run changed to its `previous` capabilities."""
    updates = [
        Update(
            meeting_id=r.meeting_id,
            attendee_id=r.attendee_id,
            capabilities=r.previous,
            region=r.region,
            previous=r.desired,
        )
        for r in report.results
        if r.status is Status.SUCCEEDED and r.previous is not None and r.previous != r.desired
    ]
    unknown = sum(r.status is Status.SUCCEEDED and r.previous is None for r in report.results)
    return UndoPlan(updates=updates, without_previous=unknown)
