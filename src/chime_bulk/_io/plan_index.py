"""A checked plan on disk, so that `apply`'s memory does not grow with the plan.

By contract nothing is sent when any line is bad, so a plan is read twice: the first pass
(`index_plan`) parses and checks every line with `plans`' own parser and puts the updates in a
SQLite file (stdlib, on disk, a couple of megabytes of page cache), where duplicates are found
through a unique index on the case-folded IDs; the second pass (`PlanIndex.updates`) streams
them back in file order to the engine. The same index answers which line a result belongs
to (`line_of`), so a report can be written in plan order from results that arrive in any.

    with index_plan("plan.jsonl", skip_invalid=False) as index:
        for line, update in index.updates():
            ...
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from .._model.capabilities import Capabilities
from .._model.errors import PlanError, PlanProblem
from .._model.results import AttendeeResult
from .._model.update import Update
from .fields import Problems
from .plans import (
    InvalidLine,
    Lines,
    PlanFormat,
    conflict_message,
    folded_key,
    invalid_reasons,
    parse_into,
    plan_format_of,
    region_message,
    repeat_warning,
    shared_capabilities,
)

__all__ = ["PlanIndex", "index_plan"]

#: Repeats named one by one; beyond that they are counted (each is still sent once).
_SHOWN_REPEATS: Final = 20

_SCHEMA: Final = """
CREATE TABLE updates (
    line INTEGER PRIMARY KEY, folded_meeting TEXT NOT NULL, folded_attendee TEXT NOT NULL,
    meeting TEXT NOT NULL, attendee TEXT NOT NULL, capabilities TEXT NOT NULL, region TEXT,
    UNIQUE (folded_meeting, folded_attendee));
CREATE TABLE regions (meeting TEXT PRIMARY KEY, region TEXT NOT NULL, line INTEGER NOT NULL);
CREATE TABLE invalid (line INTEGER PRIMARY KEY, meeting TEXT, attendee TEXT,
    capabilities TEXT, region TEXT, problems TEXT NOT NULL);
CREATE TABLE done (folded_meeting TEXT NOT NULL, folded_attendee TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (folded_meeting, folded_attendee));
"""


def _scratch_db(directory: Path) -> sqlite3.Connection:
    """A SQLite file that is scratch space: no journal, no fsync (a crash loses nothing that
    the plan file does not still hold)."""
    db = sqlite3.connect(directory / "plan.sqlite3", isolation_level=None)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4096;")
    return db


class PlanIndex:
    """A plan checked line by line, its updates on disk. Close it (or use `with`) to delete
    the file. `count` is how many updates will be sent, `invalid_count` how many lines were
    skipped as `invalid` (`--skip-invalid`)."""

    def __init__(self, directory: Path, db: sqlite3.Connection, *, source: str) -> None:
        self.directory = directory
        self._db = db
        self.source = source
        self.sha256: str | None = None
        self.warnings: list[str] = []
        self.skipped: list[PlanProblem] = []
        self.count = 0
        self.invalid_count = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __len__(self) -> int:
        return self.count

    def updates(self) -> Iterator[tuple[int, Update]]:
        """Every update to send, with its line, in file order, read from disk as it goes."""
        for line, update, _ in self.resumed_updates():
            yield line, update

    def keep_done(self, results: Iterable[AttendeeResult]) -> int:
        """Keep a journal's final results (a later one for an attendee wins) for
        `resumed_updates`; how many attendees of this plan they settle."""
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR REPLACE INTO done VALUES (?, ?, ?)",
            (
                (r.meeting_id.lower(), r.attendee_id.lower(), json.dumps(r.to_dict()))
                for r in results
            ),
        )
        self._db.execute("COMMIT")
        (count,) = self._db.execute(
            "SELECT count(*) FROM updates JOIN done USING (folded_meeting, folded_attendee)"
        ).fetchone()
        return int(count)

    def resumed_updates(self) -> Iterator[tuple[int, Update, AttendeeResult | None]]:
        """`updates()`, each with the journal's final result for it (`keep_done`), if any."""
        rows = self._db.execute(
            "SELECT line, meeting, attendee, capabilities, region, data FROM updates "
            "LEFT JOIN done USING (folded_meeting, folded_attendee) ORDER BY line"
        )
        for line, meeting, attendee, capabilities, region, data in rows:
            done = None if data is None else AttendeeResult.from_dict(json.loads(data))
            yield line, _update(meeting, attendee, capabilities, region), done

    def invalid(self) -> Iterator[InvalidLine]:
        """The lines `--skip-invalid` left out, in file order."""
        rows = self._db.execute(
            "SELECT line, meeting, attendee, capabilities, region, problems FROM invalid "
            "ORDER BY line"
        )
        for line, meeting, attendee, capabilities, region, problems in rows:
            update = (
                None if capabilities is None else _update(meeting, attendee, capabilities, region)
            )
            yield InvalidLine(line, update, tuple(problems.split("\n")), meeting, attendee)

    def line_of(self, result: AttendeeResult) -> int | None:
        """The line of the update `result` is for (IDs compared as the service does)."""
        row = self._db.execute(
            "SELECT line FROM updates WHERE folded_meeting = ? AND folded_attendee = ?",
            (result.meeting_id.lower(), result.attendee_id.lower()),
        ).fetchone()
        return None if row is None else int(row[0])


