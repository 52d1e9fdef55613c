"""The report file at the end of a run, in-process: where it goes when its path fails."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pytest
from rich.console import Console

from chime_bulk import Report, Status, Update
from chime_bulk._model.report import AttendeeResult, ReportBuilder
from chime_bulk.cli.execute import _write_report

from .conftest import MUTE_VIDEO

_FDS = Path("/proc/self/fd")

pytestmark = pytest.mark.skipif(not _FDS.is_dir(), reason="needs /proc/self/fd")


def _report() -> Report:
    update = Update(
        meeting_id="11111111-1111-1111-1111-111111111111",
        attendee_id="22222222-2222-2222-2222-222222222222",
        capabilities=MUTE_VIDEO,
    )
    builder = ReportBuilder()
    builder.add(AttendeeResult.unsent(update, Status.CANCELLED, "stopped"), index=0)
    return builder.build()


def _open_fds() -> set[str]:
    return set(os.listdir(_FDS))


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
    before = _open_fds()

    _write_report(report, target, console=Console(file=stderr, soft_wrap=True))

    assert _open_fds() == before
    (fallback,) = fallback_dir.iterdir()
    assert fallback.suffix == ".json"
    assert Report.read(fallback).results == report.results
    assert str(fallback) in stderr.getvalue()


def test_report_nowhere_to_go_is_an_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither the report path nor a temporary file can be written: one error line saying
    so, no exception, no descriptor left open."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    target = tmp_path / "report.json"
    target.mkdir()
    stderr = io.StringIO()
    before = _open_fds()

    _write_report(_report(), target, console=Console(file=stderr, soft_wrap=True))

    assert _open_fds() == before
    assert "nor to a temporary file" in stderr.getvalue()
