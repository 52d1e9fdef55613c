"""Input validation from botocore's `chime-sdk-meetings` model, as AWS's front end does it.

Every request is checked against its operation's input shape before any meeting or attendee
is looked up, as the real service's request validation is:

- a value of the wrong JSON type, an unknown member of a structure, or a body that is not a
  JSON object: 400 `BadRequestException` (the model's error for "input parameters don't match
  the service's restrictions");
- a violated trait — `required`, `min`/`max` (length or value), `pattern`, `enum` — is
  collected, and all of them are answered together as 400 `ValidationException` with the
  front end's wording: ``2 validation errors detected: Value 'x' at 'meetingId' failed to
  satisfy constraint: Member must satisfy regular expression pattern: …; …``. That code and
  wording are what AWS SDK users report from the Chime endpoints (aws/aws-sdk-js#4344:
  "ValidationException: 1 validation error detected: Value at 'attendees' failed to satisfy
  constraint: Member must have length less than or equal to 10"; aws/aws-sdk-java-v2#4072:
  "Status Code: 400; Error Code: ValidationException"). It is not a modeled error, so botocore
  raises a plain `ClientError` with that code. Values of `sensitive` shapes are left out of
  the message, as there.

Two rules stated only in the API reference's documentation are checked with the model's:
`ExternalUserId` must match ``[-_&@+=,(){}\\[\\]\\/«».:|'"#a-zA-Z0-9À-ÿ\\s]*`` (a trait
violation), and values beginning with ``aws:`` (any case) are reserved (a 400
`BadRequestException`; CreateAttendee, "ExternalUserId").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .wire import ServiceError

__all__ = ["check_operation_input", "check_shape", "service_model"]

_SERVICE: Final = "chime-sdk-meetings"
#: Patterns the API reference documents but the model does not carry.
_DOCUMENTED_PATTERNS: Final[Mapping[str, str]] = {
    "ExternalUserId": "[-_&@+=,(){}\\[\\]\\/«».:|'\"#a-zA-Z0-9À-ÿ\\s]*",
}
_RESERVED_PREFIX: Final = "aws:"
_RESERVED_SHAPES: Final = frozenset({"ExternalUserId"})


@functools.cache
def service_model() -> dict[str, Any]:
    """The installed botocore's `chime-sdk-meetings` model (loaded once, ~10 ms)."""
    import botocore.loaders  # only the emulator needs it, once

    model: dict[str, Any] = botocore.loaders.Loader().load_service_model(_SERVICE, "service-2")
    return model


@functools.cache
def _pattern(shape_name: str) -> re.Pattern[str] | None:
    shape = service_model()["shapes"][shape_name]
    text = shape.get("pattern") or _DOCUMENTED_PATTERNS.get(shape_name)
    # Model patterns are Java regular expressions, matched against the whole value.
    return None if text is None else re.compile(text)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


