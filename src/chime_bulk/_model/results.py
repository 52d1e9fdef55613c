"""`AttendeeResult`: how one update ended, and the `Status` vocabulary of every report.

No result type carries a JoinToken, so no report can contain one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from .._io.fields import (
    as_object,
    check_keys,
    get_float,
    get_int,
    get_optional_str,
    get_str,
)
from .capabilities import Capabilities
from .update import Update

__all__ = ["AttendeeResult", "Status", "parse_status"]


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


def parse_status(value: Any) -> Status:
    """`value` as a `Status`; a `ValueError` lists the statuses there are."""
    try:
        return Status(value)
    except ValueError:
        allowed = ", ".join(status.value for status in Status)
        raise ValueError(f"status {value!r} is not one of {allowed}") from None


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

    @classmethod
    def decided(
        cls,
        *,
        meeting_id: str,
        attendee_id: str,
        status: Status,
        desired: Capabilities | None,
        previous: Capabilities | None = None,
        message: str | None = None,
        error_code: str | None = None,
        region: str | None = None,
    ) -> AttendeeResult:
        """The result of an attendee decided without a request: cancelled, invalid, planned
        by a dry run, or (state-aware operations, from the meeting's state) unchanged,
        excluded, gone, or changed by someone else."""
        return cls(
            meeting_id=meeting_id,
            attendee_id=attendee_id,
            status=status,
            desired=desired,
            previous=previous,
            error_code=error_code,
            error_message=message,
            region=region,
        )

    @classmethod
    def unsent(cls, update: Update, status: Status, message: str | None = None) -> AttendeeResult:
        """`decided` for an update that will not be sent."""
        return cls.decided(
            meeting_id=update.meeting_id,
            attendee_id=update.attendee_id,
            status=status,
            desired=update.capabilities,
            previous=update.previous,
            message=message,
            region=update.region,
        )

    def to_dict(self) -> dict[str, Any]:
        """The report file's shape: capabilities as API dicts, `region` only when set."""
        data: dict[str, Any] = {
            "meeting_id": self.meeting_id,
            "attendee_id": self.attendee_id,
            "status": self.status.value,
            "desired": None if self.desired is None else self.desired.to_api(),
            "previous": None if self.previous is None else self.previous.to_api(),
            "attempts": self.attempts,
            "throttled": self.throttled,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "request_id": self.request_id,
            "elapsed_s": self.elapsed_s,
        }
        if self.region is not None:
            data["region"] = self.region
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttendeeResult:
        """The inverse of `to_dict`; a `ValueError` names the first bad field."""
        check_keys(data, allowed=_RESULT_KEYS, required=("meeting_id", "attendee_id", "status"))
        return cls(
            meeting_id=get_str(data, "meeting_id"),
            attendee_id=get_str(data, "attendee_id"),
            status=parse_status(data["status"]),
            desired=_get_capabilities(data, "desired"),
            previous=_get_capabilities(data, "previous"),
            attempts=get_int(data, "attempts", default=0),
            throttled=get_int(data, "throttled", default=0),
            error_code=get_optional_str(data, "error_code"),
            error_message=get_optional_str(data, "error_message"),
            request_id=get_optional_str(data, "request_id"),
            elapsed_s=get_float(data, "elapsed_s", default=0.0),
            region=get_optional_str(data, "region"),
        )


_RESULT_KEYS: Final = frozenset(AttendeeResult.__dataclass_fields__)


def _get_capabilities(data: Mapping[str, Any], key: str) -> Capabilities | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return Capabilities.from_api(as_object(value))
    except ValueError as err:
        raise ValueError(f"{key}: {err}") from None
