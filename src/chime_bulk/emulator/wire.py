"""What the emulator puts on the wire: request IDs, JSON bodies and AWS-shaped errors.

An error is sent the way the real service sends it, so botocore raises the modeled class:
the status of the model's error shape, `x-amzn-ErrorType: <shape name>`, a JSON body
`{"Code", "Message", "RequestId"}` (`Code` as in `BODY_CODE`), and on 503 a `Retry-After`
header (botocore exposes it as `err.response["RetryAfterSeconds"]`). Every response, success
or not, has `x-amzn-RequestId`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

__all__ = [
    "BODY_CODE",
    "ERROR_STATUS",
    "ServiceError",
    "error_response",
    "format_seconds",
    "json_response",
    "new_request_id",
]

#: HTTP status of every error shape in the botocore model (a test pins it to the model).
ERROR_STATUS: Final[Mapping[str, int]] = {
    "BadRequestException": 400,
    "ConflictException": 409,
    "ForbiddenException": 403,
    "LimitExceededException": 400,
    "NotFoundException": 404,
    "ResourceNotFoundException": 404,
    "ServiceFailureException": 500,
    "ServiceUnavailableException": 503,
    "ThrottlingException": 429,
    "TooManyTagsException": 400,
    "UnauthorizedException": 401,
    "UnprocessableEntityException": 422,
    # Not in the model: what AWS front ends answer for a path no operation has, for a
    # request that breaks the model's constraints (see `model`), and for bad credentials
    # (AWS "Common Errors": 403 UnrecognizedClient / InvalidSignature / ExpiredToken).
    "UnknownOperationException": 404,
    "ValidationException": 400,
    "UnrecognizedClientException": 403,
    "InvalidSignatureException": 403,
    "ExpiredTokenException": 403,
}

#: The body's `Code` for each error. The model types the member as a plain string; the Chime
#: API it was split from (botocore `chime` 2018-05-01) types the same member with its
#: `ErrorCode` enum — `BadRequest`, `NotFound`, `Throttling`, … — so that is what the body
#: carries, while `x-amzn-ErrorType` names the exception shape (it is what botocore and the
#: other SDKs turn into the exception class). Errors of the AWS front end, outside the
#: service, carry their own name in both.
BODY_CODE: Final[Mapping[str, str]] = {
    "BadRequestException": "BadRequest",
    "ConflictException": "Conflict",
    "ForbiddenException": "Forbidden",
    "LimitExceededException": "ResourceLimitExceeded",
    "NotFoundException": "NotFound",
    "ResourceNotFoundException": "NotFound",
    "ServiceFailureException": "ServiceFailure",
    "ServiceUnavailableException": "ServiceUnavailable",
    "ThrottlingException": "Throttling",
    "TooManyTagsException": "ResourceLimitExceeded",
    "UnauthorizedException": "Unauthorized",
    "UnprocessableEntityException": "Unprocessable",
}


class ServiceError(Exception):
    """An error response the service sends; raised by handlers, rendered by `error_response`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retry_after_s: float | None = None,
        amz_retry_after: bool = False,
        fault: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = ERROR_STATUS[code]
        self.message = message
        self.retry_after_s = retry_after_s
        self.amz_retry_after = amz_retry_after
        self.fault = fault  # the injected fault this error is, for the request log

    @property
    def body_code(self) -> str:
        """The `Code` member of the error body (and of a `CreateAttendeeError`)."""
        return BODY_CODE.get(self.code, self.code)

    @classmethod
    def bad_request(cls, message: str) -> ServiceError:
        return cls("BadRequestException", message)

    @classmethod
    def not_found(cls, message: str) -> ServiceError:
        return cls("NotFoundException", message)


def new_request_id() -> str:
    return str(uuid.uuid4())


def format_seconds(seconds: float) -> str:
    """A `Retry-After` value: whole seconds as an integer ("2"), fractions as a decimal.

    RFC 9110 allows only integers; fractions are kept so tests can use sub-second hints.
    """
    return f"{seconds:g}"


def json_response(status: int, body: Mapping[str, Any] | None, *, request_id: str) -> web.Response:
    """A success response; `body=None` sends no body (204 operations and empty outputs)."""
    headers = {"x-amzn-RequestId": request_id}
    if body is None:
        return web.Response(status=status, headers=headers)
    headers["Content-Type"] = "application/json"
    return web.Response(status=status, body=json.dumps(body).encode(), headers=headers)


def error_response(error: ServiceError, *, request_id: str) -> web.Response:
    headers = {
        "x-amzn-RequestId": request_id,
        "x-amzn-ErrorType": error.code,
        "Content-Type": "application/json",
    }
    if error.retry_after_s is not None:
        headers["Retry-After"] = format_seconds(error.retry_after_s)
        if error.amz_retry_after:
            # Some AWS SDKs (e.g. the Rust SDK's) read this one, in milliseconds.
            headers["x-amz-retry-after"] = str(round(error.retry_after_s * 1000))
    body = {"Code": error.body_code, "Message": error.message, "RequestId": request_id}
    return web.Response(status=error.status, body=json.dumps(body).encode(), headers=headers)