@dataclass(slots=True)
class _Check:
    violations: list[str] = field(default_factory=list)

    def violated(self, value: object, path: str, rule: str, *, sensitive: bool) -> None:
        shown = "" if sensitive or not isinstance(value, str | int) else f" '{value}'"
        if value is None:
            shown = " null"
        self.violations.append(f"Value{shown} at '{path}' failed to satisfy constraint: {rule}")

    def shape(self, shape_name: str, value: object, path: str, *, sensitive: bool) -> None:
        shape = service_model()["shapes"][shape_name]
        sensitive = sensitive or bool(shape.get("sensitive"))
        kind = shape["type"]
        if kind == "structure":
            self._structure(shape_name, shape, value, path, sensitive=sensitive)
        elif kind == "list":
            if not isinstance(value, list):
                raise _type_error(path, "a list")
            self._length(value, shape, path, sensitive=True)
            for index, item in enumerate(value, start=1):
                self.shape(
                    shape["member"]["shape"], item, f"{path}.{index}.member", sensitive=sensitive
                )
        elif kind == "string":
            self._string(shape_name, shape, value, path, sensitive=sensitive)
        elif kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                raise _type_error(path, "an integer")
            if "min" in shape and value < shape["min"]:
                rule = f"Member must have value greater than or equal to {shape['min']}"
                self.violated(value, path, rule, sensitive=sensitive)
            if "max" in shape and value > shape["max"]:
                rule = f"Member must have value less than or equal to {shape['max']}"
                self.violated(value, path, rule, sensitive=sensitive)
        elif kind == "boolean" and not isinstance(value, bool):
            raise _type_error(path, "a boolean")

    def _structure(
        self, name: str, shape: Mapping[str, Any], value: object, path: str, *, sensitive: bool
    ) -> None:
        if not isinstance(value, dict):
            raise _type_error(path, "an object")
        members: Mapping[str, Any] = shape["members"]
        unknown = sorted(set(value) - set(members))
        if unknown:
            where = f"'{path}'" if path else "the request"
            raise ServiceError.bad_request(
                f"Unknown member {unknown[0]!r} in {where} ({name} has: {', '.join(members)})."
            )
        self.members(shape, value, prefix=f"{path}." if path else "", sensitive=sensitive)

    def members(
        self,
        shape: Mapping[str, Any],
        values: Mapping[str, object],
        *,
        prefix: str,
        sensitive: bool,
    ) -> None:
        for member in shape.get("required", ()):
            if values.get(member) is None:
                path = prefix + _camel(member)
                self.violated(None, path, "Member must not be null", sensitive=sensitive)
        for member, spec in shape["members"].items():
            value = values.get(member)
            if value is not None:
                self.shape(spec["shape"], value, prefix + _camel(member), sensitive=sensitive)

    def _string(
        self, name: str, shape: Mapping[str, Any], value: object, path: str, *, sensitive: bool
    ) -> None:
        if not isinstance(value, str):
            raise _type_error(path, "a string")
        if "enum" in shape and value not in shape["enum"]:
            rule = f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]"
            self.violated(value, path, rule, sensitive=sensitive)
        self._length(value, shape, path, sensitive=sensitive)
        pattern = _pattern(name)
        if pattern is not None and pattern.fullmatch(value) is None:
            rule = f"Member must satisfy regular expression pattern: {pattern.pattern}"
            self.violated(value, path, rule, sensitive=sensitive)
        if name in _RESERVED_SHAPES and value[: len(_RESERVED_PREFIX)].lower() == _RESERVED_PREFIX:
            raise ServiceError.bad_request(
                f"Values of '{path}' beginning with aws: are reserved and cannot be used."
            )

    def _length(
        self, value: str | list[Any], shape: Mapping[str, Any], path: str, *, sensitive: bool
    ) -> None:
        if "min" in shape and len(value) < shape["min"]:
            rule = f"Member must have length greater than or equal to {shape['min']}"
            self.violated(value, path, rule, sensitive=sensitive)
        if "max" in shape and len(value) > shape["max"]:
            rule = f"Member must have length less than or equal to {shape['max']}"
            self.violated(value, path, rule, sensitive=sensitive)

    def raise_violations(self) -> None:
        count = len(self.violations)
        if count:
            noun = "error" if count == 1 else "errors"
            raise ServiceError(
                "ValidationException",
                f"{count} validation {noun} detected: {'; '.join(self.violations)}",
            )


def _type_error(path: str, expected: str) -> ServiceError:
    where = f"'{path}'" if path else "The request body"
    return ServiceError.bad_request(f"{where} must be {expected}.")


def _query_value(shape_name: str, raw: str, path: str) -> object:
    if service_model()["shapes"][shape_name]["type"] != "integer":
        return raw
    try:
        return int(raw)
    except ValueError:
        raise _type_error(path, "an integer") from None


def check_operation_input(
    operation: str,
    *,
    uri: Mapping[str, str | None],
    query: Mapping[str, str],
    body: Mapping[str, Any],
) -> None:
    """Check one request of `operation` against its input shape; raise its 400 if it fails.

    `uri` holds the path parameters by member name (`MeetingId`, `AttendeeId`).
    """
    model = service_model()
    spec = model["operations"][operation].get("input")
    if spec is None:
        return
    shape = model["shapes"][spec["shape"]]
    values: dict[str, object] = {}
    body_members: dict[str, Any] = {}
    for member, member_spec in shape["members"].items():
        location = member_spec.get("location")
        if location == "uri":
            values[member] = uri.get(member)
        elif location == "querystring":
            raw = query.get(member_spec["locationName"])
            if raw is not None:
                values[member] = _query_value(member_spec["shape"], raw, _camel(member))
        else:
            body_members[member] = member_spec
            values[member] = body.get(member)
    unknown = sorted(set(body) - set(body_members))
    if unknown:
        raise ServiceError.bad_request(
            f"Unknown member {unknown[0]!r} in the request body of {operation}."
        )
    check = _Check()
    check.members(shape, values, prefix="", sensitive=False)
    check.raise_violations()


def check_shape(shape_name: str, value: object, *, path: str) -> None:
    """Check a value of one model shape (e.g. `MeetingFeaturesConfiguration`) on its own."""
    check = _Check()
    check.shape(shape_name, value, path, sensitive=False)
    check.raise_violations()
