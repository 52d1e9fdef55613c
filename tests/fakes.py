"""An in-memory `chime-sdk-meetings` client for tests that need exact timing.

`FakeChime` is shaped like the aiobotocore client chime-bulk is given (`meta.region_name`,
`meta.config.retries`, the four async operations it calls) and fails the way botocore does:
with real `botocore.exceptions.ClientError`s carrying the AWS response shape (`Error.Code`,
`ResponseMetadata.HTTPStatusCode` and `RequestId`, and for a 503 `RetryAfterSeconds` as a
string). Every fault is decided on the event loop's clock (`anyio.current_time()`), so under
trio's `MockClock(autojump_threshold=0)` a run takes no wall time and the tests can expect exact
call times. It is a test double of the *service*, written apart from the engine: its quota is
its own token bucket, not the engine's.

Every call is logged (`calls`) with the time it arrived and when (and whether) it was
answered; `capabilities()` and `writes()` are the ground truth a report is checked against.
Times are seconds since the fake was made, so make it inside the test, just before the run.
"""

from __future__ import annotations

import random as _random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Final

import anyio
import pytest
from botocore.exceptions import ClientError
from trio.testing import MockClock

__all__ = [
    "NOT_FOUND",
    "SERVER_ERROR",
    "THROTTLED",
    "UNAUTHORIZED",
    "Call",
    "FakeChime",
    "Fault",
    "ManualClock",
    "Window",
    "attendee_id",
    "meeting_id",
    "trio_mock_clock",
    "trio_mock_clock_backend",
    "unavailable",
]


class ManualClock:
    """A clock that moves only when a test moves it (`now`, `advance`): for the pure,
    clock-injected policies (pacers, gates, circuits, sizers)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


UPDATE: Final = "UpdateAttendeeCapabilities"
BATCH: Final = "BatchUpdateAttendeeCapabilitiesExcept"
LIST: Final = "ListAttendees"
GET_MEETING: Final = "GetMeeting"
ALL_SEND_RECEIVE: Final = {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}


def trio_mock_clock() -> Any:
    """An `anyio_backend` parameter: trio with a fresh clock that jumps to the next deadline
    as soon as every task waits, so sleeps take no wall time and times are exact.

    For one test: `@pytest.mark.parametrize("anyio_backend", [trio_mock_clock()])`; for a
    whole module, the `trio_mock_clock_backend` fixture (a fresh clock for every test).
    """
    return pytest.param(("trio", {"clock": MockClock(autojump_threshold=0)}), id="trio-mockclock")


@pytest.fixture(params=[pytest.param("trio", id="trio-mockclock")])
def trio_mock_clock_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Use as `anyio_backend = trio_mock_clock_backend` in a module: every test runs under
    trio with its own `MockClock(autojump_threshold=0)`."""
    backend: str = request.param
    return (backend, {"clock": MockClock(autojump_threshold=0)})


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """An error answer. `lands`: the write is applied before the error is returned (a 500
    after the write), so only the ground truth shows that it happened."""

    status: int
    code: str
    message: str = ""
    retry_after_s: float | None = None
    lands: bool = False


THROTTLED: Final = Fault(status=429, code="ThrottlingException", message="Rate exceeded")
SERVER_ERROR: Final = Fault(status=500, code="ServiceFailureException", message="internal")
UNAUTHORIZED: Final = Fault(
    status=401, code="UnauthorizedException", message="The security token is invalid"
)
NOT_FOUND: Final = Fault(status=404, code="NotFoundException", message="attendee not found")


def unavailable(retry_after_s: float | None = 1.0) -> Fault:
    """A 503 that asks to come back after `retry_after_s` (None: no Retry-After at all)."""
    return Fault(
        status=503,
        code="ServiceUnavailableException",
        message="Service unavailable",
        retry_after_s=retry_after_s,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """Every write arriving in `[start, end)` is answered with `fault` (a brownout, say)."""

    start: float
    end: float
    fault: Fault


@dataclass(slots=True, kw_only=True)
class Call:
    """One call the fake received: when it arrived, and when and how it was answered
    (`answered` and `status` stay None when it was cut off, i.e. cancelled on the wire)."""

    time: float
    operation: str
    meeting_id: str
    attendee_id: str | None
    request_id: str
    status: int | None = None
    error_code: str | None = None
    answered: float | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.meeting_id, self.attendee_id)


