"""`chime-bulk demo`: the whole tool, offline, in one command.

Starts the embedded emulator in-process with thousands of attendees, a quota that throttles
and a few faults, writes a "mute all video except the hosts" plan, and applies it through
exactly the code path of `chime-bulk apply`. It gives the emulator dummy credentials and
never talks to AWS.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import click

from .._io.plan_index import index_plan
from .._io.plans import write_plan
from .._model.capabilities import Capabilities, Media
from .._model.update import Update
from ..emulator import Emulator, Faults, RateLimit
from .apply import run_apply
from .common import CommonOptions, ExitCode, common_options, report_path_option
from .output import configure_logging, stderr_console

__all__ = ["demo_command"]

_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}


def _mute_video_plan(meetings: dict[str, list[str]]) -> list[Update]:
    """Everyone but each meeting's first attendee (its host) stops sending video."""
    muted = Capabilities(Media.SEND_RECEIVE, Media.SEND_RECEIVE.without_send(), Media.SEND_RECEIVE)
    return [
        Update(meeting_id=meeting, attendee_id=attendee, capabilities=muted)
        for meeting, attendees in meetings.items()
        for attendee in attendees[1:]
    ]


@click.command("demo")
@click.option("--meetings", type=click.IntRange(1, 200), default=10, show_default=True)
@click.option(
    "--attendees",
    type=click.IntRange(2, 250),
    default=200,
    show_default=True,
    help="Attendees per meeting (the first one is the host).",
)
@click.option(
    "--quota",
    type=click.FloatRange(1),
    default=100.0,
    show_default=True,
    help="The emulator's UpdateAttendeeCapabilities quota (requests/s).",
)
@click.option(
    "--report",
    "report_path",
    default="demo-report.json",
    show_default=True,
    type=click.Path(dir_okay=False, writable=True),
    callback=report_path_option,
)
@common_options
def demo_command(
    *, common: CommonOptions, meetings: int, attendees: int, quota: float, report_path: str
) -> None:
    """Mute video for thousands of attendees on the embedded emulator: no AWS account needed."""
    configure_logging(log_format=common.log_format, quiet=common.quiet, verbose=common.verbose)
    if common.endpoint_url is not None or common.profile is not None:
        raise click.UsageError("the demo runs on its own emulator: no --endpoint-url/--profile")
    console = stderr_console(quiet=common.quiet)
    # The emulator accepts any signature; these keep real credentials out of the demo.
    os.environ.update(_DUMMY_CREDENTIALS)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    faults = Faults(p503=0.005, retry_after_s=1, p500=0.005)
    rates = {"*": RateLimit(10, 20), "UpdateAttendeeCapabilities": RateLimit(quota, 20)}
    with Emulator(rates=rates, faults=faults, seed=42) as emulator:
        seeded = emulator.seed(meetings=meetings, attendees=attendees)
        updates = _mute_video_plan(seeded)
        if not common.quiet:
            console.print(
                f"[bold]chime-bulk demo[/]: emulator at {emulator.endpoint_url} with "
                f"{meetings * attendees} attendees in {meetings} meetings; quota {quota:g}/s "
                f"(chime-bulk is not told), 0.5% 503s, 0.5% 500s.\n"
                f"Plan: mute video for {len(updates)} attendees, every meeting's host excepted."
            )
        with tempfile.TemporaryDirectory(prefix="chime-bulk-demo-") as workdir:
            plan_path = Path(workdir) / "mute-video.jsonl"
            write_plan(plan_path, updates)
            with index_plan(plan_path) as plan:
                code = run_apply(
                    plan,
                    common=dataclasses.replace(
                        common,
                        endpoint_url=emulator.endpoint_url,
                        region=common.region or "us-east-1",
                    ),
                    report_path=report_path,
                    json_lines=False,
                    title="demo: mute video",
                )
        agreed = sum(
            emulator.capabilities(u.meeting_id, u.attendee_id) == u.capabilities.to_api()
            for u in updates
        )
    if not common.quiet:
        console.print(
            f"The emulator confirms {agreed} of {len(updates)} attendees now have video muted. "
            f"Report: {report_path}"
        )
    if code is ExitCode.OK and agreed != len(updates):
        code = ExitCode.SOME_FAILED  # the report and the service disagree: never exit 0
    sys.exit(code)
