"""State-aware operations on the engine: read the meetings, plan, and verify batches.

Planning reads every meeting first (its features and attendees, concurrently, through the
one attempt path), so a meeting that cannot be read stops the operation before anything is
sent. A batch call is followed by a second listing of its meeting, and its members' results
are what the service then holds (`state_aware.verify_batch`); attendees who joined in
between are reported, and, for a mute or unmute, changed too when they need it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeVar

from .._aws.reads import AttendeeState, list_attendees, meeting_features
from .._model.capabilities import MeetingFeatures
from .._model.errors import ListingFailed
from .._model.report import Report
from .._model.results import AttendeeResult, Status
from .._model.update import BatchExcept, Update
from .._policy.classification import ErrorKind
from ..state_aware import (
    MeetingPlan,
    SendingChange,
    StatePlan,
    Strategy,
    default_capabilities,
    plan_meeting,
    restore_changes,
    verify_batch,
)
from .groups import unwrapped_group
from .request import Send
from .settle import Settler

__all__ = ["plan_restore", "plan_sending", "settle_verified"]

Resumed = Mapping[tuple[str, str], AttendeeResult]
_K = TypeVar("_K")
_V = TypeVar("_V")


async def _gather(
    keys: Sequence[_K], work: Callable[[_K], Awaitable[_V]], *, concurrency: int
) -> dict[_K, _V]:
    """`work(key)` for every key, at most `concurrency` at once; the first error cancels the
    rest and propagates."""
    done: dict[_K, _V] = {}
    pending = iter(keys)

    async def worker() -> None:
        for key in pending:  # shared iterator: each key is taken by one worker
            done[key] = await work(key)

    async with unwrapped_group() as tg:
        for _ in range(max(1, min(concurrency, len(keys)))):
            tg.start_soon(worker)
    return done


async def plan_sending(
    read: Send,
    meeting_ids: Iterable[str],
    *,
    change: SendingChange,
    strategy: Strategy,
    region: str | None,
    concurrency: int,
    resumed: Resumed | None = None,
) -> StatePlan:
    """Read each meeting and plan its mute or unmute; `ListingFailed` if one cannot be read.

    Attendees already final in `resumed` (a journal) keep that result and are left out of
    the calls.
    """
    ids = list(dict.fromkeys(meeting_ids))

    async def read_meeting(meeting_id: str) -> tuple[MeetingFeatures, list[AttendeeState]]:
        features = await meeting_features(read, meeting_id=meeting_id, region=region)
        return features, await list_attendees(read, meeting_id=meeting_id, region=region)

    meetings = await _gather(ids, read_meeting, concurrency=concurrency)
    plans = []
    for meeting_id in ids:
        features, attendees = meetings[meeting_id]
        items = change.items(meeting_id, attendees, features=features, region=region)
        if resumed:
            items = [resumed.get((meeting_id, item.attendee_id), item) for item in items]
        hosts = change.hosts.in_meeting(meeting_id, attendees)
        listed = [attendee.attendee_id for attendee in attendees]
        plans.append(
            plan_meeting(
                meeting_id, items, listed=listed, hosts=hosts, strategy=strategy, region=region
            )
        )
    return StatePlan(
        meetings=tuple(plans),
        features={meeting_id: meetings[meeting_id][0] for meeting_id in ids},
        change=change,
        unmatched_hosts=change.hosts.unmatched({m: meetings[m][1] for m in ids}),
    )


async def plan_restore(
    read: Send, report: Report, *, strategy: Strategy, concurrency: int
) -> tuple[StatePlan, int]:
    """Plan putting back what `report`'s run changed, from each meeting's state now.

    Returns the plan and how many changed attendees the report has no previous state for
    (left as they are). A meeting that is gone makes its attendees `not_found`.
    """
    changed: dict[tuple[str, str | None], list[AttendeeResult]] = {}
    without_previous = 0
    for result in report.results:
        if result.status is not Status.SUCCEEDED or result.previous == result.desired:
            continue
        if result.previous is None:
            without_previous += 1
            continue
        changed.setdefault((result.meeting_id, result.region), []).append(result)

    async def current(key: tuple[str, str | None]) -> list[AttendeeState] | None:
        try:
            return await list_attendees(read, meeting_id=key[0], region=key[1])
        except ListingFailed as error:
            if error.failure.kind is ErrorKind.NOT_FOUND:
                return None
            raise

    now = await _gather(list(changed), current, concurrency=concurrency)
    plans = [
        _restore_plan(meeting_id, region, results, now[(meeting_id, region)], strategy)
        for (meeting_id, region), results in changed.items()
    ]
    return StatePlan(meetings=tuple(plans)), without_previous


def _restore_plan(
    meeting_id: str,
    region: str | None,
    results: list[AttendeeResult],
    current: list[AttendeeState] | None,
    strategy: Strategy,
) -> MeetingPlan:
    items = restore_changes(meeting_id, results, current=current or [])
    listed = [attendee.attendee_id for attendee in current or []]
    return plan_meeting(meeting_id, items, listed=listed, strategy=strategy, region=region)


async def settle_verified(
    batch: BatchExcept,
    *,
    settler: Settler,
    read: Send,
    plan: StatePlan | None,
) -> list[AttendeeResult]:
    """Send `batch`, then read its meeting back (when it has a listing to compare with) and
    report what the service holds; a mute's joiners who need the change get it."""
    results, outcome = await settler.batch(batch)
    if outcome is None or outcome.status is not Status.SUCCEEDED or not batch.listed:
        return results
    try:
        after = await list_attendees(read, meeting_id=batch.meeting_id, region=batch.region)
    except ListingFailed as error:
        note = f"accepted by the service; not verified ({error.failure.code})"
        return [_noted(result, note) for result in results]
    features = plan.features.get(batch.meeting_id) if plan is not None else None
    verified = verify_batch(
        batch,
        after=after,
        default=default_capabilities(features),
        attempts=outcome.attempts,
        request_id=outcome.request_id,
        elapsed_s=outcome.elapsed_s,
    )
    followups: list[AttendeeResult] = []
    if plan is not None and plan.change is not None and verified.joined_unchanged:
        items = plan.change.items(
            batch.meeting_id, verified.joined_unchanged, features=features, region=batch.region
        )
        for item in items:
            followups.append(await settler.update(item) if isinstance(item, Update) else item)
    return [*verified.results, *followups]


def _noted(result: AttendeeResult, note: str) -> AttendeeResult:
    return dataclasses.replace(result, error_message=note)