@dataclass(slots=True)
class _Bucket:
    """The service's quota: a plain token bucket, refilled on the loop clock."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(slots=True)
class _Meeting:
    features: dict[str, Any]
    attendees: dict[str, dict[str, str]] = field(default_factory=dict)


def meeting_id(number: int) -> str:
    return f"{number:08x}-1111-4111-8111-000000000000"


def attendee_id(meeting: int, number: int) -> str:
    return f"{meeting:08x}-2222-4222-8222-{number:012x}"


class FakeChime:
    """An in-memory Chime SDK meetings service and client in one (see the module docstring).

    Faults are checked in this order, as the service would: the quota (`rate`, `burst`: 429),
    the `script` (attendee ID → the answers to its 1st, 2nd, … write; `None` is a normal
    answer), the `windows`, then seeded random 503s and 500s, churn (the attendee leaves: 404),
    an unknown meeting or attendee (404), and finally the write, maybe followed by a 500.
    Every call takes `latency_s` (an `anyio.sleep`, so it can be cut off).
    """

    def __init__(
        self,
        meetings: Mapping[str, Sequence[str]],
        *,
        region: str = "us-east-1",
        rate: float | None = None,
        burst: float | None = None,
        latency_s: float = 0.0,
        script: Mapping[str, Sequence[Fault | None]] | None = None,
        windows: Sequence[Window] = (),
        p503: float = 0.0,
        retry_after_s: float = 1.0,
        p500: float = 0.0,
        p500_after_write: float = 0.0,
        p_churn: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.meta = SimpleNamespace(
            region_name=region,
            endpoint_url="https://fake-chime.invalid",  # never connected to: calls stay in memory
            config=SimpleNamespace(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        self._meetings = {
            meeting: _Meeting(
                features={},
                attendees={attendee: dict(ALL_SEND_RECEIVE) for attendee in attendees},
            )
            for meeting, attendees in meetings.items()
        }
        self._start = anyio.current_time()
        self._rate = rate
        self._burst = burst if burst is not None else (rate or 0.0)
        self._buckets: dict[str, _Bucket] = {}
        self._latency_s = latency_s
        self._script = {attendee: list(answers) for attendee, answers in (script or {}).items()}
        self._windows = list(windows)
        self._p503 = p503
        self._retry_after_s = retry_after_s
        self._p500 = p500
        self._p500_after_write = p500_after_write
        self._p_churn = p_churn
        self._random = _random.Random(seed)
        self._writes: dict[tuple[str, str], int] = defaultdict(int)
        self._attempts: dict[str, int] = defaultdict(int)
        self.calls: list[Call] = []

    @classmethod
    def seeded(cls, *, meetings: int, attendees: int, **options: Any) -> FakeChime:
        """A fake holding `meetings` meetings of `attendees` attendees each."""
        return cls(
            {meeting_id(m): [attendee_id(m, a) for a in range(attendees)] for m in range(meetings)},
            **options,
        )

    # -- ground truth ----------------------------------------------------------------------

    @property
    def meetings(self) -> dict[str, list[str]]:
        """Meeting ID → its attendees' IDs, as they are now."""
        return {m: list(meeting.attendees) for m, meeting in self._meetings.items()}

    def capabilities(self, meeting: str, attendee: str) -> dict[str, str] | None:
        """The attendee's capabilities now; None once it has left (or never was)."""
        state = self._meetings.get(meeting)
        found = state.attendees.get(attendee) if state is not None else None
        return dict(found) if found is not None else None

    def writes(self, meeting: str, attendee: str) -> int:
        """How many writes to this attendee changed the fake's state."""
        return self._writes[(meeting, attendee)]

    def now(self) -> float:
        """The fake's clock: seconds since it was made."""
        return anyio.current_time() - self._start

    # -- the client ------------------------------------------------------------------------

    async def update_attendee_capabilities(
        self, *, MeetingId: str, AttendeeId: str, Capabilities: dict[str, str]
    ) -> dict[str, Any]:
        call = self._arrive(UPDATE, MeetingId, AttendeeId)
        fault = self._decide(call)
        await self._wait(call)
        meeting = self._meetings.get(MeetingId)
        if fault is None or fault.lands:
            assert meeting is not None
            meeting.attendees[AttendeeId] = dict(Capabilities)
            self._writes[(MeetingId, AttendeeId)] += 1
        if fault is not None:
            raise self._fail(call, fault)
        return self._answer(
            call,
            Attendee={
                "AttendeeId": AttendeeId,
                "ExternalUserId": f"user-{AttendeeId[-4:]}",
                "JoinToken": "secret-join-token",
                "Capabilities": dict(Capabilities),
            },
        )

    async def batch_update_attendee_capabilities_except(
        self,
        *,
        MeetingId: str,
        ExcludedAttendeeIds: Sequence[Mapping[str, str]],
        Capabilities: dict[str, str],
    ) -> dict[str, Any]:
        call = self._arrive(BATCH, MeetingId, None)
        fault = self._decide(call)
        await self._wait(call)
        if fault is not None:
            raise self._fail(call, fault)
        excluded = {item["AttendeeId"] for item in ExcludedAttendeeIds}
        meeting = self._meetings[MeetingId]
        for attendee in meeting.attendees:
            if attendee not in excluded:
                meeting.attendees[attendee] = dict(Capabilities)
                self._writes[(MeetingId, attendee)] += 1
        return self._answer(call)

    async def list_attendees(
        self, *, MeetingId: str, MaxResults: int = 100, NextToken: str | None = None
    ) -> dict[str, Any]:
        call = self._arrive(LIST, MeetingId, None)
        fault = self._decide(call)
        await self._wait(call)
        if fault is not None:
            raise self._fail(call, fault)
        attendees = list(self._meetings[MeetingId].attendees.items())
        start = int(NextToken or 0)
        page = attendees[start : start + MaxResults]
        extra = (
            {"NextToken": str(start + MaxResults)} if start + MaxResults < len(attendees) else {}
        )
        return self._answer(
            call,
            Attendees=[
                {
                    "AttendeeId": attendee,
                    "ExternalUserId": f"user-{attendee[-4:]}",
                    "JoinToken": "secret-join-token",
                    "Capabilities": dict(capabilities),
                }
                for attendee, capabilities in page
            ],
            **extra,
        )

    async def get_meeting(self, *, MeetingId: str) -> dict[str, Any]:
        call = self._arrive(GET_MEETING, MeetingId, None)
        fault = self._decide(call)
        await self._wait(call)
        if fault is not None:
            raise self._fail(call, fault)
        features = self._meetings[MeetingId].features
        return self._answer(
            call,
            Meeting={"MeetingId": MeetingId, "MediaRegion": self.meta.region_name}
            | ({"MeetingFeatures": features} if features else {}),
        )

    # -- how a call goes -------------------------------------------------------------------

    def _arrive(self, operation: str, meeting: str, attendee: str | None) -> Call:
        call = Call(
            time=self.now(),
            operation=operation,
            meeting_id=meeting,
            attendee_id=attendee,
            request_id=f"fake-{len(self.calls):06d}",
        )
        self.calls.append(call)
        return call

    def _decide(self, call: Call) -> Fault | None:
        """What this call will be answered (None: success), decided when it arrives."""
        if self._rate is not None:
            bucket = self._buckets.get(call.operation)
            if bucket is None:
                bucket = self._buckets[call.operation] = _Bucket(
                    rate=self._rate, burst=self._burst, tokens=self._burst, updated=call.time
                )
            if not bucket.take(call.time):
                return THROTTLED
        meeting = self._meetings.get(call.meeting_id)
        if meeting is None:
            return NOT_FOUND
        if call.operation not in (UPDATE, BATCH):
            return None
        if call.attendee_id is not None:
            answers = self._script.get(call.attendee_id)
            if answers is not None:
                attempt = self._attempts[call.attendee_id]
                self._attempts[call.attendee_id] += 1
                if attempt < len(answers) and answers[attempt] is not None:
                    return answers[attempt]
        for window in self._windows:
            if window.start <= call.time < window.end:
                return window.fault
        if self._random.random() < self._p503:
            return unavailable(self._retry_after_s)
        if self._random.random() < self._p500:
            return SERVER_ERROR
        if call.attendee_id is None:
            return None
        if call.attendee_id in meeting.attendees and self._random.random() < self._p_churn:
            del meeting.attendees[call.attendee_id]  # the attendee left just now
        if call.attendee_id not in meeting.attendees:
            return NOT_FOUND
        if self._random.random() < self._p500_after_write:
            return Fault(status=500, code="ServiceFailureException", message="after", lands=True)
        return None

    async def _wait(self, call: Call) -> None:
        # Always a checkpoint, as a real client's I/O is; a cancellation here cuts the call
        # off unanswered (`answered` stays None, and nothing is written).
        await anyio.sleep(self._latency_s)

    def _metadata(self, call: Call, status: int, headers: dict[str, str]) -> dict[str, Any]:
        return {
            "RequestId": call.request_id,
            "HTTPStatusCode": status,
            "HTTPHeaders": {"x-amzn-requestid": call.request_id, **headers},
            "RetryAttempts": 0,
        }

    def _answer(self, call: Call, **body: Any) -> dict[str, Any]:
        call.answered = self.now()
        call.status = 200
        return {"ResponseMetadata": self._metadata(call, 200, {}), **body}

    def _fail(self, call: Call, fault: Fault) -> ClientError:
        """The ClientError botocore raises for this answer, shaped as botocore shapes it."""
        call.answered = self.now()
        call.status = fault.status
        call.error_code = fault.code
        headers = {"x-amzn-errortype": fault.code}
        response: dict[str, Any] = {
            "Error": {"Code": fault.code, "Message": fault.message},
            "Code": fault.code,
            "Message": fault.message,
            "RequestId": call.request_id,
        }
        if fault.retry_after_s is not None:
            # botocore binds the Retry-After header to RetryAfterSeconds, as a string.
            seconds = f"{fault.retry_after_s:g}"
            response["RetryAfterSeconds"] = seconds
            headers["retry-after"] = seconds
        response["ResponseMetadata"] = self._metadata(call, fault.status, headers)
        return ClientError(response, call.operation)
