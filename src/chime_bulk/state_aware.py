"""State-aware changes: from what a meeting's attendees have now to what each should get.

`mute` and `unmute` change only the *sending* half of the chosen media and keep everything
else an attendee has, so each attendee's desired state depends on its current one. Attendees
that are already there are `unchanged` and those named in `--except` are `excluded`: both are
reported, neither is sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ._aws.reads import AttendeeState
from ._model.capabilities import Capabilities, Media, MeetingFeatures, capability_problems
from ._model.results import AttendeeResult, Status
from ._model.update import BatchExcept, Update

__all__ = ["MIN_BATCH", "MediaSelection", "batched", "sending_changes"]

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
        return AttendeeResult(
            meeting_id=meeting_id,
            attendee_id=attendee.attendee_id,
            status=status,
            desired=desired,
            previous=current,
            error_message=message,
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
