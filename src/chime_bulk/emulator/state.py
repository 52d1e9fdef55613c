"""The emulated account's state: meetings, attendees, write counts and the request log.

One `Store` per emulator. The server's handlers and the test-facing Python API run on
different threads, so every access goes through `Store.lock`; handlers hold it only for
synchronous work (never across an `await`), so it is never held for long.
"""

from __future__ import annotations

import random
import secrets
import threading
import uuid
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["ACCOUNT_ID", "Attendee", "Departure", "Meeting", "RequestRecord", "Store"]

#: The account the emulated resources belong to (it appears in meeting ARNs).
ACCOUNT_ID: Final = "123456789012"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the emulator received, as it answered it.

    `status` is 0 when the connection was reset instead of answered; `state_changed` is True
    when the request changed the emulator's state (including a write followed by an injected
    500 or reset; an injected churn is the attendee's doing, not the request's). `time` is on
    the emulator's clock; `fault` names the injected fault that struck it, if any.
    """

    time: float
    operation: str
    meeting_id: str | None
    attendee_id: str | None
    status: int
    error_code: str | None
    state_changed: bool
    request_id: str
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "operation": self.operation,
            "meeting_id": self.meeting_id,
            "attendee_id": self.attendee_id,
            "status": self.status,
            "error_code": self.error_code,
            "fault": self.fault,
            "state_changed": self.state_changed,
            "request_id": self.request_id,
        }


@dataclass(frozen=True, slots=True)
class Departure:
    """An attendee that left, and why: the operation, "churn" (a fault), or "removed"."""

    meeting_id: str
    attendee_id: str
    reason: str


@dataclass(slots=True, eq=False)
class Attendee:
    attendee_id: str
    external_user_id: str
    capabilities: dict[str, str]
    seq: int  # creation order, for stable pagination across deletions
    join_token: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)

    def to_api(self, *, join_token: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ExternalUserId": self.external_user_id,
            "AttendeeId": self.attendee_id,
            "Capabilities": dict(self.capabilities),
        }
        if join_token:
            data["JoinToken"] = self.join_token
        return data


@dataclass(slots=True, eq=False)
class Meeting:
    meeting_id: str
    external_meeting_id: str
    media_region: str
    control_region: str
    features: dict[str, Any] | None
    max_attendees: int
    host_id: str | None = None
    primary_meeting_id: str | None = None
    tenant_ids: list[str] | None = None
    attendees: dict[str, Attendee] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # casefolded ExternalUserId -> ID
    tags: dict[str, str] = field(default_factory=dict)
    transcribing: bool = False

    def attendee_of_user(self, external_user_id: str) -> Attendee | None:
        attendee_id = self.users.get(external_user_id.casefold())
        return None if attendee_id is None else self.attendees.get(attendee_id)

    @property
    def arn(self) -> str:
        return f"arn:aws:chime:{self.control_region}:{ACCOUNT_ID}:meeting/{self.meeting_id}"

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "MeetingId": self.meeting_id,
            "ExternalMeetingId": self.external_meeting_id,
            "MediaRegion": self.media_region,
            "MediaPlacement": _media_placement(self.meeting_id, self.media_region),
            "MeetingArn": self.arn,
        }
        optional = {
            "MeetingHostId": self.host_id,
            "MeetingFeatures": self.features,
            "PrimaryMeetingId": self.primary_meeting_id,
            "TenantIds": self.tenant_ids,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        return data


def _media_placement(meeting_id: str, media_region: str) -> dict[str, str]:
    # Shaped like the real URLs, pointing nowhere: no client here joins media.
    host = f"{media_region}.emulated.chime.invalid"
    return {
        "AudioHostUrl": f"audio.{host}:3478",
        "AudioFallbackUrl": f"wss://audio-fallback.{host}:443/calls/{meeting_id}",
        "SignalingUrl": f"wss://signal.{host}/control/{meeting_id}",
        "TurnControlUrl": f"https://turn.{host}/v2/turn_sessions",
        "ScreenDataUrl": f"wss://screen.{host}/v2/screen/{meeting_id}",
        "ScreenViewingUrl": f"wss://screen.{host}/ws/connect?X-BitHub-Call-Id={meeting_id}",
        "ScreenSharingUrl": f"wss://screen.{host}/v2/screen/{meeting_id}",
        "EventIngestionUrl": f"https://events.{host}/v1/client-events",
    }


class Store:
    """Meetings and attendees, ground truth for tests, and the request log.

    IDs come from a `random.Random` seeded with `seed`, so the same seed and the same calls
    give the same IDs. Join tokens are real secrets (`secrets`), never derived from the seed.
    """

    def __init__(self, *, seed: int, max_logged_requests: int) -> None:
        self.lock = threading.Lock()
        self.meetings: dict[str, Meeting] = {}
        self.client_tokens: dict[str, str] = {}  # ClientRequestToken -> MeetingId
        self.log: deque[RequestRecord] = deque(maxlen=max_logged_requests)
        self.departed: deque[Departure] = deque(maxlen=max_logged_requests)
        self._write_counts: dict[tuple[str, str], int] = {}
        self._acknowledged: dict[tuple[str, str], int] = {}
        self.counters: Counter[str] = Counter()
        self._next_seq = 1
        self._cleared_through = 0
        self._ids = random.Random(f"chime-bulk-emulator-ids/{seed}")
        self._seq = 0
        self._names = 0

    # Every method below expects the caller to hold `lock`.

    def append_record(self, record: RequestRecord) -> None:
        self.log.append(record)
        self._next_seq += 1
        self.counters["requests"] += 1
        self.counters[f"operation:{record.operation}"] += 1
        self.counters[f"status:{record.status}"] += 1
        if record.state_changed:
            self.counters["state_changed"] += 1
        if record.fault is not None:
            self.counters[f"fault:{record.fault}"] += 1

    def clear_log(self) -> None:
        self.log.clear()
        self._cleared_through = self._next_seq - 1

    @property
    def dropped(self) -> int:
        """Records pushed out of the bounded log (not counting cleared ones)."""
        return self._next_seq - 1 - self._cleared_through - len(self.log)

    def log_page(self, *, after: int, limit: int) -> list[tuple[int, RequestRecord]]:
        """Up to `limit` `(seq, record)` with seq > `after` (seq counts from 1, never reused)."""
        first = self._next_seq - len(self.log)
        start = max(0, after + 1 - first)
        return [(first + i, self.log[i]) for i in range(start, min(len(self.log), start + limit))]

    def reset(self) -> None:
        """Forget every meeting, attendee, count and record (IDs keep coming from the seed)."""
        self.meetings.clear()
        self.client_tokens.clear()
        self.departed.clear()
        self._write_counts.clear()
        self._acknowledged.clear()
        self.counters.clear()
        self.clear_log()

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def next_name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}-{self._names}"

    def add_meeting(
        self,
        *,
        external_meeting_id: str,
        media_region: str,
        control_region: str,
        features: dict[str, Any] | None,
        max_attendees: int,
    ) -> Meeting:
        meeting = Meeting(
            meeting_id=self.new_id(),
            external_meeting_id=external_meeting_id,
            media_region=media_region,
            control_region=control_region,
            features=features,
            max_attendees=max_attendees,
        )
        self.meetings[meeting.meeting_id] = meeting
        return meeting

    def add_attendee(
        self, meeting: Meeting, *, external_user_id: str, capabilities: Mapping[str, str]
    ) -> Attendee:
        self._seq += 1
        attendee = Attendee(
            attendee_id=self.new_id(),
            external_user_id=external_user_id,
            capabilities=dict(capabilities),
            seq=self._seq,
        )
        meeting.attendees[attendee.attendee_id] = attendee
        meeting.users[external_user_id.casefold()] = attendee.attendee_id
        return attendee

    def remove_attendee(self, meeting_id: str, attendee_id: str, *, reason: str) -> bool:
        """An attendee leaves (`reason`: the operation, "churn", or who removed it)."""
        meeting = self.meetings.get(meeting_id)
        attendee = None if meeting is None else meeting.attendees.pop(attendee_id, None)
        if meeting is None or attendee is None:
            return False
        meeting.users.pop(attendee.external_user_id.casefold(), None)
        self.departed.append(Departure(meeting_id, attendee_id, reason))
        return True

    def remove_meeting(self, meeting_id: str, *, reason: str) -> bool:
        """A meeting ends; its attendees depart with `reason`."""
        meeting = self.meetings.pop(meeting_id, None)
        if meeting is None:
            return False
        self.departed.extend(Departure(meeting_id, a, reason) for a in meeting.attendees)
        return True

    def write(self, meeting: Meeting, attendee: Attendee, capabilities: Mapping[str, str]) -> None:
        """Set `attendee`'s capabilities through the API (counted in `write_count`)."""
        attendee.capabilities = dict(capabilities)
        key = (meeting.meeting_id, attendee.attendee_id)
        self._write_counts[key] = self._write_counts.get(key, 0) + 1

    def acknowledge(self, meeting: Meeting, attendees: list[Attendee]) -> None:
        """The writes just applied to `attendees` were answered 200 (not lost to a fault)."""
        for attendee in attendees:
            key = (meeting.meeting_id, attendee.attendee_id)
            self._acknowledged[key] = self._acknowledged.get(key, 0) + 1

    def write_count(self, meeting_id: str, attendee_id: str) -> int:
        return self._write_counts.get((meeting_id, attendee_id), 0)

    def acknowledged_count(self, meeting_id: str, attendee_id: str) -> int:
        return self._acknowledged.get((meeting_id, attendee_id), 0)

    def attendee(self, meeting_id: str, attendee_id: str) -> Attendee | None:
        meeting = self.meetings.get(meeting_id)
        return None if meeting is None else meeting.attendees.get(attendee_id)

    def snapshot(self) -> dict[str, list[str]]:
        return {m.meeting_id: list(m.attendees) for m in self.meetings.values()}
