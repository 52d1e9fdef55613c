"""An append-only journal of finished results, so an interrupted `apply` can `--resume`.

The file is JSON lines. The first is a header naming the plan it belongs to::

    {"schema": "chime-bulk.journal/1", "plan": "<sha256 of the plan source, or null>"}

then one line per finished update: `{"index": 7, <the report's result fields>}`. Lines are
buffered and written every `flush_every` results, on `flush()` and on close (which also
fsyncs). A crash can therefore leave the last line torn; `load_journal` ignores a torn last
line but rejects garbage anywhere else, and `Journal.open(..., resume=True)` cuts the torn
line off before appending.

    with Journal.open("run.journal", plan_sha256=plan.sha256) as journal:
        journal.record(0, result)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final, Self

import anyio

from .._model.errors import JournalError
from .._model.results import AttendeeResult, Status
from .fields import Problems

__all__ = ["FINAL_STATUSES", "JOURNAL_SCHEMA", "Journal", "iter_journal", "load_journal"]

#: The `schema` value of a journal's header line.
JOURNAL_SCHEMA: Final = "chime-bulk.journal/1"

#: Statuses that settle an attendee: a resumed run does not send these again.
FINAL_STATUSES: Final = frozenset(
    {
        Status.SUCCEEDED,
        Status.UNCHANGED,
        Status.EXCLUDED,
        Status.NOT_FOUND,
        Status.INVALID,
        Status.FAILED,
    }
)

_TAIL_BLOCK: Final = 1 << 16

#: How long a cancelled or finished run waits for its journal to reach the disk.
CLEANUP_TIMEOUT_S: Final = 10.0


async def _bounded(work: Callable[[], None], *, timeout_s: float) -> None:
    with anyio.move_on_after(timeout_s, shield=True):
        await anyio.to_thread.run_sync(work, abandon_on_cancel=True)


class Journal:
    """An open journal. Make one with `Journal.open`; close it (or use it as a context manager).

    `record` never blocks on the disk for long: it appends to a buffer that is written every
    `flush_every` results. Closing fsyncs; `aclose()` does that in a worker thread.
    """

    def __init__(self, path: Path, stream: IO[bytes], *, flush_every: int) -> None:
        self._path = path
        self._stream = stream
        self._flush_every = flush_every
        self._pending = 0

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        plan_sha256: str | None = None,
        resume: bool = False,
        flush_every: int = 100,
    ) -> Journal:
        """Start a journal at `path` (replacing any file there) for the plan `plan_sha256`.

        With `resume=True` an existing journal is appended to instead: its header must name
        the same plan (when `plan_sha256` is given; `JournalError` otherwise) and a torn last
        line is cut off first. A missing or empty file is started afresh either way.
        """
        if flush_every < 1:
            raise ValueError(f"flush_every must be >= 1, got {flush_every}")
        path = Path(path)
        if resume and path.exists() and path.stat().st_size > 0:
            stream = _reopen(path, plan_sha256=plan_sha256)
        else:
            stream = path.open("wb", buffering=1 << 20)
            stream.write(_line({"schema": JOURNAL_SCHEMA, "plan": plan_sha256}))
            stream.flush()
        return cls(path, stream, flush_every=flush_every)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def record(self, index: int, result: AttendeeResult) -> None:
        """Append the result of the update at position `index` of the run."""
        if self._stream.closed:
            raise ValueError(f"journal {self._path} is closed")
        self._stream.write(_line({"index": index, **result.to_dict()}))
        self._pending += 1
        if self._pending >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Hand everything recorded so far to the operating system."""
        self._stream.flush()
        self._pending = 0

    def close(self) -> None:
        """Flush, fsync and close; closing twice is harmless."""
        if self._stream.closed:
            return
        try:
            self.flush()
            os.fsync(self._stream.fileno())
        finally:
            self._stream.close()

    async def aflush(self, *, timeout_s: float = CLEANUP_TIMEOUT_S) -> None:
        """`flush()` in a worker thread; see `aclose` for the shield and the bound."""
        await _bounded(self.flush, timeout_s=timeout_s)

    async def aclose(self, *, timeout_s: float = CLEANUP_TIMEOUT_S) -> None:
        """`close()` in a worker thread, shielded so a cancelled run still keeps its journal,
        and bounded so a disk that hangs cannot hang the program: after `timeout_s` the
        thread is left to finish on its own."""
        await _bounded(self.close, timeout_s=timeout_s)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def load_journal(
    path: str | os.PathLike[str], *, plan_sha256: str | None = None
) -> dict[tuple[str, str], AttendeeResult]:
    """The final results in a journal, by (meeting ID, attendee ID); the last one wins.

    Final means succeeded, unchanged, excluded, not_found, invalid or failed; `cancelled` and
    `planned` results are left out, so a resumed run sends those again. A torn last line (a
    crash mid-write) is ignored; anything else unreadable raises `JournalError` with its line
    number, as does a header naming another plan than `plan_sha256` (when given).
    """
    return {
        (result.meeting_id, result.attendee_id): result
        for result in iter_journal(path, plan_sha256=plan_sha256)
    }


