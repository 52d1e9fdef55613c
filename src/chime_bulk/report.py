"""Per-attendee results and the report that accounts for every update of a run.

A run hands each finished `AttendeeResult` to a `ReportBuilder` (in whatever order they finish);
`ReportBuilder.build()` returns the `Report` with the results in the order the updates were
given and a `Summary` of the run. `Report.write` saves it as `.json`, `.jsonl` or `.csv`
(schema `chime-bulk.report/1`), atomically; `Report.read` reads any of the three back.

No result type carries a JoinToken, so no report can contain one.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal, TypeVar

from .capabilities import Capabilities
from .errors import PlanError, PlanProblem

if TYPE_CHECKING:
    from _csv import Reader as _CsvReader

__all__ = [
    "CSV_COLUMNS",
    "REPORT_SCHEMA",
    "AttendeeResult",
    "Report",
    "ReportBuilder",
    "ReportFormat",
    "Status",
    "Summary",
    "iso_utc",
    "latency_percentiles",
    "summarize",
]

#: The `schema` value of a `.json` report.
REPORT_SCHEMA: Final = "chime-bulk.report/1"

ReportFormat = Literal["json", "jsonl", "csv"]
_SUFFIXES: Final[dict[str, ReportFormat]] = {".json": "json", ".jsonl": "jsonl", ".csv": "csv"}


class Status(StrEnum):
    """How one update ended."""

    SUCCEEDED = "succeeded"  # the service accepted the update
    UNCHANGED = "unchanged"  # already in the desired state; nothing sent
    EXCLUDED = "excluded"  # left out on request (e.g. `mute --except`); nothing sent
    INVALID = "invalid"  # rejected client-side; nothing sent
    NOT_FOUND = "not_found"  # the meeting or attendee does not exist (any more)
    FAILED = "failed"  # rejected by the service, or retries ran out
    CANCELLED = "cancelled"  # not finished: deadline, abort or interruption
    PLANNED = "planned"  # dry run: would have been sent

    @property
    def ok(self) -> bool:
        """Whether this outcome leaves the attendee as the user asked."""
        return self in _OK_STATUSES


_OK_STATUSES = frozenset({Status.SUCCEEDED, Status.UNCHANGED, Status.EXCLUDED, Status.PLANNED})


@dataclass(frozen=True, slots=True, kw_only=True)
class AttendeeResult:
    """The outcome for one update. `previous` is known only when the run read the state."""

    meeting_id: str
    attendee_id: str
    status: Status
    desired: Capabilities | None
    previous: Capabilities | None = None
    attempts: int = 0
    throttled: int = 0
    error_code: str | None = None
    error_message: str | None = None
    request_id: str | None = None
    elapsed_s: float = 0.0
    region: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The report file's shape: capabilities as API dicts, `region` only when set."""
        data: dict[str, Any] = {
            "meeting_id": self.meeting_id,
            "attendee_id": self.attendee_id,
            "status": self.status.value,
            "desired": None if self.desired is None else self.desired.to_api(),
            "previous": None if self.previous is None else self.previous.to_api(),
            "attempts": self.attempts,
            "throttled": self.throttled,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "request_id": self.request_id,
            "elapsed_s": self.elapsed_s,
        }
        if self.region is not None:
            data["region"] = self.region
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttendeeResult:
        """The inverse of `to_dict`; a `ValueError` names the first bad field."""
        _check_keys(data, allowed=_RESULT_KEYS, required=("meeting_id", "attendee_id", "status"))
        return cls(
            meeting_id=_get_str(data, "meeting_id"),
            attendee_id=_get_str(data, "attendee_id"),
            status=_parse_status(data["status"]),
            desired=_get_capabilities(data, "desired"),
            previous=_get_capabilities(data, "previous"),
            attempts=_get_int(data, "attempts", default=0),
            throttled=_get_int(data, "throttled", default=0),
            error_code=_get_optional_str(data, "error_code"),
            error_message=_get_optional_str(data, "error_message"),
            request_id=_get_optional_str(data, "request_id"),
            elapsed_s=_get_float(data, "elapsed_s", default=0.0),
            region=_get_optional_str(data, "region"),
        )


