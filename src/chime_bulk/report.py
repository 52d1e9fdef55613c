"""Per-attendee results and the report that accounts for every update of a run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .capabilities import Capabilities

__all__ = ["AttendeeResult", "Report", "Status", "Summary"]


class Status(StrEnum):
    """How one update ended."""

    SUCCEEDED = "succeeded"  # the service accepted the update
    UNCHANGED = "unchanged"  # already in the desired state; nothing sent
    EXCLUDED = "excluded"  # left out on request (e.g. `mute --except`); nothing sent
    INVALID = "invalid"  # rejected client-side; nothing sent
    NOT_FOUND = "not_found"  # the meeting or attendee does not exist (any more)
    FAILED = "failed"  # rejected by the service, or retries ran out
    CANCELLED = "cancelled"  # not finished: deadline, abort or interruption
    PLANNED = "planned"  # dry run: would have been sent

    @property
    def ok(self) -> bool:
        """Whether this outcome leaves the attendee as the user asked."""
        return self in _OK_STATUSES


_OK_STATUSES = frozenset({Status.SUCCEEDED, Status.UNCHANGED, Status.EXCLUDED, Status.PLANNED})


@dataclass(frozen=True, slots=True, kw_only=True)
class AttendeeResult:
    """The outcome for one update. `previous` is known only when the run read the state."""

    meeting_id: str
    attendee_id: str
    status: Status
    desired: Capabilities | None
    previous: Capabilities | None = None
    attempts: int = 0
    throttled: int = 0
    error_code: str | None = None
    error_message: str | None = None
    request_id: str | None = None
    elapsed_s: float = 0.0
    region: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Totals for a run. `requests` counts every HTTP attempt, `retried` every attempt
    after an update's first, `throttled` every attempt answered with a throttle."""

    total: int
    by_status: dict[str, int]
    requests: int
    throttled: int
    retried: int
    elapsed_s: float
    started_at: str
    finished_at: str
    latency_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Every update of a run, each exactly once, in the order they were given."""

    results: Sequence[AttendeeResult]
    summary: Summary

    @property
    def ok(self) -> bool:
        return all(result.status.ok for result in self.results)

    def failed(self) -> list[AttendeeResult]:
        """The results that did not leave the attendee as asked."""
        return [result for result in self.results if not result.status.ok]
