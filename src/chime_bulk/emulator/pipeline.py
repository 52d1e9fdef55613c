"""The per-request pipeline: every check, fault and write in the order the service meets them.

Order: latency → SigV4 present (403) → `unauthorized` fault (401) → known operation →
quota (429) → the model's constraints (400, `model`) → brownout (503) → p503 → p500 →
the service's own rules and lookups (400/404) → churn → reset before write → write →
p500 after write / reset after write → response.

A request stopped before the write changes nothing. Each request is logged once as a
`RequestRecord`. The hot path does no logging and no I/O beyond the response itself.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from . import operations as ops
from .admin import ADMIN_PREFIX
from .faults import AUTH_FAILURES, FaultInjector, Faults
from .handlers import HANDLERS, Call, PendingWrite, Result, prepare_write
from .model import check_operation_input
from .quota import Quota
from .state import RequestRecord, Store
from .validation import parse_body
from .wire import ServiceError, error_response, json_response, new_request_id

__all__ = ["Pipeline"]

_SIGV4: Final = "AWS4-HMAC-SHA256"
#: `RequestRecord.operation` of a request that matched no route.
UNKNOWN_OPERATION: Final = "Unknown"
_LINGER_RESET: Final = struct.pack("ii", 1, 0)


@dataclass(slots=True)
class _Outcome:
    result: Result | None = None
    error: ServiceError | None = None
    state_changed: bool = False
    reset: bool = False
    fault: str | None = None


def signing_region(authorization: str | None) -> str | None:
    """The Region of a SigV4 `Authorization` header's credential scope; None if not SigV4.

    The header looks like `AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/chime/
    aws4_request, SignedHeaders=…, Signature=…`. The signature itself is not checked.
    """
    if authorization is None or not authorization.startswith(_SIGV4):
        return None
    _, found, rest = authorization.partition("Credential=")
    scope = rest.split(",", 1)[0].strip().split("/")
    if not found or len(scope) != 5 or not scope[2]:
        return None
    return scope[2]


def _reset(request: web.BaseRequest, *, fin: bool) -> None:
    """Drop the connection without a response, as a failing load balancer does: with a TCP
    RST, or (`fin`) by closing it cleanly."""
    transport = request.transport
    if transport is None:
        return
    if fin:
        transport.close()
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


class Pipeline:
    """The aiohttp request handler of one emulator."""

    def __init__(
        self,
        *,
        store: Store,
        quota: Quota,
        faults: FaultInjector,
        clock: Callable[[], float],
        on_error: Callable[[BaseException], None],
        admin: Callable[[web.BaseRequest, str], Awaitable[web.StreamResponse]],
    ) -> None:
        self._admin = admin
        self._on_error = on_error
        self._in_flight: list[tuple[str | None, str | None]] = []
        self._store = store
        self._quota = quota
        self._faults = faults
        self._clock = clock

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        request_id = new_request_id()
        try:
            return await self._serve(request, request_id)
        except ConnectionResetError:
            # The client gave up (a read timeout during injected latency) before its body
            # was read: nobody is left to answer, and it is not the emulator's fault.
            raise
        except Exception as error:
            # A bug of the emulator's: answer like the service would, and let stop() raise it.
            self._on_error(error)
            failure = ServiceError("ServiceFailureException", "The emulator failed internally.")
            return error_response(failure, request_id=request_id)

    async def _serve(self, request: web.BaseRequest, request_id: str) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await self._admin(request, request_id)
        now = self._clock()
        route = ops.resolve(request.method, request.path, request.query.get("operation"))
        faults = self._faults.faults
        operation = route.operation if route else UNKNOWN_OPERATION
        # Registered on arrival, so that a write arriving while another is in flight (e.g.
        # during injected latency) sees it.
        key = _write_key(route)
        conflict = False
        if key is not None:
            conflict = faults.conflict_on_overlap and faults.hits(operation) and self._overlaps(key)
            self._in_flight.append(key)
        try:
            if faults.hits(operation, every_request=True):
                delay = self._faults.latency_s(faults)
                if delay:
                    await asyncio.sleep(delay)
            body = await request.read() if request.body_exists else b""
            with self._store.lock:
                self._faults.on_request(now)
                outcome = self._decide(request, route, body, now, conflict=conflict)
                self._log(route, outcome, now=now, request_id=request_id)
        finally:
            if key is not None:
                self._in_flight.remove(key)
        if outcome.reset:
            _reset(request, fin=faults.reset == "fin")
            # aiohttp fails to write this to the closed transport and drops it quietly.
            return web.Response(status=500)
        if outcome.error is not None:
            return error_response(outcome.error, request_id=request_id)
        assert outcome.result is not None
        status, payload = outcome.result
        return json_response(status, payload, request_id=request_id)

    def _overlaps(self, key: tuple[str | None, str | None]) -> bool:
        meeting_id, attendee_id = key
        return any(
            other_meeting == meeting_id
            and (attendee_id is None or other_attendee is None or other_attendee == attendee_id)
            for other_meeting, other_attendee in self._in_flight
        )

    def _log(
        self, route: ops.Route | None, outcome: _Outcome, *, now: float, request_id: str
    ) -> None:
        if outcome.reset:
            status, code = 0, None
        elif outcome.error is not None:
            status, code = outcome.error.status, outcome.error.code
        else:
            assert outcome.result is not None
            status, code = outcome.result[0], None
        self._store.append_record(
            RequestRecord(
                time=now,
                operation=route.operation if route else UNKNOWN_OPERATION,
                meeting_id=route.meeting_id if route else None,
                attendee_id=route.attendee_id if route else None,
                status=status,
                error_code=code,
                state_changed=outcome.state_changed,
                request_id=request_id,
                fault=outcome.fault or (outcome.error.fault if outcome.error else None),
            )
        )

    def _decide(
        self,
        request: web.BaseRequest,
        route: ops.Route | None,
        body: bytes,
        now: float,
        *,
        conflict: bool,
    ) -> _Outcome:
        try:
            return self._handle(request, route, body, now, conflict=conflict)
        except ServiceError as error:
            return _Outcome(error=error)

    def _handle(
        self,
        request: web.BaseRequest,
        route: ops.Route | None,
        body: bytes,
        now: float,
        *,
        conflict: bool,
    ) -> _Outcome:
        settings = self._faults.faults
        region = signing_region(request.headers.get("Authorization"))
        if region is None:
            raise ServiceError(
                "ForbiddenException", "Missing or invalid SigV4 Authorization header."
            )
        auth_code = settings.auth_code
        operation = route.operation if route else UNKNOWN_OPERATION
        if auth_code is not None and settings.hits(operation, every_request=True):
            raise ServiceError(auth_code, AUTH_FAILURES[auth_code][1], fault="auth_failure")
        if route is None:
            raise ServiceError(
                "UnknownOperationException",
                f"No operation matches {request.method} {request.path}.",
            )
        if not self._quota.try_acquire(route.operation):
            raise ServiceError("ThrottlingException", "Rate exceeded.")
        call = Call(route=route, body=parse_body(body), query=request.query, region=region)
        # The model's constraints come before any lookup, as the service's front end has them.
        check_operation_input(
            route.operation,
            uri={"MeetingId": route.meeting_id, "AttendeeId": route.attendee_id},
            query=call.query,
            body=call.body,
        )
        faulted = settings.hits(route.operation)
        if faulted:
            self._before(now, conflict=conflict)
        return self._apply(call, faulted=faulted)

    def _before(self, now: float, *, conflict: bool) -> None:
        """The faults that strike before the service does anything."""
        faults = self._faults
        settings = faults.faults
        if conflict:
            raise ServiceError(
                "ConflictException",
                "Another write to this attendee is in progress.",
                fault="conflict_on_overlap",
            )
        retry_after = faults.brownout_retry_after(now)
        if retry_after is not None:
            raise _unavailable(retry_after, settings, fault="brownout")
        if faults.strikes(settings.p503):
            raise _unavailable(settings.retry_after_s, settings, fault="p503")
        if faults.strikes(settings.p500):
            raise ServiceError(
                "ServiceFailureException", "Injected failure before the write.", fault="p500"
            )

    def _apply(self, call: Call, *, faulted: bool) -> _Outcome:
        faults = self._faults
        settings = faults.faults
        operation = call.route.operation
        pending: PendingWrite | None = None
        churned = None
        if operation in ops.WRITE_OPERATIONS:
            pending = prepare_write(call, self._store)
            if faulted and faults.strikes(settings.p_churn):
                churned = "p_churn"
                try:
                    pending.churn(self._store, faults.choose)
                except ServiceError as gone:
                    gone.fault = churned
                    raise
        if faulted and faults.strikes(settings.p_reset_before_write):
            return _Outcome(reset=True, fault="p_reset_before_write")
        if pending is not None:
            result = pending.apply(self._store)
            changed = pending.changes_state
        else:
            result = HANDLERS[operation](call, self._store)
            changed = operation in ops.MUTATING_OPERATIONS
        if faulted and faults.strikes(settings.p500_after_write):
            failure = ServiceError(
                "ServiceFailureException",
                "Injected failure after the write.",
                fault="p500_after_write",
            )
            return _Outcome(error=failure, state_changed=changed)
        if faulted and faults.strikes(settings.p_reset_after_write):
            return _Outcome(reset=True, state_changed=changed, fault="p_reset_after_write")
        if pending is not None:
            self._store.acknowledge(pending.meeting, pending.targets)
        return _Outcome(result=result, state_changed=changed, fault=churned)


def _write_key(route: ops.Route | None) -> tuple[str | None, str | None] | None:
    """What a capability write touches: one attendee, or (None) every one of the meeting."""
    if route is None or route.operation not in ops.WRITE_OPERATIONS:
        return None
    return route.meeting_id, route.attendee_id


def _unavailable(retry_after_s: float, settings: Faults, *, fault: str) -> ServiceError:
    return ServiceError(
        "ServiceUnavailableException",
        "The service is unavailable; retry later.",
        retry_after_s=retry_after_s,
        amz_retry_after=settings.x_amz_retry_after,
        fault=fault,
    )
