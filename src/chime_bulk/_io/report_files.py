"""Report files: `.json`, `.jsonl` and `.csv`, written atomically and read back.

The shapes are DESIGN.md's (schema `chime-bulk.report/1`); `Report.write`, `Report.dump` and
`Report.read` are the public way in. This module works on a report's parts (results and
summary), so the model does not depend on it the other way round. Reading collects every
problem of a file, with its line number, into one `PlanError`.
"""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from .._model.capabilities import Capabilities
from .._model.errors import PlanError
from .._model.results import AttendeeResult, parse_status
from .._model.summary import Summary, summarize
from .fields import (
    REPORT_FORMATS,
    Problems,
    ReportFormat,
    as_object,
    format_for_suffix,
    json_type,
    numbered_rows,
)

__all__ = ["CSV_COLUMNS", "REPORT_SCHEMA", "dump_report", "read_report", "write_report"]

#: The `schema` value of a `.json` report.
REPORT_SCHEMA: Final = "chime-bulk.report/1"

Parts = tuple[list[AttendeeResult], Summary]


def write_report(
    path: Path,
    *,
    results: Iterable[AttendeeResult],
    summary: Summary,
    format: ReportFormat | None = None,  # noqa: A002
) -> None:
    chosen = format or _format_of(path)
    with _atomic_writer(path) as stream:
        dump_report(stream, results=results, summary=summary, format=chosen)


def dump_report(
    stream: IO[str],
    *,
    results: Iterable[AttendeeResult],
    summary: Summary,
    format: ReportFormat,  # noqa: A002
) -> None:
    writer = _WRITERS.get(format)
    if writer is None:
        raise ValueError(f"unknown report format {format!r}; expected json, jsonl or csv")
    writer(stream, results, summary)


def read_report(path: Path, *, format: ReportFormat | None = None) -> Parts:  # noqa: A002
    chosen = format or _format_of(path)
    source = str(path)
    try:
        with path.open(encoding="utf-8", newline="") as stream:
            return _READERS[chosen](stream, source=source)
    except OSError as err:
        raise PlanError.single(f"cannot read: {err.strerror}", source=source) from err
    except UnicodeDecodeError:
        raise PlanError.single("not UTF-8 text", source=source) from None


def _format_of(path: Path) -> ReportFormat:
    chosen = format_for_suffix(path, REPORT_FORMATS)
    if chosen is None:
        raise ValueError(
            f"cannot tell the report format of {str(path)!r}: use a .json, .jsonl or .csv suffix"
        )
    return chosen


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


def _dump_json(stream: IO[str], results: Iterable[AttendeeResult], summary: Summary) -> None:
    # Written by hand so each result is one line (greppable) and no giant string is built.
    stream.write(f'{{"schema": {_json(REPORT_SCHEMA)},\n "summary": ')
    stream.write(_json(summary.to_dict()))
    stream.write(',\n "results": [')
    position = 0
    for position, result in enumerate(results, start=1):
        stream.write(",\n  " if position > 1 else "\n  ")
        stream.write(_json(result.to_dict()))
    stream.write("\n ]}\n" if position else "]}\n")


def _dump_jsonl(stream: IO[str], results: Iterable[AttendeeResult], summary: Summary) -> None:
    for result in results:
        stream.write(_json(result.to_dict()) + "\n")
    stream.write(_json({"summary": summary.to_dict()}) + "\n")


def _dump_csv(stream: IO[str], results: Iterable[AttendeeResult], summary: Summary) -> None:
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_row(result) for result in results)


_WRITERS: Final[Mapping[str, Callable[[IO[str], Iterable[AttendeeResult], Summary], None]]] = {
    "json": _dump_json,
    "jsonl": _dump_jsonl,
    "csv": _dump_csv,
}


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


