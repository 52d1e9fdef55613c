"""What the engine asks the `Sender` to do (`Request`) and how it went (`Outcome`).

Writes and reads alike are one `Request`: the call to make on an aiobotocore client, and the
IDs that every event about it names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .._model.results import Status
from .._policy.classification import ErrorKind, Failure

__all__ = ["Outcome", "Request", "Send"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """What to send: `call(client)` makes the one aiobotocore call of an attempt."""

    operation: str
    region: str | None
    call: Callable[[Any], Awaitable[Mapping[str, Any]]]
    meeting_id: str
    attendee_id: str | None = None  # None for a whole-meeting request
    # Writes are the run's traffic in its report; reads (listings that plan or verify) are
    # paced and retried alike but not counted there.
    write: bool = True

    @property
    def ids(self) -> dict[str, str | None]:
        """What every event about this request names."""
        return {
            "operation": self.operation,
            "meeting_id": self.meeting_id,
            "attendee_id": self.attendee_id,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How a request ended: `succeeded` (with the `response`), `not_found`, `failed` or
    `cancelled` (with the last `failure`, if an attempt failed)."""

    status: Status
    attempts: int
    throttled: int
    elapsed_s: float
    request_id: str | None = None
    failure: Failure | None = None
    response: Mapping[str, Any] | None = None

    @property
    def fatal(self) -> bool:
        return self.failure is not None and self.failure.kind is ErrorKind.FATAL


#: Sends one request all the way (the `Sender`, bound to a run).
Send = Callable[[Request], Awaitable[Outcome]]
