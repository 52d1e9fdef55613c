"""The admin API under `/_emulator/`: seeding, ground truth, the request log, faults, reset.

A prefix no AWS route uses. Admin requests need no signature and are never faulted,
throttled or written to the request log, so tests in any language can drive the emulator with
plain HTTP (see docs/emulator.md). Errors have the service's shape (`Code`, `Message`,
`RequestId`, 400/404) so one error path serves both.

    GET    /_emulator/meetings                      meeting ID -> attendee IDs
    POST   /_emulator/meetings                      {"meetings", "attendees", "features"} -> seeded
    POST   /_emulator/meetings/{id}/attendees       {"capabilities", "external_user_id"} -> ID
    DELETE /_emulator/meetings/{id}/attendees/{id}  the attendee leaves ("removed")
    GET    /_emulator/truth                         capabilities, writes applied/acknowledged,
                                                    departed attendees and why
    GET    /_emulator/requests?after=N&limit=M      the request log, paged by sequence number
    GET    /_emulator/stats                         counts by operation and status
    GET    /_emulator/faults  PUT /_emulator/faults the fault configuration (`config` schema)
    POST   /_emulator/reset                         no meetings, no log, no faults
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from .config import fault_config_to_json, parse_fault_config
from .validation import parse_body
from .wire import ServiceError, error_response, json_response

if TYPE_CHECKING:
    from .server import Emulator

__all__ = ["ADMIN_PREFIX", "handle_admin"]

ADMIN_PREFIX: Final = "/_emulator/"
_MAX_PAGE: Final = 1000


def _int(query: Any, name: str, default: int, *, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ServiceError.bad_request(f"{name} must be an integer from {low} to {high}.")
    return value


def _seed(emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    meetings, attendees = body.get("meetings", 1), body.get("attendees", 0)
    if not isinstance(meetings, int) or not isinstance(attendees, int) or meetings < 0:
        raise ServiceError.bad_request("meetings and attendees must be integers >= 0.")
    features = body.get("features")
    unknown = set(body) - {"meetings", "attendees", "features"}
    if unknown:
        raise ServiceError.bad_request(f"Unknown member {sorted(unknown)[0]!r}.")
    try:
        return {"meetings": emu.seed(meetings=meetings, attendees=attendees, features=features)}
    except ValueError as error:
        raise ServiceError.bad_request(str(error)) from None


def _add_attendee(emu: Emulator, meeting_id: str, body: dict[str, Any]) -> dict[str, Any]:
    capabilities = body.get("capabilities")
    user = body.get("external_user_id")
    if capabilities is not None and not isinstance(capabilities, dict):
        raise ServiceError.bad_request("capabilities must be an object.")
    if user is not None and not isinstance(user, str):
        raise ServiceError.bad_request("external_user_id must be a string.")
    try:
        attendee_id = emu.add_attendee(meeting_id, capabilities=capabilities, external_user_id=user)
    except KeyError:
        raise ServiceError.not_found(f"The meeting {meeting_id} does not exist.") from None
    except ValueError as error:
        raise ServiceError.bad_request(str(error)) from None
    return {"attendee_id": attendee_id}


def _requests(emu: Emulator, query: Any) -> dict[str, Any]:
    after = _int(query, "after", 0, low=0, high=2**62)
    limit = _int(query, "limit", 100, low=1, high=_MAX_PAGE)
    page, dropped = emu.request_page(after=after, limit=limit + 1)
    more = len(page) > limit
    page = page[:limit]
    records = [{"seq": seq, **record.to_json()} for seq, record in page]
    return {
        "requests": records,
        "next_after": records[-1]["seq"] if more else None,
        "dropped": dropped,
    }


def _put_faults(emu: Emulator, raw: bytes) -> dict[str, Any]:
    try:
        config = parse_fault_config(json.loads(raw or b"{}"))
    except ValueError as error:  # JSONDecodeError included
        raise ServiceError.bad_request(str(error)) from None
    emu.set_fault_config(config)
    return fault_config_to_json(emu.fault_config)


def _route(emu: Emulator, method: str, parts: list[str], query: Any, raw: bytes) -> Any:
    match method, parts:
        case "GET", ["meetings"]:
            return {"meetings": emu.meetings}
        case "POST", ["meetings"]:
            return _seed(emu, parse_body(raw))
        case "POST", ["meetings", meeting_id, "attendees"]:
            return _add_attendee(emu, meeting_id, parse_body(raw))
        case "DELETE", ["meetings", meeting_id, "attendees", attendee_id]:
            if not emu.remove_attendee(meeting_id, attendee_id):
                raise ServiceError.not_found(f"No attendee {attendee_id} in {meeting_id}.")
            return None
        case "GET", ["truth"]:
            return emu.ground_truth()
        case "GET", ["requests"]:
            return _requests(emu, query)
        case "GET", ["stats"]:
            return emu.stats()
        case "GET", ["faults"]:
            return fault_config_to_json(emu.fault_config)
        case "PUT", ["faults"]:
            return _put_faults(emu, raw)
        case "POST", ["reset"]:
            emu.reset()
            return None
    raise ServiceError("UnknownOperationException", f"No admin route {method} /_emulator/…")


async def handle_admin(
    emu: Emulator, request: web.BaseRequest, request_id: str
) -> web.StreamResponse:
    """Answer one admin request (the path starts with `ADMIN_PREFIX`)."""
    raw = await request.read() if request.body_exists else b""
    parts = [p for p in request.path[len(ADMIN_PREFIX) :].split("/") if p]
    try:
        body = _route(emu, request.method, parts, request.query, raw)
    except ServiceError as error:
        return error_response(error, request_id=request_id)
    return json_response(200 if body is not None else 204, body, request_id=request_id)
