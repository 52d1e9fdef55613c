"""`Report`: every update of a run, each exactly once, and the builder a run fills.

A run hands each finished `AttendeeResult` to a `ReportBuilder` (in whatever order they
finish); `ReportBuilder.build()` returns the `Report` with the results in the order the
updates were given and a `Summary` of the run. `Report.write`/`Report.read` are the public way
to files; the formats themselves (`.json`, `.jsonl`, `.csv`, schema `chime-bulk.report/1`)
are `_io.report_files`' job.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from .._io import report_files
from .._io.fields import ReportFormat
from .results import AttendeeResult, Status
from .summary import Summary, Tally, Traffic, iso_utc
from .update import Update

#: What `retry_updates` sends again.
_RETRIED: Final = frozenset({Status.FAILED, Status.CANCELLED})
#: `state_aware.CHANGED_SINCE` (the model imports nothing above it): a restore's deliberate
#: refusal to overwrite someone else's change is not a failure to retry.
_NOT_RETRIED_CODES: Final = frozenset({"ChangedSinceRun"})

__all__ = ["Report", "ReportBuilder"]


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

    def retry_updates(self) -> list[Update]:
        """The updates to send again: one per `failed` or `cancelled` result, in report order,
        with the capabilities, Region and `previous` it had.

        >>> report = await bulk.run(report.retry_updates())  # doctest: +SKIP

        Results themselves given to `run()` pass through unchanged (they are decided results,
        e.g. resumed from a journal); this is how to ask for them to be sent. Left out: the
        other statuses (`invalid` would still be invalid, `not_found` is gone), a result
        without desired capabilities, and a restore's `ChangedSinceRun` (someone else changed
        the attendee since; restore refused to overwrite that, and so does a retry).
        """
        updates: list[Update] = []
        seen: set[tuple[str, str]] = set()
        for result in self.results:
            key = (result.meeting_id, result.attendee_id)
            if (
                result.status not in _RETRIED
                or result.desired is None
                or result.error_code in _NOT_RETRIED_CODES
                or key in seen
            ):
                continue
            seen.add(key)
            updates.append(
                Update(
                    meeting_id=result.meeting_id,
                    attendee_id=result.attendee_id,
                    capabilities=result.desired,
                    region=result.region,
                    previous=result.previous,
                )
            )
        return updates

    def to_dict(self) -> dict[str, Any]:
        """`{"schema": "chime-bulk.report/1", "summary": {…}, "results": […]}`."""
        return {
            "schema": report_files.REPORT_SCHEMA,
            "summary": self.summary.to_dict(),
            "results": [result.to_dict() for result in self.results],
        }

    def write(self, path: str | os.PathLike[str], *, format: ReportFormat | None = None) -> None:  # noqa: A002
        """Save the report, in the format its suffix names (`.json`, `.jsonl`, `.csv`).

        The file is replaced atomically: readers see the old file or the whole new one. CSV
        holds the results only (see `read`). An unknown suffix raises `ValueError`.
        """
        report_files.write_report(
            Path(path), results=self.results, summary=self.summary, format=format
        )

    def dump(self, stream: IO[str], *, format: ReportFormat) -> None:  # noqa: A002
        """Write the report to an open text stream (open CSV streams with `newline=""`)."""
        report_files.dump_report(stream, results=self.results, summary=self.summary, format=format)

    @classmethod
    def read(cls, path: str | os.PathLike[str], *, format: ReportFormat | None = None) -> Report:  # noqa: A002
        """Read a report written by `write`; a `PlanError` lists every problem with its line.

        A CSV report (or a `.jsonl` one without its summary line) has no summary, so the
        counts and latencies are recomputed from the results and the times are left empty.
        """
        results, summary = report_files.read_report(Path(path), format=format)
        return cls(results=results, summary=summary)


def _utc_now() -> datetime:
    return datetime.now(UTC)


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
        self._tally = Tally()

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
            traffic=traffic,
        )
        return Report(results=results, summary=summary)


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