def iter_journal(
    path: str | os.PathLike[str], *, plan_sha256: str | None = None
) -> Iterator[AttendeeResult]:
    """`load_journal`'s final results one by one, in the journal's order (a later one for
    the same attendee wins), so a caller can keep them on disk instead of in memory. A
    `JournalError` comes once every line has been read."""
    source = str(path)
    problems = Problems(source)
    with Path(path).open("rb") as stream:
        for number, raw, complete in _lines(stream):
            if number == 1:
                if not complete:
                    return  # a crash while the header was being written: nothing recorded
                _check_header(raw, plan_sha256=plan_sha256, source=source)
                continue
            if not raw.strip():
                continue
            try:
                result = _parse_record(raw)
            except ValueError as err:
                if complete:  # only the very last line may be torn
                    problems.add(number, str(err))
                continue
            if result.status in FINAL_STATUSES:
                yield result
    if problems:
        raise JournalError(problems.items)


def _line(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, whether the line ended with a newline) for every line."""
    for number, raw in enumerate(stream, start=1):
        yield number, raw, raw.endswith(b"\n")


class _BadRecord(ValueError):
    """A journal line that is not a record (a ValueError: the file is bad, not the code)."""


def _parse_record(raw: bytes) -> AttendeeResult:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _BadRecord(f"not a journal record: {err}") from None
    if not isinstance(data, dict):
        raise _BadRecord("not a journal record: expected a JSON object")
    index = data.pop("index", None)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise _BadRecord(f"not a journal record: 'index' must be an integer >= 0, got {index!r}")
    return AttendeeResult.from_dict(data)


def _check_header(raw: bytes, *, plan_sha256: str | None, source: str) -> None:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("schema") != JOURNAL_SCHEMA:
        raise JournalError.single(
            f"not a chime-bulk journal (the first line must be the {JOURNAL_SCHEMA} header)",
            line=1,
            source=source,
        )
    found = header.get("plan")
    if plan_sha256 is not None and found != plan_sha256:
        raise JournalError.single(
            f"this journal belongs to another plan (sha256 {found}), not this one "
            f"({plan_sha256}); resume with the plan it was written for, or start afresh",
            line=1,
            source=source,
        )


def _reopen(path: Path, *, plan_sha256: str | None) -> IO[bytes]:
    """Open an existing journal for appending, after checking it and cutting a torn tail."""
    stream = path.open("r+b", buffering=1 << 20)
    try:
        first = stream.readline()
        if not first.endswith(b"\n"):  # torn header: nothing was recorded, start afresh
            stream.seek(0)
            stream.truncate()
            stream.write(_line({"schema": JOURNAL_SCHEMA, "plan": plan_sha256}))
            stream.flush()
            return stream
        _check_header(first, plan_sha256=plan_sha256, source=str(path))
        stream.truncate(_end_of_last_line(stream))
        stream.seek(0, os.SEEK_END)
    except BaseException:
        stream.close()
        raise
    return stream


def _end_of_last_line(stream: IO[bytes]) -> int:
    """The offset just after the file's last newline (reading backwards, a block at a time)."""
    end = stream.seek(0, os.SEEK_END)
    while end > 0:
        start = max(end - _TAIL_BLOCK, 0)
        stream.seek(start)
        block = stream.read(end - start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0
