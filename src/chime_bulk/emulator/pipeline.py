"""The per-request pipeline: every check, fault and write in the order the service meets them.

Order: latency → SigV4 present (403) → `unauthorized` fault (401) → known operation →
quota (429) → brownout (503) → p503 → p500 → validation and lookups (400/404) → churn →
reset before write → write → p500 after write / reset after write → response.

A request stopped before the write changes nothing. Each request is logged once as a
`RequestRecord`. The hot path does no logging and no I/O beyond the response itself.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from . import operations as ops
from .faults import FaultInjector
from .handlers import HANDLERS, Call, Result, prepare_write
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


def _reset(request: web.BaseRequest) -> None:
    """Drop the connection with a TCP RST and no response, as a failing load balancer does."""
    transport = request.transport
    if transport is None:
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
    ) -> None:
        self._store = store
        self._quota = quota
        self._faults = faults
        self._clock = clock

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        now = self._clock()
        request_id = new_request_id()
        latency_s = self._faults.latency_s()
        if latency_s:
            await asyncio.sleep(latency_s)
        body = await request.read() if request.body_exists else b""
        route = ops.resolve(request.method, request.path, request.query.get("operation"))
        with self._store.lock:
            self._faults.on_request(now)
            outcome = self._decide(request, route, body, now)
            self._log(route, outcome, now=now, request_id=request_id)
        if outcome.reset:
            _reset(request)
            # aiohttp fails to write this to the aborted transport and drops it quietly.
            return web.Response(status=500)
        if outcome.error is not None:
            return error_response(outcome.error, request_id=request_id)
        assert outcome.result is not None
        status, payload = outcome.result
        return json_response(status, payload, request_id=request_id)

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
        self._store.log.append(
            RequestRecord(
                time=now,
                operation=route.operation if route else UNKNOWN_OPERATION,
                meeting_id=route.meeting_id if route else None,
                attendee_id=route.attendee_id if route else None,
                status=status,
                error_code=code,
                state_changed=outcome.state_changed,
                request_id=request_id,
            )
        )

    def _decide(
        self, request: web.BaseRequest, route: ops.Route | None, body: bytes, now: float
    ) -> _Outcome:
        try:
            return self._handle(request, route, body, now)
        except ServiceError as error:
            return _Outcome(error=error)

    def _handle(
        self, request: web.BaseRequest, route: ops.Route | None, body: bytes, now: float
    ) -> _Outcome:
        region = signing_region(request.headers.get("Authorization"))
        if region is None:
            raise ServiceError(
                "ForbiddenException", "Missing or invalid SigV4 Authorization header."
            )
        if self._faults.faults.unauthorized:
            raise ServiceError("UnauthorizedException", "The credentials are not authorized.")
        if route is None:
            raise ServiceError(
                "UnknownOperationException",
                f"No operation matches {request.method} {request.path}.",
            )
        if not self._quota.try_acquire(route.operation):
            raise ServiceError("ThrottlingException", "Rate exceeded.")
        call = Call(route=route, body=parse_body(body), query=request.query, region=region)
        if route.operation in ops.WRITE_OPERATIONS:
            return self._write(call, now)
        result = HANDLERS[route.operation](call, self._store)
        return _Outcome(result=result, state_changed=route.operation in ops.MUTATING_OPERATIONS)

    def _write(self, call: Call, now: float) -> _Outcome:
        faults = self._faults
        settings = faults.faults
        retry_after = faults.brownout_retry_after(now)
        if retry_after is not None:
            raise _unavailable(retry_after)
        if faults.strikes(settings.p503):
            raise _unavailable(settings.retry_after_s)
        if faults.strikes(settings.p500):
            raise ServiceError("ServiceFailureException", "Injected failure before the write.")
        pending = prepare_write(call, self._store)
        if faults.strikes(settings.p_churn):
            pending.churn(self._store, faults.choose)
        if faults.strikes(settings.p_reset_before_write):
            return _Outcome(reset=True)
        result = pending.apply(self._store)
        changed = pending.changes_state
        if faults.strikes(settings.p500_after_write):
            error = ServiceError("ServiceFailureException", "Injected failure after the write.")
            return _Outcome(error=error, state_changed=changed)
        if faults.strikes(settings.p_reset_after_write):
            return _Outcome(reset=True, state_changed=changed)
        return _Outcome(result=result, state_changed=changed)


def _unavailable(retry_after_s: float) -> ServiceError:
    return ServiceError(
        "ServiceUnavailableException",
        "The service is unavailable; retry later.",
        retry_after_s=retry_after_s,
    )
