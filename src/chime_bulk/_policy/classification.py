"""What an attempt's failure means: retry it, report it, or stop the whole run.

One table (DESIGN.md, "Error classes") decides by error code first and HTTP status second, so
a 429 whose code nobody has heard of is still a throttle and a `LimitExceededException` (a
resource limit, not a rate) is not one. Transport failures below HTTP are transient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from .._model.errors import ConfigurationError

__all__ = ["ErrorKind", "Failure", "classify"]


class ErrorKind(StrEnum):
    """What a failed attempt means for the update and for the run (DESIGN.md's table)."""

    THROTTLE = "throttle"  # retry with full jitter; slow the pacer down
    UNAVAILABLE = "unavailable"  # retry no sooner than Retry-After; may be a brownout
    TRANSIENT = "transient"  # retry, bounded
    NOT_FOUND = "not_found"  # final: the meeting or attendee is gone
    REJECTED = "rejected"  # final: the service said no to this update
    FATAL = "fatal"  # stop the run: nothing more can succeed

    @property
    def retryable(self) -> bool:
        return self in (ErrorKind.THROTTLE, ErrorKind.UNAVAILABLE, ErrorKind.TRANSIENT)


_CODES: Final[dict[str, ErrorKind]] = {
    "ThrottlingException": ErrorKind.THROTTLE,
    "ThrottledClientException": ErrorKind.THROTTLE,
    "TooManyRequestsException": ErrorKind.THROTTLE,
    "ServiceUnavailableException": ErrorKind.UNAVAILABLE,
    "ServiceFailureException": ErrorKind.TRANSIENT,
    "ConflictException": ErrorKind.TRANSIENT,
    "InternalServerError": ErrorKind.TRANSIENT,
    "RequestTimeout": ErrorKind.TRANSIENT,
    "RequestTimeoutException": ErrorKind.TRANSIENT,
    # The request was signed too long before it arrived: a fresh signature fixes it.
    "RequestExpired": ErrorKind.TRANSIENT,
    "SignatureExpired": ErrorKind.TRANSIENT,
    "NotFoundException": ErrorKind.NOT_FOUND,
    "BadRequestException": ErrorKind.REJECTED,
    "UnprocessableEntityException": ErrorKind.REJECTED,
    # A resource limit, not a rate: botocore's standard mode wrongly retries it as a throttle.
    "LimitExceededException": ErrorKind.REJECTED,
    "ValidationException": ErrorKind.REJECTED,
    "UnauthorizedException": ErrorKind.FATAL,
    "UnauthorizedClientException": ErrorKind.FATAL,
    "ForbiddenException": ErrorKind.FATAL,
    "AccessDeniedException": ErrorKind.FATAL,
    "UnrecognizedClientException": ErrorKind.FATAL,
    "InvalidSignatureException": ErrorKind.FATAL,
    "SignatureDoesNotMatch": ErrorKind.FATAL,
    "ExpiredTokenException": ErrorKind.FATAL,
}


_SIGNATURE_EXPIRED: Final = "Signature expired"


def _kind_for_status(status: int) -> ErrorKind:
    if status == 429:
        return ErrorKind.THROTTLE
    if status == 503:
        return ErrorKind.UNAVAILABLE
    if status in (401, 403):
        return ErrorKind.FATAL
    if status == 404:
        return ErrorKind.NOT_FOUND
    if status == 409 or status >= 500:
        return ErrorKind.TRANSIENT
    return ErrorKind.REJECTED


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    """One failed attempt, classified. Never holds the raw response (it may carry secrets)."""

    kind: ErrorKind
    code: str
    message: str
    status: int | None = None
    request_id: str | None = None
    retry_after_s: float | None = None
    # The connection could not even be made (refused, no route, DNS): if nothing has ever
    # answered, the endpoint is wrong rather than busy.
    unreachable: bool = False


def _retry_after(response: dict[str, Any]) -> float | None:
    # botocore surfaces the 503's Retry-After header as RetryAfterSeconds (a string); fall back
    # to the header for a 429 or a service whose model does not bind it.
    raw = response.get("RetryAfterSeconds")
    if raw is None:
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        return None  # an HTTP-date or garbage: fall back to our own backoff
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _from_client_error(error: ClientError) -> Failure:
    response: dict[str, Any] = error.response
    code = str(response.get("Error", {}).get("Code") or "")
    metadata = response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode")
    kind = _CODES.get(code)
    message = str(response.get("Error", {}).get("Message") or "")
    if kind is ErrorKind.FATAL and _SIGNATURE_EXPIRED in message:
        # Clock skew or a long wait before sending: rest-json services say so with a 403
        # InvalidSignatureException. A fresh signature on the next attempt fixes it.
        kind = ErrorKind.TRANSIENT
    if kind is None:
        kind = _kind_for_status(status) if isinstance(status, int) else ErrorKind.TRANSIENT
    return Failure(
        kind=kind,
        code=code or f"HTTP{status}",
        message=message,
        status=status if isinstance(status, int) else None,
        request_id=metadata.get("RequestId"),
        retry_after_s=_retry_after(response),
    )


#: What aiohttp, httpx and the socket layer raise when no connection could be made at all
#: (as opposed to one that was made and then reset).
_CONNECT_FAILURES: Final = frozenset(
    {
        "ClientConnectorError",
        "ClientConnectorDNSError",
        "ConnectError",
        "ConnectionRefusedError",
        "gaierror",
    }
)


def _could_not_connect(error: Exception) -> bool:
    if isinstance(error, ConnectTimeoutError | ConnectionRefusedError):
        return True
    inner = getattr(error, "kwargs", {}).get("error")
    return type(inner).__name__ in _CONNECT_FAILURES


def classify(error: Exception) -> Failure:
    """Classify the exception one aiobotocore call raised.

    Cancellation is not an `Exception` and never reaches here; anything unrecognised is
    `rejected` (final), because retrying a bug only hides it.
    """
    if isinstance(error, ClientError):
        return _from_client_error(error)
    name = type(error).__name__
    if isinstance(
        error,
        NoCredentialsError
        | PartialCredentialsError
        | CredentialRetrievalError
        | ConfigurationError,
    ):
        return Failure(kind=ErrorKind.FATAL, code=name, message=str(error))
    if isinstance(error, HTTPClientError | BotoConnectionError | TimeoutError | OSError):
        return Failure(
            kind=ErrorKind.TRANSIENT,
            code=name,
            message=str(error),
            unreachable=_could_not_connect(error),
        )
    if isinstance(error, BotoCoreError):
        return Failure(kind=ErrorKind.REJECTED, code=name, message=str(error))
    return Failure(kind=ErrorKind.REJECTED, code=name, message=str(error) or name)
