"""`chime-bulk demo`: the offline tour runs the apply path end to end."""

from __future__ import annotations

from pathlib import Path

from chime_bulk import Report

from .conftest import chime_bulk


def test_demo_mutes_everyone_but_the_hosts_and_exits_0(tmp_path: Path) -> None:
    """A small demo exits 0, reports every non-host attendee succeeded, and says so."""
    report_path = tmp_path / "demo.json"
    done = chime_bulk(
        "demo",
        "--meetings",
        "3",
        "--attendees",
        "40",
        "--quota",
        "400",
        "--report",
        str(report_path),
    )
    assert done.returncode == 0, done.stderr
    report = Report.read(report_path)
    assert report.summary.by_status == {"succeeded": 3 * 39}
    assert {r.desired.to_api()["Video"] for r in report.results if r.desired} == {"Receive"}
    assert "confirms 117 of 117" in done.stderr


def test_demo_refuses_a_real_endpoint() -> None:
    """The demo never talks to anything but its own emulator."""
    done = chime_bulk("demo", "--endpoint-url", "https://meetings-chime.us-east-1.amazonaws.com")
    assert done.returncode == 2
    assert "own emulator" in done.stderr
