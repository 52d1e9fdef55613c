"""Classification follows DESIGN.md's table: code first, HTTP status second."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from chime_bulk._policy.classification import ErrorKind, classify


def _client_error(
    code: str, status: int, *, retry_after: str | None = None, request_id: str = "rid"
) -> ClientError:
    response: dict[str, object] = {
        "Error": {"Code": code, "Message": f"{code} happened"},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": request_id, "HTTPHeaders": {}},
    }
    if retry_after is not None:
        response["RetryAfterSeconds"] = retry_after
    return ClientError(response, "UpdateAttendeeCapabilities")


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        pytest.param("ThrottlingException", 429, ErrorKind.THROTTLE, id="throttling"),
        pytest.param("ThrottledClientException", 429, ErrorKind.THROTTLE, id="throttled-client"),
        pytest.param("TooManyRequestsException", 429, ErrorKind.THROTTLE, id="too-many"),
        pytest.param("SomethingNew", 429, ErrorKind.THROTTLE, id="unknown-429"),
        pytest.param("ServiceUnavailableException", 503, ErrorKind.UNAVAILABLE, id="503"),
        pytest.param("ServiceFailureException", 500, ErrorKind.TRANSIENT, id="500"),
        pytest.param("", 502, ErrorKind.TRANSIENT, id="bare-502"),
        pytest.param("", 504, ErrorKind.TRANSIENT, id="bare-504"),
        pytest.param("ConflictException", 409, ErrorKind.TRANSIENT, id="conflict"),
        pytest.param("NotFoundException", 404, ErrorKind.NOT_FOUND, id="not-found"),
        pytest.param("BadRequestException", 400, ErrorKind.REJECTED, id="bad-request"),
        pytest.param("UnprocessableEntityException", 422, ErrorKind.REJECTED, id="422"),
        pytest.param("LimitExceededException", 400, ErrorKind.REJECTED, id="limit-not-rate"),
        pytest.param("UnauthorizedClientException", 401, ErrorKind.FATAL, id="401"),
        pytest.param("ForbiddenException", 403, ErrorKind.FATAL, id="403"),
        pytest.param("", 403, ErrorKind.FATAL, id="bare-403"),
    ],
)
def test_service_errors(code: str, status: int, kind: ErrorKind) -> None:
    """Each service error lands in the class DESIGN.md gives it."""
    assert classify(_client_error(code, status)).kind is kind


def test_retry_after_and_request_id_are_kept() -> None:
    """A 503's Retry-After (a string from botocore) becomes seconds; the request ID is kept."""
    failure = classify(_client_error("ServiceUnavailableException", 503, retry_after="2"))
    assert failure.retry_after_s == 2.0
    assert failure.request_id == "rid"
    assert failure.code == "ServiceUnavailableException"


def test_unparseable_retry_after_is_ignored() -> None:
    """A Retry-After that is not a number of seconds falls back to our own backoff."""
    failure = classify(_client_error("ServiceUnavailableException", 503, retry_after="soon"))
    assert failure.retry_after_s is None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        pytest.param(
            ConnectionClosedError(endpoint_url="http://x"), ErrorKind.TRANSIENT, id="reset"
        ),
        pytest.param(ReadTimeoutError(endpoint_url="http://x"), ErrorKind.TRANSIENT, id="timeout"),
        pytest.param(
            EndpointConnectionError(endpoint_url="http://x"), ErrorKind.TRANSIENT, id="refused"
        ),
        pytest.param(NoCredentialsError(), ErrorKind.FATAL, id="no-credentials"),
        pytest.param(ParamValidationError(report="bad"), ErrorKind.REJECTED, id="param"),
        pytest.param(ValueError("bug"), ErrorKind.REJECTED, id="bug"),
    ],
)
def test_transport_and_local_errors(error: Exception, kind: ErrorKind) -> None:
    """Transport failures are transient, missing credentials fatal, local bugs final."""
    assert classify(error).kind is kind


def test_an_expired_signature_is_retried_not_fatal() -> None:
    """A 403 saying the signature expired (clock skew) is transient; other 403s are fatal."""
    expired = ClientError(
        {
            "Error": {
                "Code": "InvalidSignatureException",
                "Message": "Signature expired: 20261126T",
            },
            "ResponseMetadata": {"HTTPStatusCode": 403, "RequestId": "r", "HTTPHeaders": {}},
        },
        "UpdateAttendeeCapabilities",
    )
    assert classify(expired).kind is ErrorKind.TRANSIENT
    assert classify(_client_error("InvalidSignatureException", 403)).kind is ErrorKind.FATAL
