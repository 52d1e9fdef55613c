"""Report files: `.json`, `.jsonl` and `.csv`, written atomically and read back.

The shapes are DESIGN.md's (schema `chime-bulk.report/1`); `Report.write`, `Report.dump` and
`Report.read` are the public way in. Reading collects every problem of a file, with its line
number, into one `PlanError`.
"""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, TypeVar

from .._model.capabilities import Capabilities
from .._model.errors import PlanError, PlanProblem
from .._model.report import (
    _SUFFIXES,
    REPORT_SCHEMA,
    AttendeeResult,
    Report,
    ReportFormat,
    Summary,
    _as_dict,
    _json_type,
    _parse_status,
    summarize,
)

if TYPE_CHECKING:
    from _csv import Reader as _CsvReader

__all__ = ["CSV_COLUMNS", "dump_report", "read_report", "write_report"]


def write_report(report: Report, path: Path, *, format: ReportFormat | None = None) -> None:  # noqa: A002
    chosen = format or _format_of(path)
    with _atomic_writer(path) as stream:
        report.dump(stream, format=chosen)


def dump_report(report: Report, stream: IO[str], *, format: ReportFormat) -> None:  # noqa: A002
    if format == "json":
        _dump_json(report, stream)
    elif format == "jsonl":
        _dump_jsonl(report, stream)
    elif format == "csv":
        _dump_csv(report, stream)
    else:
        raise ValueError(f"unknown report format {format!r}; expected json, jsonl or csv")


def read_report(path: Path, *, format: ReportFormat | None = None) -> Report:  # noqa: A002
    chosen = format or _format_of(path)
    source = str(path)
    try:
        with path.open(encoding="utf-8", newline="") as stream:
            return _READERS[chosen](stream, source=source)
    except OSError as err:
        raise PlanError.single(f"cannot read: {err.strerror}", source=source) from err
    except UnicodeDecodeError:
        raise PlanError.single("not UTF-8 text", source=source) from None


# -- writing -------------------------------------------------------------------------------

#: CSV columns: the result fields, capabilities flattened, `region` last as in JSON.
CSV_COLUMNS: Final = (
    "meeting_id",
    "attendee_id",
    "status",
    "audio",
    "video",
    "content",
    "prev_audio",
    "prev_video",
    "prev_content",
    "attempts",
    "throttled",
    "error_code",
    "error_message",
    "request_id",
    "elapsed_s",
    "region",
)


def _format_of(path: Path) -> ReportFormat:
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise ValueError(
            f"cannot tell the report format of {str(path)!r}: use a .json, .jsonl or .csv suffix"
        ) from None


