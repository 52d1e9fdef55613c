"""The emulator's routes and error statuses against botocore's own service model."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.loaders import Loader

from chime_bulk.emulator import OPERATIONS, WRITE_OPERATIONS
from chime_bulk.emulator.operations import Route, resolve
from chime_bulk.emulator.wire import ERROR_STATUS

MEETING = "6f2bd2ab-0d5b-4c5f-9e0a-6c2b4f3b8e11"
ATTENDEE = "0b8a3c3e-2a8c-4b1e-8f57-0c9d8a7b6e55"


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    loaded: dict[str, Any] = Loader().load_service_model("chime-sdk-meetings", "service-2")
    return loaded


def _request_for(http: dict[str, str]) -> tuple[str, str, str | None]:
    uri = http["requestUri"].replace("{MeetingId}", MEETING).replace("{AttendeeId}", ATTENDEE)
    parts = urlsplit(uri)
    operation = parse_qs(parts.query).get("operation", [None])[0]
    return http["method"], parts.path, operation


def test_every_model_operation_is_routed(model: dict[str, Any]) -> None:
    """Each operation's method and URI in the model resolve to that operation."""
    assert set(model["operations"]) == OPERATIONS
    for name, operation in model["operations"].items():
        method, path, query = _request_for(operation["http"])
        route = resolve(method, path, query)
        assert route is not None, name
        assert route.operation == name


def test_error_statuses_match_the_model(model: dict[str, Any]) -> None:
    """Every modeled error is sent with the model's HTTP status."""
    modeled = {
        name: shape["error"]["httpStatusCode"]
        for name, shape in model["shapes"].items()
        if shape.get("exception")
    }
    assert {code: ERROR_STATUS[code] for code in modeled} == modeled


def test_write_operations_are_the_two_capability_updates() -> None:
    """Write faults target exactly the two capability-changing operations."""
    assert {"UpdateAttendeeCapabilities", "BatchUpdateAttendeeCapabilitiesExcept"} == (
        WRITE_OPERATIONS
    )


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        pytest.param(
            "PUT",
            f"/meetings/{MEETING}/attendees/capabilities",
            "batch-update-except",
            Route("BatchUpdateAttendeeCapabilitiesExcept", MEETING, None),
            id="batch-update-wins-capabilities-segment",
        ),
        pytest.param(
            "PUT",
            f"/meetings/{MEETING}/attendees/capabilities",
            None,
            None,
            id="batch-path-without-operation-is-nothing",
        ),
        pytest.param(
            "GET",
            f"/meetings/{MEETING}/attendees/capabilities",
            None,
            Route("GetAttendee", MEETING, "capabilities"),
            id="get-capabilities-is-an-attendee-id",
        ),
        pytest.param(
            "PUT",
            f"/meetings/{MEETING}/attendees/{ATTENDEE}/capabilities",
            None,
            Route("UpdateAttendeeCapabilities", MEETING, ATTENDEE),
            id="single-update",
        ),
        pytest.param(
            "POST",
            f"/meetings/{MEETING}/attendees",
            "batch-create",
            Route("BatchCreateAttendee", MEETING, None),
            id="batch-create-by-query",
        ),
        pytest.param(
            "POST",
            f"/meetings/{MEETING}/attendees",
            "bogus",
            None,
            id="unknown-operation-query",
        ),
        pytest.param("GET", "/meetings", None, None, id="no-list-meetings"),
        pytest.param("PATCH", f"/meetings/{MEETING}", None, None, id="unknown-method"),
        pytest.param("GET", "/", None, None, id="root"),
    ],
)
def test_resolve(method: str, path: str, query: str | None, expected: Route | None) -> None:
    """Overlapping routes resolve as the service does: by method and `?operation=`."""
    assert resolve(method, path, query) == expected
