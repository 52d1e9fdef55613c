"""The end of a run, in-process: where the report goes when its path fails or the run does."""

from __future__ import annotations

import errno
import functools
import io
import os
import signal
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import anyio
import pytest
from rich.console import Console

from chime_bulk import BulkUpdater, Report, Status, Update
from chime_bulk._engine.intake import Item
from chime_bulk._io.journal import Journal
from chime_bulk._model.report import ReportBuilder
from chime_bulk._model.results import AttendeeResult
from chime_bulk.cli.common import CommonOptions, ExitCode
from chime_bulk.cli.execute import RunRequest, _write_report, execute
from chime_bulk.emulator import Emulator

from .conftest import MUTE_VIDEO, plan_for

_FDS = Path("/proc/self/fd")

_NEEDS_PROC = pytest.mark.skipif(not _FDS.is_dir(), reason="needs /proc/self/fd")


def _report() -> Report:
    update = Update(
        meeting_id="11111111-1111-1111-1111-111111111111",
        attendee_id="22222222-2222-2222-2222-222222222222",
        capabilities=MUTE_VIDEO,
    )
    builder = ReportBuilder()
    builder.add(AttendeeResult.unsent(update, Status.CANCELLED, "stopped"), index=0)
    return builder.build()


def _open_files(folder: Path) -> list[str]:
    """The files under `folder` this process holds open (other tests' threads and pipes may
    open and close descriptors meanwhile, so only these are compared)."""
    held = []
    for fd in os.listdir(_FDS):
        try:
            target = os.readlink(_FDS / fd)
        except OSError:  # closed between the listing and the look
            continue
        if target.startswith(str(folder)):
            held.append(target)
    return held


@_NEEDS_PROC
def test_report_fallback_keeps_the_report_and_leaks_no_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unwritable report path: the report lands in a temporary file, the error names it,
    and no file descriptor is left open."""
    fallback_dir = tmp_path / "tmp"
    fallback_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(fallback_dir))
    target = tmp_path / "report.json"
    target.mkdir()  # a folder where the file should go: writing it fails
    report = _report()
    stderr = io.StringIO()

    _write_report(report, target, console=Console(file=stderr, soft_wrap=True))

    assert _open_files(tmp_path) == []
    (fallback,) = fallback_dir.iterdir()
    assert fallback.suffix == ".json"
    assert Report.read(fallback).results == report.results
    assert str(fallback) in stderr.getvalue()


@_NEEDS_PROC
def test_report_nowhere_to_go_is_an_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither the report path nor a temporary file can be written: one error line saying
    so, no exception, no descriptor left open."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    target = tmp_path / "report.json"
    target.mkdir()
    stderr = io.StringIO()

    _write_report(_report(), target, console=Console(file=stderr, soft_wrap=True))

    assert _open_files(tmp_path) == []
    assert "nor to a temporary file" in stderr.getvalue()


class _DiskFillsUp(Journal):
    """A journal whose disk is full after a few records."""

    def record(self, index: int, result: AttendeeResult) -> None:
        if index >= 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().record(index, result)


@pytest.fixture
def own_signals() -> Iterator[None]:
    """`execute` takes over SIGINT and SIGTERM for good; give pytest its own back."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.usefixtures("own_signals")
def test_a_run_that_fails_unexpectedly_still_writes_what_finished(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The journal's disk fills up mid-run: exit 3, an error line instead of a traceback,
    and a report of the results that had finished, every one of them as the server has it."""
    _, updates = plan_for(emulator, tmp_path, meetings=1, attendees=40)
    report_path = tmp_path / "report.json"
    stderr = io.StringIO()
    common = CommonOptions(
        region="us-east-1",
        profile=None,
        endpoint_url=emulator.endpoint_url,
        concurrency=1,
        max_rate=None,
        max_attempts=3,
        deadline=None,
        log_format="console",
        quiet=False,
        verbose=0,
        progress=False,
    )

    async def items(bulk: BulkUpdater) -> Iterable[Item]:
        return updates

    request = RunRequest(
        items=items,
        common=common,
        report_path=str(report_path),
        json_lines=False,
        title="apply",
        journal=_DiskFillsUp.open(tmp_path / "run.journal"),
    )
    console = Console(file=stderr, soft_wrap=True)
    code = anyio.run(functools.partial(execute, request, console=console))

    assert code is ExitCode.ABORTED
    assert "No space left on device" in stderr.getvalue()
    report = Report.read(report_path)
    assert len(report.results) == 5
    for result in report.results:
        assert result.status is Status.SUCCEEDED
        assert emulator.capabilities(result.meeting_id, result.attendee_id) == MUTE_VIDEO.to_api()
