"""Results of a streamed `apply` run, kept on disk in plan order until the report is written.

Results arrive in the order they finish; the report lists them in the order of the plan.
Each result goes to a SQLite table keyed by its plan line as it arrives (so memory holds only
counters: the `Tally` behind the summary), and `build()` returns a `Report` whose `results`
read that table back `ORDER BY line` as they are iterated, so writing any report format
(`.json`, `.jsonl`, `.csv`) streams from disk.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final, SupportsIndex, overload

from .._model.report import Report, ReportBuilder
from .._model.results import AttendeeResult
from .._model.summary import Summary
from .plan_index import PlanIndex

__all__ = ["ResultSpool"]

#: Rows per transaction: big enough that committing costs nothing, small enough to matter
#: nowhere.
_BATCH: Final = 5_000


class ResultSpool:
    """Where a streamed run's results wait, on disk, for the report.

    `add` takes results in any order (the line comes from the plan index, or is given);
    `build()` is the run's `Report`. A second result for the same line is ignored.
    """

    def __init__(self, index: PlanIndex) -> None:
        self._index = index
        self._db = sqlite3.connect(Path(index.directory) / "results.sqlite3", isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-2048;"
            "CREATE TABLE results (line INTEGER PRIMARY KEY, ok INTEGER NOT NULL,"
            " data TEXT NOT NULL);"
            "CREATE INDEX not_ok ON results (ok, line);"
        )
        self._builder = ReportBuilder(keep_results=False)
        self._pending = 0
        # Results the plan index cannot place (none in a normal run) go after the plan's last
        # line, in arrival order, so none is ever lost.
        self._unplaced = 1 << 40
        self._db.execute("BEGIN")

    def __len__(self) -> int:
        return len(self._builder)

    def add(
        self, result: AttendeeResult, *, index: int | None = None, line: int | None = None
    ) -> None:
        """Keep `result` for its plan line (`index`, a position in a run, is not used: a
        streamed run's results are placed by their IDs)."""
        if line is None:
            line = self._index.line_of(result)
        if line is None:
            line = self._unplaced = self._unplaced + 1
        data = json.dumps(result.to_dict(), ensure_ascii=False, separators=(",", ":"))
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO results VALUES (?, ?, ?)", (line, result.status.ok, data)
        )
        if cursor.rowcount:
            self._builder.add(result, index=line)
        self._pending += 1
        if self._pending >= _BATCH:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            self._pending = 0

    def build(self, *, total: int | None = None, run: Summary | None = None) -> Report:
        """The run's report: exact summary, results read from disk in plan order.

        `run` is the engine's summary of the run: its traffic figures (requests, latencies,
        the circuit) are the wire's, which the results alone cannot tell; the counts are the
        spool's, which also holds results that never went through the run (invalid lines).
        """
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")
        summary = self._builder.build().summary
        if run is not None:
            summary = dataclasses.replace(run, total=summary.total, by_status=summary.by_status)
        return _SpooledReport(
            results=_SpooledResults(self._db, len(self._builder)), summary=summary
        )

    def close(self) -> None:
        self._db.close()


class _SpooledReport(Report):
    """A `Report` whose `failed()` is read from disk too: after Ctrl-C most of a million
    updates are `cancelled`, and a list of them all would be the run's largest object."""

    __slots__ = ()

    def failed(self) -> list[AttendeeResult]:
        assert isinstance(self.results, _SpooledResults)
        return _FailedView(self.results.db)


class _FailedView(list[AttendeeResult]):
    """The results that are not ok, as the list `Report.failed()` promises, read on demand
    (its length, a slice such as the first ten, or one pass) instead of held."""

    def __init__(self, db: sqlite3.Connection) -> None:
        super().__init__()
        self._db = db

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM results WHERE ok = 0").fetchone()[0])

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[AttendeeResult]:
        for (data,) in self._db.execute("SELECT data FROM results WHERE ok = 0 ORDER BY line"):
            yield AttendeeResult.from_dict(json.loads(data))

    @overload
    def __getitem__(self, position: SupportsIndex) -> AttendeeResult: ...
    @overload
    def __getitem__(self, position: slice) -> list[AttendeeResult]: ...
    def __getitem__(self, position: Any) -> Any:
        if not isinstance(position, slice) or position.step not in (None, 1):
            return list(iter(self))[position]  # not used by the CLI: only slices from 0
        start, stop, _ = position.indices(len(self))
        rows = self._db.execute(
            "SELECT data FROM results WHERE ok = 0 ORDER BY line LIMIT ? OFFSET ?",
            (max(stop - start, 0), start),
        )
        return [AttendeeResult.from_dict(json.loads(data)) for (data,) in rows]


class _SpooledResults(Sequence[AttendeeResult]):
    """A report's results, read from the spool each time they are iterated."""

    def __init__(self, db: sqlite3.Connection, count: int) -> None:
        self.db = self._db = db
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[AttendeeResult]:
        for (data,) in self._db.execute("SELECT data FROM results ORDER BY line"):
            yield AttendeeResult.from_dict(json.loads(data))

    @overload
    def __getitem__(self, position: int) -> AttendeeResult: ...
    @overload
    def __getitem__(self, position: slice) -> Sequence[AttendeeResult]: ...
    def __getitem__(self, position: Any) -> Any:
        if isinstance(position, slice):
            return list(self)[position]
        if position < 0:
            position += self._count
        row = self._db.execute(
            "SELECT data FROM results ORDER BY line LIMIT 1 OFFSET ?", (position,)
        ).fetchone()
        if row is None:
            raise IndexError(position)
        return AttendeeResult.from_dict(json.loads(row[0]))
