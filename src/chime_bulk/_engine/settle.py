"""From an update (or a batch) to its results: validation, the request, the outcome.

A `Settler` serves one run. It refuses to send once the run is stopping (`cancelled`) and
never sends what the service would reject (`invalid`); everything else goes through the
`Sender`, and the outcome becomes one result per attendee the request was for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from .._model.capabilities import MeetingFeatures
from .._model.results import AttendeeResult, Status
from .._model.update import BatchExcept, Update
from .._model.validation import batch_problems, update_problems
from .meetings import MeetingWatch
from .request import Outcome, Request
from .run_state import RunState
from .sender import Sender

__all__ = ["BATCH_OPERATION", "UPDATE_OPERATION", "Settler", "result_of"]

UPDATE_OPERATION: Final = "UpdateAttendeeCapabilities"
BATCH_OPERATION: Final = "BatchUpdateAttendeeCapabilitiesExcept"
_NOT_FOUND: Final = "NotFoundException"


class Settler:
    """Settles the updates and batches of one run."""

    def __init__(
        self,
        *,
        sender: Sender,
        state: RunState,
        features: Mapping[str, MeetingFeatures],
        meetings: MeetingWatch,
        clock: Callable[[], float],
    ) -> None:
        self._meetings = meetings
        self._clock = clock
        self._sender = sender
        self._state = state
        self._features = features
        self.fatal_result: AttendeeResult | None = None  # the first result of a fatal error
        # Every result a fatal error ended (several may be in flight when credentials are
        # revoked): `failed` in the report, but not final for a resume, which must send them
        # again once the credentials are good.
        self._fatal: set[int] = set()

    async def update(self, update: Update) -> AttendeeResult:
        """Everything that happens to one update, ending in its one result."""
        capabilities = update.capabilities.to_api()

        async def call(client: Any) -> Mapping[str, Any]:
            response: Mapping[str, Any] = await client.update_attendee_capabilities(
                MeetingId=update.meeting_id,
                AttendeeId=update.attendee_id,
                Capabilities=capabilities,
            )
            return response

        request = Request(
            operation=UPDATE_OPERATION,
            region=update.region,
            call=call,
            meeting_id=update.meeting_id,
            attendee_id=update.attendee_id,
        )
        problems = update_problems(update, features=self._features.get(update.meeting_id))
        if not problems and not self._state.stopping.requested:
            gone = await self._meetings.gone(update.meeting_id, update.region)
            if gone is not None:
                unsent = AttendeeResult.unsent(update, Status.NOT_FOUND, f"{gone}; not sent")
                return dataclasses.replace(unsent, error_code=_NOT_FOUND)
        sent_at = self._clock()
        (result,), outcome = await self._send((update,), request, problems=problems)
        if outcome is not None and outcome.status is Status.NOT_FOUND:
            # The attendee, or its whole meeting? One GetMeeting tells, for every update of it.
            why = await self._meetings.check(update.meeting_id, update.region, sent_at=sent_at)
            if why is not None:
                result = dataclasses.replace(result, error_message=why)
        return result

    async def batch(self, batch: BatchExcept) -> tuple[list[AttendeeResult], Outcome | None]:
        """One batch request; each member's result as the call's answer tells it, and the
        outcome (None when nothing was sent)."""
        capabilities = batch.capabilities.to_api()
        excluded = [{"AttendeeId": attendee} for attendee in batch.excluded_ids]

        async def call(client: Any) -> Mapping[str, Any]:
            response: Mapping[str, Any] = await client.batch_update_attendee_capabilities_except(
                MeetingId=batch.meeting_id,
                ExcludedAttendeeIds=excluded,
                Capabilities=capabilities,
            )
            return response

        request = Request(
            operation=BATCH_OPERATION, region=batch.region, call=call, meeting_id=batch.meeting_id
        )
        return await self._send(batch.members, request, problems=batch_problems(batch))

    async def _send(
        self, updates: Sequence[Update], request: Request, *, problems: list[str]
    ) -> tuple[list[AttendeeResult], Outcome | None]:
        if self._state.stopping.requested:
            message = "run stopped before this update was sent"
            return [AttendeeResult.unsent(u, Status.CANCELLED, message) for u in updates], None
        if problems:
            message = "; ".join(problems)
            return [AttendeeResult.unsent(u, Status.INVALID, message) for u in updates], None
        outcome = await self._sender.perform(self._state, request)
        results = [result_of(update, outcome) for update in updates]
        if outcome.fatal:
            self._fatal.update(id(result) for result in results)
            if self.fatal_result is None:
                self.fatal_result = results[0]
        return results, outcome

    def ended_by_fatal_error(self, result: AttendeeResult) -> bool:
        """Whether `result` (one this settler made) met the run's fatal error."""
        return id(result) in self._fatal


def result_of(update: Update, outcome: Outcome) -> AttendeeResult:
    """The result of `update` from the outcome of the request sent for it."""
    failure = outcome.failure
    message = failure.message if failure is not None else None
    if outcome.status is Status.CANCELLED:
        last = f" (last error {failure.code})" if failure is not None else ""
        message = f"run stopped before this update finished{last}"
    return AttendeeResult(
        meeting_id=update.meeting_id,
        attendee_id=update.attendee_id,
        status=outcome.status,
        desired=update.capabilities,
        previous=update.previous,
        attempts=outcome.attempts,
        throttled=outcome.throttled,
        error_code=failure.code if failure is not None else None,
        error_message=message,
        request_id=outcome.request_id,
        elapsed_s=outcome.elapsed_s,
        region=update.region,
    )
