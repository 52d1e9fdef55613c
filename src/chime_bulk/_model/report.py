"""Per-attendee results and the report that accounts for every update of a run.

A run hands each finished `AttendeeResult` to a `ReportBuilder` (in whatever order they finish);
`ReportBuilder.build()` returns the `Report` with the results in the order the updates were
given and a `Summary` of the run. `Report.write` saves it as `.json`, `.jsonl` or `.csv`
(schema `chime-bulk.report/1`), atomically; `Report.read` reads any of the three back (the
file formats themselves are `report_files`' job).

No result type carries a JoinToken, so no report can contain one.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, Literal

from .capabilities import Capabilities
from .update import Update

if TYPE_CHECKING:
    pass

__all__ = [
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
    def unsent(cls, update: Update, status: Status, message: str | None = None) -> AttendeeResult:
        """The result of an update that was decided without a request (cancelled, invalid,
        planned by a dry run)."""
        return cls(
            meeting_id=update.meeting_id,
            attendee_id=update.attendee_id,
            status=status,
            desired=update.capabilities,
            previous=update.previous,
            error_message=message,
            region=update.region,
        )

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
        from .._io.report_files import write_report

        write_report(self, Path(path), format=format)

    def dump(self, stream: IO[str], *, format: ReportFormat) -> None:  # noqa: A002
        """Write the report to an open text stream (open CSV streams with `newline=""`)."""
        from .._io.report_files import dump_report

        dump_report(self, stream, format=format)

    @classmethod
    def read(cls, path: str | os.PathLike[str], *, format: ReportFormat | None = None) -> Report:  # noqa: A002
        """Read a report written by `write`; a `PlanError` lists every problem with its line.

        A CSV report (or a `.jsonl` one without its summary line) has no summary, so the
        counts and latencies are recomputed from the results and the times are left empty.
        """
        from .._io.report_files import read_report

        return read_report(Path(path), format=format)


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
