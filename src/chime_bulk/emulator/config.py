"""The fault configuration as JSON: one schema for `--config FILE` and `PUT /_emulator/faults`.

>>> config = parse_fault_config({"p503": 0.01, "brownouts": [{"start_s": 30, "duration_s": 10}]})
>>> config.faults.p503, config.brownouts[0].start_s
(0.01, 30)

Every key is optional (absent: no such fault); an unknown key, a wrong type or an
out-of-range value is a `ValueError` naming it::

    {"p503": 0.0, "retry_after_s": 1.0, "x_amz_retry_after": false,
     "p500": 0.0, "p500_after_write": 0.0,
     "p_reset_before_write": 0.0, "p_reset_after_write": 0.0, "reset": "rst" | "fin",
     "latency_ms": 0, "latency_jitter_ms": 0, "p_churn": 0.0,
     "auth_failure": null | "UnauthorizedException" | "UnrecognizedClientException"
                   | "InvalidSignatureException" | "ExpiredTokenException",
     "conflict_on_overlap": false,
     "operations": null | ["UpdateAttendeeCapabilities", …],
     "brownouts": [{"start_s": 30, "duration_s": 10, "retry_after_s": 2}
                   | {"after_requests": 100, "duration_s": 10, "retry_after_s": 2}]}
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .faults import Brownout, Faults

__all__ = [
    "FaultConfig",
    "fault_config_to_json",
    "load_fault_config",
    "merge_faults",
    "parse_fault_config",
]

_NUMBERS: Final = frozenset(
    {
        "p503",
        "retry_after_s",
        "p500",
        "p500_after_write",
        "p_reset_before_write",
        "p_reset_after_write",
        "latency_ms",
        "latency_jitter_ms",
        "p_churn",
    }
)
_BOOLEANS: Final = frozenset({"x_amz_retry_after", "conflict_on_overlap"})
_KEYS: Final = _NUMBERS | _BOOLEANS | {"reset", "auth_failure", "operations", "brownouts"}
_BROWNOUT_KEYS: Final = frozenset({"start_s", "after_requests", "duration_s", "retry_after_s"})


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultConfig:
    """What a fault configuration sets: the `Faults` and the brownout windows."""

    faults: Faults = Faults()  # noqa: RUF009 (frozen, so sharing the default is safe)
    brownouts: tuple[Brownout, ...] = ()


def _invalid(message: str) -> ValueError:
    # A wrong type in a JSON document is a bad value of the document: ValueError throughout.
    return ValueError(message)


def _unknown(keys: set[str], allowed: frozenset[str], where: str) -> None:
    for key in sorted(keys - allowed):
        close = difflib.get_close_matches(key, sorted(allowed), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"{where}: unknown key {key!r}{hint}; known keys: {', '.join(sorted(allowed))}"
        )


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"{where} must be a number, got {value!r}")
    return value


def _brownout(value: object, index: int) -> Brownout:
    where = f"brownouts[{index}]"
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be an object")
    _unknown(set(value), _BROWNOUT_KEYS, where)
    after = value.get("after_requests")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
        raise ValueError(f"{where}.after_requests must be an integer, got {after!r}")
    numbers = {
        key: _number(value[key], f"{where}.{key}")
        for key in ("start_s", "duration_s", "retry_after_s")
        if key in value
    }
    if "duration_s" not in numbers:
        raise ValueError(f"{where}.duration_s is required")
    try:
        return Brownout(after_requests=after, **numbers)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def parse_fault_config(document: object) -> FaultConfig:
    """A `FaultConfig` from a decoded JSON document (see the module docstring)."""
    if not isinstance(document, dict):
        raise _invalid("the fault configuration must be a JSON object")
    _unknown(set(document), _KEYS, "fault configuration")
    fields: dict[str, Any] = {}
    for key, value in document.items():
        if key in _NUMBERS:
            fields[key] = _number(value, key)
        elif key in _BOOLEANS:
            if not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false, got {value!r}")
            fields[key] = value
        elif key in ("reset", "auth_failure"):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{key} must be a string, got {value!r}")
            if value is not None:
                fields[key] = value
        elif key == "operations" and value is not None:
            if not isinstance(value, list) or not all(isinstance(op, str) for op in value):
                raise ValueError("operations must be a list of operation names")
            fields[key] = frozenset(value)
    brownouts = document.get("brownouts") or []
    if not isinstance(brownouts, list):
        raise _invalid("brownouts must be a list")
    return FaultConfig(
        faults=Faults(**fields),
        brownouts=tuple(_brownout(item, index) for index, item in enumerate(brownouts)),
    )


def load_fault_config(path: str | os.PathLike[str]) -> FaultConfig:
    """Read and parse a JSON fault configuration file."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{os.fspath(path)} is not valid JSON: {error}") from None
    return parse_fault_config(document)


def fault_config_to_json(config: FaultConfig) -> dict[str, Any]:
    """The JSON form of `config`, which `parse_fault_config` reads back unchanged."""
    faults = dataclasses.asdict(config.faults)
    unauthorized = faults.pop("unauthorized")
    if unauthorized and faults["auth_failure"] is None:
        faults["auth_failure"] = "UnauthorizedException"
    if faults["operations"] is not None:
        faults["operations"] = sorted(faults["operations"])
    faults["brownouts"] = [
        {
            key: value
            for key, value in dataclasses.asdict(brownout).items()
            if value is not None and key in _BROWNOUT_KEYS
        }
        for brownout in config.brownouts
    ]
    return faults


def merge_faults(base: Faults, overrides: Mapping[str, Any]) -> Faults:
    """`base` with some fields replaced (the CLI's explicit flags over `--config`)."""
    return dataclasses.replace(base, **overrides)
