"""What a person sees: the progress bar and the summary, on a real (forced) terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from chime_bulk import BulkUpdater, Capabilities, Unpaced, Update
from chime_bulk.cli.output import ProgressBar, print_summary, stderr_console
from chime_bulk.emulator import Emulator, Faults
from fakes import FakeChime, Fault, attendee_id, meeting_id

pytestmark = pytest.mark.anyio

MUTED = Capabilities("SendReceive", "Receive", "None")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_progress_bar_counts_results_and_retries(emulator: Emulator) -> None:
    """The bar ends at done/total and counts the retries it was told about."""
    meetings = emulator.seed(meetings=1, attendees=12)
    emulator.set_faults(Faults(p503=0.3, retry_after_s=0))
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    updates = [
        Update(meeting_id=m, attendee_id=a, capabilities=MUTED)
        for m, attendees in meetings.items()
        for a in attendees
    ]
    bar = ProgressBar(console=console, description="apply")
    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url, pacing=Unpaced(), progress=bar
    ) as bulk:
        with bar:
            report = await bulk.run(updates)
    shown = screen.getvalue()
    assert "12/12" in shown
    assert f"retried {report.summary.retried}" in shown
    assert report.summary.retried >= 1


async def test_summary_escapes_what_the_service_said() -> None:
    """A failure message with rich markup in it ([bold]…[/], [red]) is shown literally, not
    read as markup."""
    meeting, attendee = meeting_id(0), attendee_id(0, 0)
    said = "attendee [bold]x[/] left for [red]good"
    fake = FakeChime(
        {meeting: [attendee]},
        script={attendee: [Fault(status=404, code="NotFoundException", message=said)]},
    )
    async with BulkUpdater(client=fake, pacing=Unpaced()) as bulk:
        report = await bulk.run(
            [Update(meeting_id=meeting, attendee_id=attendee, capabilities=MUTED)]
        )
    screen = io.StringIO()
    print_summary(report, console=Console(file=screen, width=200), report_path=None)
    assert (
        f"not_found meeting {meeting} attendee {attendee}: NotFoundException {said}\n"
        in screen.getvalue()
    )


def test_the_people_console_is_stderr_and_never_wraps_ids() -> None:
    """stderr, no soft wrapping of long lines, and quiet when asked."""
    console = stderr_console(quiet=True)
    assert console.stderr
    assert console.soft_wrap
    assert console.quiet