_RESULT_KEYS: Final = frozenset(AttendeeResult.__dataclass_fields__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Totals for a run. `requests` counts every HTTP attempt, `retried` every attempt
    after an update's first, `throttled` every attempt answered with a throttle."""

    total: int
    by_status: dict[str, int]
    requests: int
    throttled: int
    retried: int
    elapsed_s: float
    started_at: str
    finished_at: str
    latency_ms: dict[str, float] = field(default_factory=dict)

    def count(self, status: Status | str) -> int:
        """How many results ended with `status` (0 when none did)."""
        return self.by_status.get(Status(status).value, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_status": dict(self.by_status),
            "requests": self.requests,
            "throttled": self.throttled,
            "retried": self.retried,
            "elapsed_s": self.elapsed_s,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "latency_ms": dict(self.latency_ms),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        """The inverse of `to_dict` (`latency_ms` may be absent); a `ValueError` names a gap."""
        required = tuple(key for key in _SUMMARY_KEYS if key != "latency_ms")
        _check_keys(data, allowed=_SUMMARY_KEYS, required=required)
        return cls(
            total=_get_int(data, "total"),
            by_status=_get_counts(data, "by_status"),
            requests=_get_int(data, "requests"),
            throttled=_get_int(data, "throttled"),
            retried=_get_int(data, "retried"),
            elapsed_s=_get_float(data, "elapsed_s"),
            started_at=_get_str(data, "started_at"),
            finished_at=_get_str(data, "finished_at"),
            latency_ms=_get_latencies(data, "latency_ms"),
        )


_SUMMARY_KEYS: Final = tuple(Summary.__dataclass_fields__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Every update of a run, each exactly once, in the order they were given.

    >>> report.write("report.json")  # doctest: +SKIP
    >>> Report.read("report.json") == report  # doctest: +SKIP
    True
    """

    results: Sequence[AttendeeResult]
    summary: Summary

    @property
    def ok(self) -> bool:
        return all(result.status.ok for result in self.results)

    def failed(self) -> list[AttendeeResult]:
        """The results that did not leave the attendee as asked."""
        return [result for result in self.results if not result.status.ok]

    def to_dict(self) -> dict[str, Any]:
        """`{"schema": "chime-bulk.report/1", "summary": {…}, "results": […]}`."""
        return {
            "schema": REPORT_SCHEMA,
            "summary": self.summary.to_dict(),
            "results": [result.to_dict() for result in self.results],
        }

    def write(self, path: str | os.PathLike[str], *, format: ReportFormat | None = None) -> None:  # noqa: A002
        """Save the report, in the format its suffix names (`.json`, `.jsonl`, `.csv`).

        The file is replaced atomically: readers see the old file or the whole new one. CSV
        holds the results only (see `read`). An unknown suffix raises `ValueError`.
        """
        path = Path(path)
        chosen = format or _format_of(path)
        with _atomic_writer(path) as stream:
            self.dump(stream, format=chosen)

    def dump(self, stream: IO[str], *, format: ReportFormat) -> None:  # noqa: A002
        """Write the report to an open text stream (open CSV streams with `newline=""`)."""
        if format == "json":
            _dump_json(self, stream)
        elif format == "jsonl":
            _dump_jsonl(self, stream)
        elif format == "csv":
            _dump_csv(self, stream)
        else:
            raise ValueError(f"unknown report format {format!r}; expected json, jsonl or csv")

    @classmethod
    def read(cls, path: str | os.PathLike[str], *, format: ReportFormat | None = None) -> Report:  # noqa: A002
        """Read a report written by `write`; a `PlanError` lists every problem with its line.

        A CSV report (or a `.jsonl` one without its summary line) has no summary, so the
        counts and latencies are recomputed from the results and the times are left empty.
        """
        path = Path(path)
        chosen = format or _format_of(path)
        source = str(path)
        try:
            with path.open(encoding="utf-8", newline="") as stream:
                return _READERS[chosen](stream, source=source)
        except OSError as err:
            raise PlanError.single(f"cannot read: {err.strerror}", source=source) from err
        except UnicodeDecodeError:
            raise PlanError.single("not UTF-8 text", source=source) from None


# -- the summary ---------------------------------------------------------------------------


class _Tally:
    """Running totals of results: what a `Summary` needs, without keeping the results."""

    def __init__(self) -> None:
        self.counts: Counter[Status] = Counter()
        self.requests = 0
        self.throttled = 0
        self.retried = 0
        # 8 bytes per sent update: the percentiles need every latency.
        self.latencies = array("d")

    def add(self, result: AttendeeResult) -> None:
        self.counts[result.status] += 1
        self.requests += result.attempts
        self.throttled += result.throttled
        self.retried += max(result.attempts - 1, 0)
        if result.attempts > 0:  # nothing sent, no latency to speak of
            self.latencies.append(result.elapsed_s)

    def summary(self, *, started_at: str, finished_at: str, elapsed_s: float) -> Summary:
        return Summary(
            total=self.counts.total(),
            by_status={
                status.value: self.counts[status] for status in Status if self.counts[status]
            },
            requests=self.requests,
            throttled=self.throttled,
            retried=self.retried,
            elapsed_s=elapsed_s,
            started_at=started_at,
            finished_at=finished_at,
            latency_ms=latency_percentiles(self.latencies),
        )


def summarize(
    results: Iterable[AttendeeResult], *, started_at: str, finished_at: str, elapsed_s: float
) -> Summary:
    """The `Summary` of `results`: counts, attempts and latency percentiles.

    `latency_ms` covers the results that sent at least one request.
    """
    tally = _Tally()
    for result in results:
        tally.add(result)
    return tally.summary(started_at=started_at, finished_at=finished_at, elapsed_s=elapsed_s)


def latency_percentiles(elapsed: Iterable[float]) -> dict[str, float]:
    """p50/p90/p99/max of `elapsed` (seconds) in milliseconds, nearest-rank; `{}` if empty."""
    values = sorted(elapsed)
    if not values:
        return {}

    def rank(p: int) -> float:
        return round(values[max(math.ceil(p / 100 * len(values)) - 1, 0)] * 1000, 3)

    return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": rank(100)}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """`moment` as ISO-8601 UTC to the second with a `Z` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ReportBuilder:
    """Collects a run's results as they finish, in any order, and builds its `Report`.

    The run's clock starts when the builder is made; `build()` stops it. The clocks are
    injectable so tests are exact. With `keep_results=False` (streaming) only the totals are
    kept and the built report has no results::

        builder = ReportBuilder()
        builder.add(result, index=0)
        report = builder.build(total=1)
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utc_now,
        keep_results: bool = True,
    ) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self._started = clock()
        self._started_at = iso_utc(wall_clock())
        self._keep = keep_results
        self._results: list[AttendeeResult | None] = []
        self._tally = _Tally()

    def __len__(self) -> int:
        """How many results have been added."""
        return self._tally.counts.total()

    def add(self, result: AttendeeResult, *, index: int) -> None:
        """Record the result of the update given at position `index` (0-based) of the run.

        A second result for the same index is a `ValueError` (checked when results are kept).
        """
        if index < 0:
            raise ValueError(f"index must be >= 0, got {index}")
        if self._keep:
            if index >= len(self._results):
                self._results.extend([None] * (index + 1 - len(self._results)))
            elif self._results[index] is not None:
                raise ValueError(f"a result for index {index} was already added")
            self._results[index] = result
        self._tally.add(result)

    def build(self, *, total: int | None = None, traffic: Traffic | None = None) -> Report:
        """The report, results in index order.

        When results are kept, an index without a result is a `ValueError` (every update must
        be accounted for); `total`, when given, is how many updates the run had, so a missing
        last one is caught too. `traffic`, when the sender counted its requests itself, is
        used instead of the sums over results (one batch request serves many results).
        """
        results: list[AttendeeResult] = []
        if self._keep:
            results = _complete(self._results, total=total)
        summary = self._tally.summary(
            started_at=self._started_at,
            finished_at=iso_utc(self._wall_clock()),
            elapsed_s=round(self._clock() - self._started, 3),
        )
        if traffic is not None:
            summary = dataclasses.replace(
                summary,
                requests=traffic.requests,
                throttled=traffic.throttled,
                retried=traffic.retried,
            )
        return Report(results=results, summary=summary)


@dataclass(slots=True, kw_only=True)
class Traffic:
    """Requests a run sent, as its sender counted them."""

    requests: int = 0
    throttled: int = 0
    retried: int = 0


def _complete(slots: list[AttendeeResult | None], *, total: int | None) -> list[AttendeeResult]:
    if total is not None and total < len(slots):
        raise ValueError(f"a result was added for index {len(slots) - 1}, beyond {total=}")
    if total is not None:
        slots = slots + [None] * (total - len(slots))
    missing = [index for index, result in enumerate(slots) if result is None]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise ValueError(f"{len(missing)} update(s) have no result (index {shown})")
    return [result for result in slots if result is not None]


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


# -- typed field access: each raises ValueError naming the field ---------------------------


class _FieldError(ValueError):
    """A field of a file has the wrong JSON type (a ValueError: the file is bad, not the code)."""


def _as_dict(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _FieldError(f"expected a JSON object, got {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _check_keys(
    data: Mapping[str, Any], *, allowed: Iterable[str], required: Iterable[str]
) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}")
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"missing key(s) {missing}")


def _get_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise _FieldError(f"{key} must be a string, got {_json_type(value)}")
    return value


def _get_optional_str(data: Mapping[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _get_str(data, key)


def _get_int(data: Mapping[str, Any], key: str, *, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(f"{key} must be an integer, got {_json_type(value)}")
    return value


def _get_float(data: Mapping[str, Any], key: str, *, default: float | None = None) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FieldError(f"{key} must be a number, got {_json_type(value)}")
    return float(value)


def _get_capabilities(data: Mapping[str, Any], key: str) -> Capabilities | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return Capabilities.from_api(_as_dict(value))
    except ValueError as err:
        raise ValueError(f"{key}: {err}") from None


def _get_counts(data: Mapping[str, Any], key: str) -> dict[str, int]:
    counts = _as_dict(data.get(key))
    for status in counts:
        _parse_status(status)
        _get_int(counts, status)
    return dict(counts)


def _get_latencies(data: Mapping[str, Any], key: str) -> dict[str, float]:
    latencies = _as_dict(data.get(key, {}))
    return {name: _get_float(latencies, name) for name in latencies}


def _parse_status(value: Any) -> Status:
    try:
        return Status(value)
    except ValueError:
        allowed = ", ".join(status.value for status in Status)
        raise ValueError(f"status {value!r} is not one of {allowed}") from None
