"""State-aware changes: from what a meeting's attendees have now to what each should get.

`mute` and `unmute` change only the *sending* half of the chosen media and keep everything
else an attendee has, so each attendee's desired state depends on its current one. Attendees
already there are `unchanged` and hosts are `excluded`: both are reported, neither is sent.
`restore` puts back what a run changed, from its report and the meeting's state now.

Everything here is pure arithmetic on listings, tested without a service; `BulkUpdater.mute`,
`unmute` and `restore` read the meetings, call these, send, and verify::

    async with BulkUpdater(region="us-east-1") as bulk:
        report = await bulk.mute(meetings, media={"video"}, except_attendees={host_id})
        ...
        await bulk.restore(report)          # every attendee back to exactly what it had

A meeting's plan (`MeetingPlan`) uses the cheapest calls: with strategy `auto`, the largest
group of attendees that need the same capabilities gets one
`BatchUpdateAttendeeCapabilitiesExcept` (leaving out everyone else: hosts, the unchanged,
attendees that need something different), the rest one `UpdateAttendeeCapabilities` each,
whenever that is fewer requests than one update per attendee. A batch changes attendees the
listing did not see too, so the meeting is listed again afterwards and the report is built
from what the service then holds (`verify_batch`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from ._aws.reads import AttendeeState
from ._model.capabilities import Capabilities, Media, MeetingFeatures, capability_problems
from ._model.errors import PlanError, PlanProblem
from ._model.results import AttendeeResult, Status
from ._model.update import BatchExcept, Update
from ._model.validation import MAX_EXCLUDED, is_valid_id

__all__ = [
    "CHANGED_SINCE",
    "MAX_EXCLUDED",
    "NOT_APPLIED",
    "STRATEGIES",
    "Hosts",
    "MediaSelection",
    "MeetingPlan",
    "SendingChange",
    "StatePlan",
    "Strategy",
    "Verified",
    "default_capabilities",
    "plan_meeting",
    "restore_changes",
    "sending_changes",
    "verify_batch",
]

#: How a meeting's changes are sent: `auto` picks the fewest requests.
Strategy = Literal["auto", "per-attendee", "batch-except"]
STRATEGIES: Final[tuple[Strategy, ...]] = ("auto", "per-attendee", "batch-except")

#: Attendees per ListAttendees page: what verifying a batch costs.
_PAGE: Final = 100

#: Error codes of results decided from the meeting's state.
NOT_APPLIED: Final = "BatchNotApplied"
CHANGED_SINCE: Final = "ChangedSinceRun"


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaSelection:
    """Which media a mute or unmute touches."""

    audio: bool = False
    video: bool = False
    content: bool = False

    def __post_init__(self) -> None:
        if not (self.audio or self.video or self.content):
            raise ValueError("select at least one of audio, video, content")

    @classmethod
    def of(cls, media: MediaSelection | Collection[str]) -> MediaSelection:
        """`media` as a selection: a `MediaSelection`, or names such as `{"video"}`."""
        if isinstance(media, MediaSelection):
            return media
        if isinstance(media, str):
            media = {media}
        names = {name.lower() for name in media}
        unknown = sorted(names - {"audio", "video", "content"})
        if unknown:
            raise ValueError(f"unknown media {unknown}: choose from audio, video, content")
        return cls(audio="audio" in names, video="video" in names, content="content" in names)

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Hosts:
    """Attendees to leave alone: by attendee ID or ExternalUserId, everywhere or per meeting.

    ExternalUserIds are matched case-insensitively (the service treats them so) and only in
    memory: the service marks them sensitive, so they are never logged or reported.
    """

    everywhere: frozenset[str] = frozenset()
    per_meeting: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, hosts: Hosts | Collection[str] | Mapping[str, Collection[str]]) -> Hosts:
        if isinstance(hosts, Hosts):
            return hosts
        if isinstance(hosts, Mapping):
            return cls(per_meeting={m: frozenset(ids) for m, ids in hosts.items()})
        if isinstance(hosts, str):
            hosts = {hosts}
        return cls(everywhere=frozenset(hosts))

    @classmethod
    def parse(cls, lines: Iterable[str], *, source: str) -> Hosts:
        """A hosts file: one ID per line (`ID`, or `MEETING_ID,ID` for one meeting only);
        blank lines and `#` comments are skipped; a `PlanError` names every bad line."""
        everywhere: set[str] = set()
        per_meeting: dict[str, set[str]] = {}
        problems: list[PlanProblem] = []
        for number, raw in enumerate(lines, start=1):
            line = raw.strip().removeprefix("\ufeff")
            if not line or line.startswith("#"):
                continue
            meeting, _, host = line.rpartition(",")
            meeting, host = meeting.strip(), host.strip()
            if meeting and not is_valid_id(meeting):
                problems.append(PlanProblem(number, "not a meeting ID before the comma", source))
            elif not host:
                problems.append(PlanProblem(number, "no attendee or external user ID", source))
            elif meeting:
                per_meeting.setdefault(meeting, set()).add(host)
            else:
                everywhere.add(host)
        if problems:
            raise PlanError(problems)
        return cls(
            everywhere=frozenset(everywhere),
            per_meeting={m: frozenset(ids) for m, ids in per_meeting.items()},
        )

    def __bool__(self) -> bool:
        return bool(self.everywhere or self.per_meeting)

    def _names(self, meeting_id: str) -> frozenset[str]:
        return self.everywhere | self.per_meeting.get(meeting_id, frozenset())

    def in_meeting(self, meeting_id: str, attendees: Iterable[AttendeeState]) -> set[str]:
        """The attendee IDs of `meeting_id` to leave alone, unlisted per-meeting IDs included
        (a host may join after the listing; the batch must leave them out too)."""
        names = self._names(meeting_id)
        folded = {name.casefold() for name in names}
        found = {
            a.attendee_id
            for a in attendees
            if a.attendee_id in names
            or (a.external_user_id is not None and a.external_user_id.casefold() in folded)
        }
        found.update(h for h in self.per_meeting.get(meeting_id, ()) if is_valid_id(h))
        return found

    def unmatched(self, listings: Mapping[str, Sequence[AttendeeState]]) -> int:
        """How many host names matched no attendee in any of `listings` (a count, since
        they may be sensitive ExternalUserIds)."""
        matched: set[str] = set()
        for meeting_id, attendees in listings.items():
            for name in self._names(meeting_id):
                folded = name.casefold()
                if any(
                    a.attendee_id == name
                    or (a.external_user_id is not None and a.external_user_id.casefold() == folded)
                    for a in attendees
                ):
                    matched.add(name)
        names = set(self.everywhere).union(*self.per_meeting.values())
        return len(names - matched)


def default_capabilities(features: MeetingFeatures | None) -> Capabilities:
    """What a new attendee gets from the service when created without capabilities.

    Everything `SendReceive` (AWS: "all users have send and receive capabilities on all media
    channels by default"), except media the meeting was created without.
    """
    video = "None" if features and features.video_max_resolution == "None" else "SendReceive"
    no_content = features is not None and features.content_max_resolution == "None"
    content = "None" if no_content or video == "None" else "SendReceive"
    return Capabilities("SendReceive", video, content)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingPlan:
    """What to do in one meeting: results decided without a request, at most one batch
    call, and single updates. `listed` is every attendee the listing saw, in its order."""

    meeting_id: str
    region: str | None
    listed: tuple[str, ...]
    decided: tuple[AttendeeResult, ...] = ()
    batch: BatchExcept | None = None
    singles: tuple[Update, ...] = ()

    @property
    def requests(self) -> int:
        """Write requests the plan sends."""
        return (self.batch is not None) + len(self.singles)

    @property
    def changes(self) -> int:
        """Attendees the plan changes."""
        return len(self.batch.members if self.batch else ()) + len(self.singles)

    def describe(self) -> str:
        """One line for a dry run: the calls and how many attendees each changes."""
        parts = []
        if self.batch is not None:
            parts.append(
                f"1 BatchUpdateAttendeeCapabilitiesExcept for {len(self.batch.members)} "
                f"attendee(s) to {self.batch.capabilities} ({len(self.batch.excluded_ids)} "
                "left out)"
            )
        if self.singles:
            parts.append(f"{len(self.singles)} UpdateAttendeeCapabilities")
        calls = " + ".join(parts) or "no calls"
        return (
            f"meeting {self.meeting_id}: {calls}; {len(self.decided)} attendee(s) left as they are"
        )


def plan_meeting(
    meeting_id: str,
    items: Sequence[Update | AttendeeResult],
    *,
    listed: Sequence[str],
    hosts: Collection[str] = (),
    strategy: Strategy = "auto",
    region: str | None = None,
) -> MeetingPlan:
    """Choose the calls for one meeting's changes (`items`, from `sending_changes` or
    `restore_changes`).

    The batch takes the largest group of updates with the same capabilities and leaves out
    every listed attendee outside it, plus `hosts` (listed or not). The service needs 1 to
    250 left out: with nobody left out one member goes on its own; with more than 250 the
    group goes as single updates. `auto` takes the batch only when it costs fewer requests
    than single updates, counting the listing that verifies it.
    """
    updates = [item for item in items if isinstance(item, Update)]
    decided = tuple(item for item in items if isinstance(item, AttendeeResult))
    singles_only = MeetingPlan(
        meeting_id=meeting_id,
        region=region,
        listed=tuple(listed),
        decided=decided,
        singles=tuple(updates),
    )
    if strategy == "per-attendee" or not updates:
        return singles_only
    capabilities, _ = Counter(u.capabilities for u in updates).most_common(1)[0]
    members = [u for u in updates if u.capabilities == capabilities]
    member_ids = {u.attendee_id for u in members}
    rest = [u for u in updates if u.attendee_id not in member_ids]
    left_out = tuple(dict.fromkeys(a for a in (*listed, *hosts) if a not in member_ids))
    if not left_out:
        alone = members.pop()
        rest.append(alone)
        left_out = (alone.attendee_id,)
    if not members or len(left_out) > MAX_EXCLUDED:
        return singles_only
    verify = math.ceil(max(len(listed), 1) / _PAGE)
    if strategy == "auto" and 1 + len(rest) + verify >= len(updates):
        return singles_only
    batch = BatchExcept(
        meeting_id=meeting_id,
        capabilities=capabilities,
        excluded_ids=left_out,
        members=tuple(members),
        region=region,
        listed=tuple(listed),
    )
    return MeetingPlan(
        meeting_id=meeting_id,
        region=region,
        listed=tuple(listed),
        decided=decided,
        batch=batch,
        singles=tuple(rest),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Verified:
    """What a batch did, read back from the meeting: one result per member and per attendee
    it changed that the plan did not know (`results`), and the attendees who joined but were
    not changed by it (`joined_unchanged`), for the caller to plan on their own."""

    results: list[AttendeeResult]
    joined_unchanged: list[AttendeeState]


def verify_batch(
    batch: BatchExcept,
    *,
    after: Sequence[AttendeeState],
    default: Capabilities,
    attempts: int = 1,
    request_id: str | None = None,
    elapsed_s: float = 0.0,
) -> Verified:
    """Each member as the meeting now holds it: `succeeded` if it has the batch's
    capabilities, `failed` (`BatchNotApplied`) if not, `not_found` if it left. An attendee who
    joined after the first listing (not in `batch.listed`) and now has the batch's capabilities was
    changed by it: `succeeded`, with the service's `default` as its previous state.

    `batch.listed` is every attendee the first listing saw."""
    now = {a.attendee_id: a for a in after}
    sent = _Sent(attempts=attempts, request_id=request_id, elapsed_s=elapsed_s)
    results = [
        _member_now(member, now.get(member.attendee_id), batch, sent) for member in batch.members
    ]
    joined_unchanged: list[AttendeeState] = []
    known = {*batch.listed, *batch.excluded_ids}
    for state in after:
        if state.attendee_id in known:
            continue
        if state.capabilities != batch.capabilities:
            joined_unchanged.append(state)
            continue
        joiner = Update(
            meeting_id=batch.meeting_id,
            attendee_id=state.attendee_id,
            capabilities=batch.capabilities,
            region=batch.region,
            previous=default,
        )
        message = "joined during the run and was changed by the batch; previous is the default"
        results.append(sent.result(joiner, Status.SUCCEEDED, message))
    return Verified(results=results, joined_unchanged=joined_unchanged)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Sent:
    """The batch request's figures, which every result it settles carries."""

    attempts: int
    request_id: str | None
    elapsed_s: float

    def result(
        self, update: Update, status: Status, message: str | None, code: str | None = None
    ) -> AttendeeResult:
        return AttendeeResult(
            meeting_id=update.meeting_id,
            attendee_id=update.attendee_id,
            status=status,
            desired=update.capabilities,
            previous=update.previous,
            attempts=self.attempts,
            error_code=code,
            error_message=message,
            request_id=self.request_id,
            elapsed_s=self.elapsed_s,
            region=update.region,
        )


