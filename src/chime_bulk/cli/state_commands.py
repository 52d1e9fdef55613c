"""`mute`, `unmute` and `restore`: commands that start from the attendees' current state.

`mute`/`unmute` read each meeting (its features and attendees), take sending away from (or
give it back to) the chosen media, and send only what changes; the report keeps every
attendee's previous capabilities, so `restore REPORT` can put back exactly what a run changed.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import click

from .._engine.intake import Item
from .._engine.updater import BulkUpdater
from .._model.errors import PlanError
from .._model.report import Report
from .._model.validation import is_valid_id
from ..state_aware import MediaSelection, plan_sending_change, undo_updates
from .common import CommonOptions, ExitCode, changing_options, common_options
from .execute import RunRequest, execute
from .output import (
    configure_logging,
    print_error,
    print_problems,
    print_warning,
    stderr_console,
)

__all__ = ["mute_command", "restore_command", "unmute_command"]


def _checked_ids(values: tuple[str, ...], *, option: str) -> tuple[str, ...]:
    bad = [value for value in values if not is_valid_id(value)]
    if bad:
        raise click.BadParameter(f"not a Chime ID: {', '.join(bad)}", param_hint=option)
    return values


def _run(request: RunRequest) -> None:
    console = stderr_console(quiet=request.common.quiet)
    sys.exit(anyio.run(functools.partial(execute, request, console=console)))


def _sending_options(verb: str) -> Callable[[Callable[..., None]], click.Command]:
    """The options of `mute` and `unmute` (their help names the verb)."""
    options = [
        click.command(verb),
        click.option(
            "--meeting",
            "meetings",
            multiple=True,
            required=True,
            metavar="ID",
            help="A meeting to change (repeat for more).",
        ),
        click.option("--audio", is_flag=True, help=f"{verb.capitalize()} audio."),
        click.option("--video", is_flag=True, help=f"{verb.capitalize()} video."),
        click.option("--content", is_flag=True, help=f"{verb.capitalize()} content sharing."),
        click.option(
            "--except",
            "excepted",
            multiple=True,
            metavar="ATTENDEE_ID",
            help="Leave this attendee as it is (repeat for more).",
        ),
        click.option(
            "--batch/--no-batch",
            default=False,
            show_default=True,
            help="Change the attendees of a meeting that all get the same capabilities with "
            "one BatchUpdateAttendeeCapabilitiesExcept: far fewer requests, but an attendee "
            "who joins between the listing and the call gets the change too, unreported.",
        ),
    ]

    def decorate(function: Callable[..., None]) -> click.Command:
        wrapped: Any = function
        for option in reversed(options):
            wrapped = option(wrapped)
        assert isinstance(wrapped, click.Command)
        return wrapped

    return decorate


async def _sending_items(
    bulk: BulkUpdater,
    *,
    meeting_ids: list[str],
    media: MediaSelection,
    allow_send: bool,
    excluded: frozenset[str],
    batch: bool,
    common: CommonOptions,
) -> Iterable[Item]:
    plan = await plan_sending_change(
        bulk,
        meeting_ids,
        media=media,
        allow_send=allow_send,
        excluded=excluded,
        batch=batch,
        region=common.region,
    )
    if plan.unknown_excluded:
        print_warning(
            stderr_console(quiet=common.quiet),
            "--except names attendee(s) in none of the meetings: "
            + ", ".join(plan.unknown_excluded),
        )
    return plan.items


def _sending_command(*, allow_send: bool) -> click.Command:
    verb = "unmute" if allow_send else "mute"

    @_sending_options(verb)
    @changing_options
    @common_options
    def command(
        *,
        common: CommonOptions,
        meetings: tuple[str, ...],
        audio: bool,
        video: bool,
        content: bool,
        excepted: tuple[str, ...],
        batch: bool,
        report_path: str | None,
        dry_run: bool,
        json_lines: bool,
    ) -> None:
        configure_logging(log_format=common.log_format, quiet=common.quiet, verbose=common.verbose)
        if not (audio or video or content):
            raise click.UsageError(f"say what to {verb}: --audio, --video and/or --content")
        media = MediaSelection(audio=audio, video=video, content=content)
        meeting_ids = list(dict.fromkeys(_checked_ids(meetings, option="--meeting")))
        excluded = frozenset(_checked_ids(excepted, option="--except"))

        items = functools.partial(
            _sending_items,
            meeting_ids=meeting_ids,
            media=media,
            allow_send=allow_send,
            excluded=excluded,
            batch=batch,
            common=common,
        )
        _run(
            RunRequest(
                items=items,
                common=common,
                report_path=report_path,
                json_lines=json_lines,
                title=verb,
                dry_run=dry_run,
            )
        )

    what = "Stop" if not allow_send else "Let"
    command.help = (
        f"{what} attendees {'send' if allow_send else 'sending'} the chosen media in whole "
        f"meetings, except the attendees named; receiving is left as it is."
    )
    return command


mute_command = _sending_command(allow_send=False)
unmute_command = _sending_command(allow_send=True)


@click.command("restore")
@click.argument("report_file", metavar="REPORT", type=click.Path(exists=True, dir_okay=False))
@changing_options
@common_options
def restore_command(
    *,
    common: CommonOptions,
    report_file: str,
    report_path: str | None,
    dry_run: bool,
    json_lines: bool,
) -> None:
    """Undo a run: put back the previous capabilities its report recorded."""
    configure_logging(log_format=common.log_format, quiet=common.quiet, verbose=common.verbose)
    console = stderr_console(quiet=common.quiet)
    try:
        source = Report.read(report_file)
    except PlanError as error:
        print_problems(console, error, what=f"the report {report_file}")
        sys.exit(ExitCode.USAGE)
    except (ValueError, OSError) as error:
        print_error(console, f"{error}; nothing was sent")
        sys.exit(ExitCode.USAGE)
    undo = undo_updates(source)
    if undo.without_previous:
        print_warning(
            console,
            f"{undo.without_previous} changed attendee(s) have no previous state in "
            f"{report_file} (apply does not read state; mute and unmute do): left as they are",
        )

    async def items(bulk: BulkUpdater) -> Iterable[Item]:
        return undo.updates

    _run(
        RunRequest(
            items=items,
            common=common,
            report_path=report_path,
            json_lines=json_lines,
            title="restore",
            dry_run=dry_run,
        )
    )
