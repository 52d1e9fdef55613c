"""The service's own input rules, each failure a 400 `BadRequestException`.

Written from the botocore model and the AWS API reference, deliberately *not* from
`chime_bulk.capabilities`: the emulator is the independent check on the client-side rules,
so a mistake there must not be repeated here.

Rules (AttendeeCapabilities documentation):
- all three of Audio, Video, Content are required, each `SendReceive | Send | Receive | None`;
- Content `SendReceive`/`Receive` needs Video `SendReceive`/`Receive`;
- a meeting created with `MeetingFeatures.Video.MaxResolution = None` rejects any Video other
  than `None` (the same for Content);
- without capabilities in the request an attendee gets `SendReceive` for all three, except that
  a meeting without video gets Video `Receive` (or `None` when it has no content either) and a
  meeting without content gets Content `None`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from .._model.capabilities import Media
from .wire import ServiceError

__all__ = [
    "MAX_ATTENDEES",
    "check_id",
    "check_string",
    "default_capabilities",
    "max_attendees",
    "parse_body",
    "parse_capabilities",
    "parse_excluded_ids",
    "parse_max_results",
    "parse_meeting_features",
]

_ID: Final = re.compile(r"[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}")
_MEDIA: Final = frozenset(m.value for m in Media)
_CAPABILITY_KEYS: Final = ("Audio", "Video", "Content")
_VIDEO_RESOLUTIONS: Final = frozenset({"None", "HD", "FHD"})
_CONTENT_RESOLUTIONS: Final = frozenset({"None", "FHD", "UHD"})
_FEATURE_STATUS: Final = frozenset({"AVAILABLE", "UNAVAILABLE"})
_RECEIVING: Final = frozenset({"SendReceive", "Receive"})

#: The default (and largest) number of attendees a meeting holds.
MAX_ATTENDEES: Final = 250
MAX_EXCLUDED: Final = 250
MAX_HIGH_RESOLUTION_ATTENDEES: Final = 25
MAX_RESULTS: Final = 100


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body (an empty body is an empty object)."""
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ServiceError.bad_request("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ServiceError.bad_request("The request body must be a JSON object.")
    return body


def check_id(value: object, *, name: str) -> str:
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise ServiceError.bad_request(f"Invalid {name}: {value!r} is not a valid ID.")
    return value


def check_string(value: object, *, name: str, min_len: int, max_len: int) -> str:
    if not isinstance(value, str) or not min_len <= len(value) <= max_len:
        raise ServiceError.bad_request(
            f"{name} is required and must be a string of {min_len} to {max_len} characters."
        )
    return value


def _max_resolution(features: Mapping[str, Any] | None, media: str) -> str | None:
    if not features:
        return None
    resolution = (features.get(media) or {}).get("MaxResolution")
    return resolution if isinstance(resolution, str) else None


def parse_capabilities(value: object, *, features: Mapping[str, Any] | None) -> dict[str, str]:
    """The validated `Capabilities` of a request, against the meeting's `features`."""
    if not isinstance(value, dict):
        raise ServiceError.bad_request("Capabilities is required and must be an object.")
    missing = [key for key in _CAPABILITY_KEYS if key not in value]
    if missing:
        raise ServiceError.bad_request(f"Capabilities is missing {', '.join(missing)}.")
    capabilities: dict[str, str] = {}
    for key in _CAPABILITY_KEYS:
        media = value[key]
        if media not in _MEDIA:
            raise ServiceError.bad_request(
                f"Invalid Capabilities.{key}: {media!r}; must be one of SendReceive, Send, "
                "Receive, None."
            )
        capabilities[key] = media
    if capabilities["Content"] in _RECEIVING and capabilities["Video"] not in _RECEIVING:
        raise ServiceError.bad_request(
            "Content capability SendReceive or Receive requires Video capability "
            "SendReceive or Receive."
        )
    for media in ("Video", "Content"):
        if _max_resolution(features, media) == "None" and capabilities[media] != "None":
            raise ServiceError.bad_request(
                f"The meeting was created with {media} MaxResolution None, so the {media} "
                "capability must be None."
            )
    return capabilities


def default_capabilities(features: Mapping[str, Any] | None) -> dict[str, str]:
    """What an attendee created without `Capabilities` gets in a meeting with `features`."""
    no_video = _max_resolution(features, "Video") == "None"
    no_content = _max_resolution(features, "Content") == "None"
    content = "None" if no_content else "SendReceive"
    video = "SendReceive"
    if no_video:
        # Documented: content SendReceive needs video at least Receive.
        video = "None" if no_content else "Receive"
    return {"Audio": "SendReceive", "Video": video, "Content": content}


def _check_enum(section: Mapping[str, Any], key: str, allowed: frozenset[str], where: str) -> None:
    if key in section and section[key] not in allowed:
        raise ServiceError.bad_request(
            f"Invalid {where}.{key}: {section[key]!r}; must be one of {', '.join(sorted(allowed))}."
        )


def _section(features: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    section = features.get(key) or {}
    if not isinstance(section, dict):
        raise ServiceError.bad_request(f"MeetingFeatures.{key} must be an object.")
    return section


def parse_meeting_features(value: object) -> dict[str, Any] | None:
    """The validated `MeetingFeatures` of a CreateMeeting request (None when absent)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ServiceError.bad_request("MeetingFeatures must be an object.")
    audio = _section(value, "Audio")
    video = _section(value, "Video")
    content = _section(value, "Content")
    attendee = _section(value, "Attendee")
    _check_enum(audio, "EchoReduction", _FEATURE_STATUS, "MeetingFeatures.Audio")
    _check_enum(video, "MaxResolution", _VIDEO_RESOLUTIONS, "MeetingFeatures.Video")
    _check_enum(content, "MaxResolution", _CONTENT_RESOLUTIONS, "MeetingFeatures.Content")
    max_count = attendee.get("MaxCount")
    if max_count is not None and (
        not isinstance(max_count, int) or not 1 <= max_count <= MAX_ATTENDEES
    ):
        raise ServiceError.bad_request(
            f"MeetingFeatures.Attendee.MaxCount must be an integer from 1 to {MAX_ATTENDEES}."
        )
    # Model docs (VideoFeatures/ContentFeatures.MaxResolution): FHD video and UHD content
    # need an explicit Attendee.MaxCount overriding the 250 default; the Chime SDK
    # Developer Guide ("Using meeting features") caps such meetings at 25 attendees.
    high = video.get("MaxResolution") == "FHD" or content.get("MaxResolution") == "UHD"
    if high and (max_count is None or max_count > MAX_HIGH_RESOLUTION_ATTENDEES):
        raise ServiceError.bad_request(
            "Video FHD or Content UHD requires MeetingFeatures.Attendee.MaxCount of at most "
            f"{MAX_HIGH_RESOLUTION_ATTENDEES}."
        )
    return {key: dict(section) for key, section in value.items() if section}


def max_attendees(features: Mapping[str, Any] | None) -> int:
    """How many attendees a meeting with `features` holds."""
    max_count = ((features or {}).get("Attendee") or {}).get("MaxCount")
    return max_count if isinstance(max_count, int) else MAX_ATTENDEES


def parse_excluded_ids(value: object) -> frozenset[str]:
    """`ExcludedAttendeeIds`: 1 to 250 `{"AttendeeId": id}` items, each a valid ID."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_EXCLUDED:
        raise ServiceError.bad_request(
            f"ExcludedAttendeeIds must list 1 to {MAX_EXCLUDED} attendees."
        )
    ids: set[str] = set()
    for item in value:
        if not isinstance(item, dict):
            raise ServiceError.bad_request("Each ExcludedAttendeeIds item must be an object.")
        ids.add(check_id(item.get("AttendeeId"), name="ExcludedAttendeeIds.AttendeeId"))
    return frozenset(ids)


def parse_max_results(raw: str | None, *, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_RESULTS:
        raise ServiceError.bad_request(f"max-results must be an integer from 1 to {MAX_RESULTS}.")
    return value