def index_plan(
    path: str | os.PathLike[str],
    *,
    format: PlanFormat | None = None,  # noqa: A002  (the name users expect)
    skip_invalid: bool = False,
    directory: str | os.PathLike[str] | None = None,
) -> PlanIndex:
    """Check a whole plan into a new `PlanIndex` (a `PlanError` lists every bad line, as
    `read_plan` would); `path="-"` reads stdin. `directory` is where its file goes (a new
    temporary folder by default)."""
    source = "<stdin>" if os.fspath(path) == "-" else os.fspath(path)
    chosen = format if format is not None or source == "<stdin>" else plan_format_of(source)
    folder = Path(tempfile.mkdtemp(prefix="chime-bulk-plan-", dir=directory))
    index = PlanIndex(folder, _scratch_db(folder), source=source)
    try:
        index._db.executescript(_SCHEMA)
        collector = _IndexCollector(index, skip_invalid=skip_invalid)
        if source == "<stdin>":
            lines = Lines(sys.stdin.buffer)
            parse_into(collector, lines, chosen=chosen)
        else:
            with open(path, "rb") as stream:
                lines = Lines(stream)
                parse_into(collector, lines, chosen=chosen)
        collector.finish()
        index.sha256 = lines.digest.hexdigest()
    except OSError as err:
        index.close()
        raise PlanError.single(f"cannot read the plan: {err.strerror}", source=source) from err
    except BaseException:
        index.close()
        raise
    return index


def _update(meeting: str, attendee: str, capabilities: str, region: str | None) -> Update:
    audio, video, content = capabilities.split(",")
    return Update(
        meeting_id=sys.intern(meeting),
        attendee_id=attendee,
        capabilities=shared_capabilities(audio, video, content),
        region=region,
    )


def _flat(capabilities: Capabilities) -> str:
    return f"{capabilities.audio.value},{capabilities.video.value},{capabilities.content.value}"


class _IndexCollector:
    """`plans`' line sink, writing to a `PlanIndex`: the same checks as `read_plan`'s."""

    def __init__(self, index: PlanIndex, *, skip_invalid: bool) -> None:
        self.source = index.source
        self.problems = Problems(index.source)
        self._index = index
        self._db = index._db
        self._skip_invalid = skip_invalid
        self._repeats = 0
        self._db.execute("BEGIN")

    def unparseable(
        self, line: int, messages: Iterable[str], *, ids: tuple[str, str] | None = None
    ) -> None:
        if not self._skip_invalid:
            self.problems.extend(line, messages)
        elif ids is not None:
            self._invalid(line, ids[0], ids[1], None, None, messages)
        else:
            self._index.skipped.append(PlanProblem(line, "; ".join(messages), self.source))

    def _invalid(
        self,
        line: int,
        meeting: str,
        attendee: str,
        capabilities: str | None,
        region: str | None,
        messages: Iterable[str],
    ) -> None:
        self._db.execute(
            "INSERT INTO invalid VALUES (?, ?, ?, ?, ?, ?)",
            (line, meeting, attendee, capabilities, region, "\n".join(messages)),
        )
        self._index.invalid_count += 1

    def add(self, line: int, update: Update) -> None:
        problems = invalid_reasons(update)
        if problems:
            if self._skip_invalid:
                flat = _flat(update.capabilities)
                self._invalid(
                    line, update.meeting_id, update.attendee_id, flat, update.region, problems
                )
            else:
                self.problems.extend(line, problems)
            return
        if self._region_conflict(line, update):
            return
        meeting, attendee = folded_key(update)
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO updates VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                line,
                meeting,
                attendee,
                update.meeting_id,
                update.attendee_id,
                _flat(update.capabilities),
                update.region,
            ),
        ).rowcount
        if inserted:
            self._index.count += 1
        else:
            self._repeat(line, update)

    def _repeat(self, line: int, update: Update) -> None:
        first_line, meeting, attendee, capabilities, region = self._db.execute(
            "SELECT line, meeting, attendee, capabilities, region FROM updates "
            "WHERE folded_meeting = ? AND folded_attendee = ?",
            folded_key(update),
        ).fetchone()
        first = _update(meeting, attendee, capabilities, region)
        if (first.capabilities, first.region) != (update.capabilities, update.region):
            self.problems.add(line, conflict_message(first, first_line, update, line))
            return
        self._repeats += 1
        if self._repeats <= _SHOWN_REPEATS:
            self._index.warnings.append(repeat_warning(self.source, line, first_line, update))

    def _region_conflict(self, line: int, update: Update) -> bool:
        if update.region is None:
            return False
        self._db.execute(
            "INSERT OR IGNORE INTO regions VALUES (?, ?, ?)",
            (update.meeting_id.lower(), update.region, line),
        )
        region, first_line = self._db.execute(
            "SELECT region, line FROM regions WHERE meeting = ?", (update.meeting_id.lower(),)
        ).fetchone()
        if region == update.region:
            return False
        self.problems.add(line, region_message(update, region, first_line, line))
        return True

    def finish(self) -> None:
        self._db.execute("COMMIT")
        self.problems.raise_if_any()
        if self._repeats > _SHOWN_REPEATS:
            self._index.warnings.append(
                f"{self.source}: … and {self._repeats - _SHOWN_REPEATS:,} more repeated "
                "line(s) with the same capabilities; each attendee is sent once"
            )
        if not self._index.count:
            skipped = self._index.invalid_count or self._index.skipped
            what = "no line of the plan is valid" if skipped else "the plan is empty"
            self._index.warnings.append(f"{self.source}: {what}; nothing to send")