def _read_json(stream: IO[str], *, source: str) -> Parts:
    try:
        data = json.load(stream)
    except json.JSONDecodeError as err:
        # A report ends with its closing brace; a bad file without one was cut short (a copy
        # or a write that did not finish), and is worth saying so.
        cut = not err.doc.rstrip().endswith("}")
        what = "the file ends early (truncated?)" if cut else f"not valid JSON: {err.msg}"
        raise PlanError.single(what, line=err.lineno, source=source) from None
    if not isinstance(data, dict) or data.get("schema") != REPORT_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else json_type(data)
        raise PlanError.single(
            f"not a chime-bulk report (expected schema {REPORT_SCHEMA!r}, found {found!r})",
            line=1,
            source=source,
        )
    problems = Problems(source)
    extra = sorted(set(data) - {"schema", "summary", "results"})
    if extra:
        problems.add(None, f"unknown key(s) {extra}")
    summary = problems.parse(None, "summary: ", _summary_from_json, data.get("summary"))
    raw_results = data.get("results")
    if not isinstance(raw_results, list):
        problems.add(None, f"results must be a list, got {json_type(raw_results)}")
        raw_results = []
    results = [
        problems.parse(None, f"results[{i}]: ", _result_from_json, item)
        for i, item in enumerate(raw_results)
    ]
    problems.raise_if_any()
    assert summary is not None
    return [r for r in results if r is not None], summary


def _read_jsonl(stream: IO[str], *, source: str) -> Parts:
    problems = Problems(source)
    results: list[AttendeeResult] = []
    summary: Summary | None = None
    summary_line = 0
    first = True
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            torn = not line.endswith("\n") and not stream.read(1)
            problems.add(
                number,
                "the last line is cut short (truncated?)" if torn else f"not valid JSON: {err.msg}",
            )
            continue
        if first:
            _check_first_jsonl_line(data, number, source=source)
            first = False
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
    return results, summary


def _check_first_jsonl_line(data: Any, number: int, *, source: str) -> None:
    """Refuse a JSONL file of another kind (a plan, a journal) once, on its first line,
    instead of once per line."""
    if isinstance(data, dict) and ("status" in data or set(data) == {"summary"}):
        return
    found = f"keys {sorted(data)[:5]}" if isinstance(data, dict) else json_type(data)
    raise PlanError.single(
        f"not a chime-bulk .jsonl report: its first line has no 'status' (found {found})",
        line=number,
        source=source,
    )


def _read_csv(stream: IO[str], *, source: str) -> Parts:
    problems = Problems(source)
    rows = numbered_rows(csv.reader(stream, strict=True), problems)
    line, header = next(rows, (1, []))
    header = [name.strip() for name in header]
    if sorted(header) != sorted(CSV_COLUMNS):
        raise PlanError.single(
            f"not a chime-bulk CSV report: {_header_problem(header)}", line=line, source=source
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
    return results, summarize(results, started_at="", finished_at="", elapsed_s=0.0)


def _header_problem(header: list[str]) -> str:
    if not set(header) & set(CSV_COLUMNS):
        # Data where the header should be: name that, not every cell as an unknown column.
        return f"no header row (expected {','.join(CSV_COLUMNS[:3])},…)"
    unknown = sorted(set(header) - set(CSV_COLUMNS))
    missing = [name for name in CSV_COLUMNS if name not in header]
    shown = f"{unknown[:3]}" + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
    return f"unknown column(s) {shown}, missing {missing}"


def _result_from_csv(row: Mapping[str, str]) -> AttendeeResult:
    return AttendeeResult(
        meeting_id=row["meeting_id"],
        attendee_id=row["attendee_id"],
        status=parse_status(row["status"]),
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


_N = TypeVar("_N", int, float)


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


def _result_from_json(value: Any) -> AttendeeResult:
    return AttendeeResult.from_dict(as_object(value))


def _summary_from_json(value: Any) -> Summary:
    return Summary.from_dict(as_object(value))


_READERS: Final[Mapping[ReportFormat, Callable[..., Parts]]] = {
    "json": _read_json,
    "jsonl": _read_jsonl,
    "csv": _read_csv,
}