def _member_now(
    member: Update, state: AttendeeState | None, batch: BatchExcept, sent: _Sent
) -> AttendeeResult:
    if state is None:
        return sent.result(member, Status.NOT_FOUND, "left the meeting during the run")
    if state.capabilities == batch.capabilities:
        return sent.result(member, Status.SUCCEEDED, None)
    held = state.capabilities or "unknown capabilities"
    message = f"after the batch the service shows {held}"
    return sent.result(member, Status.FAILED, message, NOT_APPLIED)


def restore_changes(
    meeting_id: str,
    changed: Sequence[AttendeeResult],
    *,
    current: Sequence[AttendeeState],
) -> list[Update | AttendeeResult]:
    """One item per attendee a run changed (`changed`: its `succeeded` results that know
    their previous state): an `Update` back to `previous`, or a result decided from the
    meeting's state now — `unchanged` if already back, `not_found` if gone, `failed`
    (`ChangedSinceRun`) if someone else changed it since: that change is not overwritten."""
    now = {a.attendee_id: a.capabilities for a in current}
    return [_restore_item(meeting_id, result, now) for result in changed]


def _restore_item(
    meeting_id: str, result: AttendeeResult, now: Mapping[str, Capabilities | None]
) -> Update | AttendeeResult:
    assert result.previous is not None
    target, ours = result.previous, result.desired
    held = now.get(result.attendee_id)

    def decided(status: Status, message: str | None, code: str | None = None) -> AttendeeResult:
        return AttendeeResult.decided(
            meeting_id=meeting_id,
            attendee_id=result.attendee_id,
            status=status,
            desired=target,
            previous=held,
            message=message,
            error_code=code,
            region=result.region,
        )

    if result.attendee_id not in now:
        return decided(Status.NOT_FOUND, "no longer in the meeting")
    if held == target:
        return decided(Status.UNCHANGED, None)
    if held != ours:
        message = f"changed by someone else since the run (now {held}); left as it is"
        return decided(Status.FAILED, message, CHANGED_SINCE)
    return Update(
        meeting_id=meeting_id,
        attendee_id=result.attendee_id,
        capabilities=target,
        region=result.region,
        previous=held,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SendingChange:
    """A mute or unmute: which media, which way, and who is left alone."""

    media: MediaSelection
    allow_send: bool
    hosts: Hosts = field(default_factory=Hosts)

    def items(
        self,
        meeting_id: str,
        attendees: Sequence[AttendeeState],
        *,
        features: MeetingFeatures | None,
        region: str | None,
    ) -> list[Update | AttendeeResult]:
        """`sending_changes` for one meeting, its hosts left out."""
        return sending_changes(
            meeting_id,
            attendees,
            media=self.media,
            allow_send=self.allow_send,
            excluded=self.hosts.in_meeting(meeting_id, attendees),
            features=features,
            region=region,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StatePlan:
    """A state-aware operation planned from the meetings' listings, ready to run.

    `BulkUpdater.run(plan)` or `stream(plan)` sends it; `planned()` is its dry run. `change`
    (mute/unmute) also plans the attendees who join while it runs; `features` gives the
    service's defaults for them; `unmatched_hosts` counts host names found in no meeting;
    `without_previous` counts attendees a restore cannot put back (their report has no
    previous state: `apply` does not read it).
    """

    meetings: tuple[MeetingPlan, ...]
    features: Mapping[str, MeetingFeatures] = field(default_factory=dict)
    change: SendingChange | None = None
    unmatched_hosts: int = 0
    without_previous: int = 0  # restore: changed attendees whose previous state is unknown

    @property
    def total(self) -> int:
        """Results the plan becomes (attendees who join while it runs come on top)."""
        return sum(
            len(m.decided) + len(m.singles) + len(m.batch.members if m.batch else ())
            for m in self.meetings
        )

    @property
    def requests(self) -> int:
        """Write requests the plan sends (before verification and joiners)."""
        return sum(meeting.requests for meeting in self.meetings)

    def items(self) -> Iterable[Update | BatchExcept | AttendeeResult]:
        """What a run takes, meeting by meeting: the batch, then everyone else in the
        listing's order."""
        for meeting in self.meetings:
            if meeting.batch is not None:
                yield meeting.batch
            order = {attendee: n for n, attendee in enumerate(meeting.listed)}
            rest: list[Update | AttendeeResult] = [*meeting.decided, *meeting.singles]
            rest.sort(key=lambda item: order.get(item.attendee_id, len(order)))
            yield from rest

    def planned(self) -> list[AttendeeResult]:
        """The dry run's results: `planned` for everyone a call would change."""
        results: list[AttendeeResult] = []
        for item in self.items():
            if isinstance(item, AttendeeResult):
                results.append(item)
            else:
                updates = item.members if isinstance(item, BatchExcept) else (item,)
                results.extend(AttendeeResult.unsent(u, Status.PLANNED) for u in updates)
        return results
