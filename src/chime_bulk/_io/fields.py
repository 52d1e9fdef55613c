"""What every file reader shares: JSON field checks, the problem collector, CSV line numbers,
and which suffix means which format.

Each reader (plans, reports, journals) collects *every* problem of a file with its line number
and raises them together as one `PlanError`, so a user fixes a file in one pass.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from .._model.errors import PlanError, PlanProblem

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

__all__ = [
    "PLAN_FORMATS",
    "REPORT_FORMATS",
    "FieldError",
    "PlanFormat",
    "Problems",
    "ReportFormat",
    "as_object",
    "check_keys",
    "format_for_suffix",
    "get_float",
    "get_int",
    "get_optional_str",
    "get_str",
    "json_type",
    "numbered_rows",
]

PlanFormat = Literal["jsonl", "csv"]
ReportFormat = Literal["json", "jsonl", "csv"]

#: File suffix → format, for plans and for reports.
PLAN_FORMATS: Final[Mapping[str, PlanFormat]] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
}
REPORT_FORMATS: Final[Mapping[str, ReportFormat]] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".csv": "csv",
}

_F = TypeVar("_F", bound=str)
_T = TypeVar("_T")
_A = TypeVar("_A")


def format_for_suffix(path: str | os.PathLike[str], formats: Mapping[str, _F]) -> _F | None:
    """The format `path`'s suffix names in `formats` (case-insensitive), or None."""
    return formats.get(Path(path).suffix.lower())


# -- JSON field types: each check raises a ValueError that names the field -----------------


class FieldError(ValueError):
    """A field of a file has the wrong JSON type (a ValueError: the file is bad, not the code)."""


def json_type(value: Any) -> str:
    """How a JSON value's type reads in a message: `a string`, `an array`, `null`…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def as_object(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object."""
    if not isinstance(value, dict):
        raise FieldError(f"expected a JSON object, got {json_type(value)}")
    return value


def check_keys(data: Mapping[str, Any], *, allowed: Iterable[str], required: Iterable[str]) -> None:
    """No key outside `allowed`, every key of `required`."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}")
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"missing key(s) {missing}")


def get_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise FieldError(f"{key} must be a string, got {json_type(value)}")
    return value


def get_optional_str(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else get_str(data, key)


def get_int(data: Mapping[str, Any], key: str, *, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(f"{key} must be an integer, got {json_type(value)}")
    return value


def get_float(data: Mapping[str, Any], key: str, *, default: float | None = None) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(f"{key} must be a number, got {json_type(value)}")
    return float(value)


# -- collecting problems -------------------------------------------------------------------


class Problems:
    """Every problem of one file, so that one `PlanError` can list them all."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[PlanProblem] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, line: int | None, message: str) -> None:
        self.items.append(PlanProblem(line, message, self.source))

    def extend(self, line: int | None, messages: Iterable[str]) -> None:
        for message in messages:
            self.add(line, message)

    def parse(
        self, line: int | None, where: str, parser: Callable[[_A], _T], data: _A
    ) -> _T | None:
        """`parser(data)`, or None with its `ValueError` recorded as a problem."""
        try:
            return parser(data)
        except ValueError as err:
            self.add(line, f"{where}{err}")
            return None

    def raise_if_any(self) -> None:
        """A `PlanError` with every problem, in line order, if there is one."""
        if self.items:
            raise PlanError(sorted(self.items, key=lambda problem: problem.line or 0))


# -- CSV -----------------------------------------------------------------------------------


def numbered_rows(
    reader: CsvReader, problems: Problems, *, blank: Callable[[list[str]], bool] | None = None
) -> Iterator[tuple[int, list[str]]]:
    """The rows that are not blank, each with the line it starts on; a CSV syntax error is
    recorded in `problems` and ends the rows.

    A quoted field may span lines, so a row starts right after the previous one ended, not at
    `reader.line_num`.
    """
    is_blank = blank or (lambda row: not row)
    end = 0
    try:
        for row in reader:
            number, end = end + 1, reader.line_num
            if not is_blank(row):
                yield number, row
    except csv.Error as err:
        problems.add(reader.line_num, f"not valid CSV: {err}")