@contextmanager
def _atomic_writer(path: Path) -> Iterator[IO[str]]:
    """A text file written beside `path` and moved over it only once complete."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as a plain open() would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with open(fd, "w", encoding="utf-8", errors="backslashreplace", newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a successful replace


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _dump_json(report: Report, stream: IO[str]) -> None:
    # Written by hand so each result is one line (greppable) and no giant string is built.
    stream.write(f'{{"schema": {_json(REPORT_SCHEMA)},\n "summary": ')
    stream.write(_json(report.summary.to_dict()))
    stream.write(',\n "results": [')
    for position, result in enumerate(report.results):
        stream.write(",\n  " if position else "\n  ")
        stream.write(_json(result.to_dict()))
    stream.write("\n ]}\n" if report.results else "]}\n")


def _dump_jsonl(report: Report, stream: IO[str]) -> None:
    for result in report.results:
        stream.write(_json(result.to_dict()) + "\n")
    stream.write(_json({"summary": report.summary.to_dict()}) + "\n")


def _dump_csv(report: Report, stream: IO[str]) -> None:
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_row(result) for result in report.results)


def _csv_row(result: AttendeeResult) -> list[str]:
    return [
        result.meeting_id,
        result.attendee_id,
        result.status.value,
        *_flat(result.desired),
        *_flat(result.previous),
        str(result.attempts),
        str(result.throttled),
        result.error_code or "",
        result.error_message or "",
        result.request_id or "",
        repr(result.elapsed_s),
        result.region or "",
    ]


def _flat(capabilities: Capabilities | None) -> tuple[str, str, str]:
    if capabilities is None:
        return ("", "", "")
    return (capabilities.audio.value, capabilities.video.value, capabilities.content.value)


# -- reading -------------------------------------------------------------------------------


def _read_json(stream: IO[str], *, source: str) -> Report:
    try:
        data = json.load(stream)
    except json.JSONDecodeError as err:
        raise PlanError.single(
            f"not valid JSON: {err.msg}", line=err.lineno, source=source
        ) from None
    if not isinstance(data, dict) or data.get("schema") != REPORT_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else _json_type(data)
        raise PlanError.single(
            f"not a chime-bulk report (expected schema {REPORT_SCHEMA!r}, found {found!r})",
            line=1,
            source=source,
        )
    problems = _Problems(source)
    extra = sorted(set(data) - {"schema", "summary", "results"})
    if extra:
        problems.add(None, f"unknown key(s) {extra}")
    summary = problems.parse(None, "summary: ", _summary_from_json, data.get("summary"))
    raw_results = data.get("results")
    if not isinstance(raw_results, list):
        problems.add(None, f"results must be a list, got {_json_type(raw_results)}")
        raw_results = []
    results = [
        problems.parse(None, f"results[{i}]: ", _result_from_json, item)
        for i, item in enumerate(raw_results)
    ]
    problems.raise_if_any()
    assert summary is not None
    return Report(results=[r for r in results if r is not None], summary=summary)


def _read_jsonl(stream: IO[str], *, source: str) -> Report:
    problems = _Problems(source)
    results: list[AttendeeResult] = []
    summary: Summary | None = None
    summary_line = 0
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            problems.add(number, f"not valid JSON: {err.msg}")
            continue
        if summary_line:
            problems.add(number, f"nothing may follow the summary line (line {summary_line})")
        elif isinstance(data, dict) and set(data) == {"summary"}:
            summary_line = number
            summary = problems.parse(number, "summary: ", _summary_from_json, data["summary"])
        else:
            result = problems.parse(number, "", _result_from_json, data)
            if result is not None:
                results.append(result)
    problems.raise_if_any()
    if summary is None:
        summary = summarize(results, started_at="", finished_at="", elapsed_s=0.0)
    return Report(results=results, summary=summary)


def _read_csv(stream: IO[str], *, source: str) -> Report:
    problems = _Problems(source)
    rows = _numbered_rows(csv.reader(stream, strict=True), problems)
    line, header = next(rows, (1, []))
    header = [name.strip() for name in header]
    if sorted(header) != sorted(CSV_COLUMNS):
        unknown = sorted(set(header) - set(CSV_COLUMNS))
        missing = [name for name in CSV_COLUMNS if name not in header]
        raise PlanError.single(
            f"not a chime-bulk CSV report: unknown column(s) {unknown}, missing {missing}",
            line=line,
            source=source,
        )
    results: list[AttendeeResult] = []
    for number, row in rows:
        if len(row) != len(header):
            problems.add(number, f"expected {len(header)} fields, got {len(row)}")
            continue
        result = problems.parse(number, "", _result_from_csv, dict(zip(header, row, strict=True)))
        if result is not None:
            results.append(result)
    problems.raise_if_any()
    summary = summarize(results, started_at="", finished_at="", elapsed_s=0.0)
    return Report(results=results, summary=summary)


def _numbered_rows(reader: _CsvReader, problems: _Problems) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows, each with the line it starts on; a CSV syntax error ends them."""
    end = 0
    try:
        for row in reader:
            # A quoted field may span lines: a row starts right after the previous one ended.
            number, end = end + 1, reader.line_num
            if row:
                yield number, row
    except csv.Error as err:
        problems.add(reader.line_num, f"not valid CSV: {err}")


def _result_from_csv(row: Mapping[str, str]) -> AttendeeResult:
    return AttendeeResult(
        meeting_id=row["meeting_id"],
        attendee_id=row["attendee_id"],
        status=_parse_status(row["status"]),
        desired=_unflat(row, ""),
        previous=_unflat(row, "prev_"),
        attempts=_cell_number(row, "attempts", int),
        throttled=_cell_number(row, "throttled", int),
        error_code=row["error_code"] or None,
        error_message=row["error_message"] or None,
        request_id=row["request_id"] or None,
        elapsed_s=_cell_number(row, "elapsed_s", float),
        region=row["region"] or None,
    )


def _cell_number(row: Mapping[str, str], key: str, kind: Callable[[str], _N]) -> _N:
    try:
        return kind(row[key])
    except ValueError:
        raise ValueError(f"{key} must be a number, got {row[key]!r}") from None


def _unflat(row: Mapping[str, str], prefix: str) -> Capabilities | None:
    values = [row[f"{prefix}{name}"] for name in ("audio", "video", "content")]
    if not any(values):
        return None
    if not all(values):
        raise ValueError(f"{prefix}audio/video/content must be all set or all empty, got {values}")
    return Capabilities(*values)


_T = TypeVar("_T")
_A = TypeVar("_A")
_N = TypeVar("_N", int, float)


def _result_from_json(value: Any) -> AttendeeResult:
    return AttendeeResult.from_dict(_as_dict(value))


def _summary_from_json(value: Any) -> Summary:
    return Summary.from_dict(_as_dict(value))


class _Problems:
    """Collects every problem of a file, so one `PlanError` can list them all."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[PlanProblem] = []

    def add(self, line: int | None, message: str) -> None:
        self.items.append(PlanProblem(line, message, self.source))

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
        if self.items:
            raise PlanError(self.items)


_READERS: Final[dict[ReportFormat, Callable[..., Report]]] = {
    "json": _read_json,
    "jsonl": _read_jsonl,
    "csv": _read_csv,
}
