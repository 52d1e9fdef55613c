"""`mute`, `unmute` and `restore`: commands that start from the attendees' current state.

Thin wrappers over `BulkUpdater.plan_mute` / `plan_unmute` / `plan_restore` and `run`: read
each meeting, plan the cheapest calls (`--strategy`), send, verify batches, and report every
attendee; the report keeps each attendee's previous capabilities, so `restore REPORT` puts
back exactly what a run changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import anyio
import click

from .._engine.updater import BulkUpdater
from .._model.errors import PlanError
from .._model.report import Report
from .._model.validation import is_valid_id
from ..state_aware import Hosts, MediaSelection, StatePlan, Strategy
from .common import CommonOptions, ExitCode, changing_options, common_options
from .execute import RunRequest, execute
from .journaling import prepare_journal
from .output import (
    configure_logging,
    print_error,
    print_problems,
    print_warning,
    stderr_console,
)

__all__ = ["mute_command", "restore_command", "unmute_command"]

_STRATEGY_HELP = (
    "How to send each meeting's changes: auto (default) sends one "
    "BatchUpdateAttendeeCapabilitiesExcept for the largest group that needs the same change "
    "when that takes fewer requests, and verifies it by listing the meeting again; "
    "per-attendee sends one UpdateAttendeeCapabilities each; batch-except always batches."
)


def _checked_ids(values: tuple[str, ...], *, option: str) -> tuple[str, ...]:
    bad = [value for value in values if not is_valid_id(value)]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise click.BadParameter(f"not a Chime ID: {shown}", param_hint=option)
    return values


def _lines(path: str, *, option: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise click.BadParameter(f"cannot read {path}: {error}", param_hint=option) from None


def _meeting_ids(meetings: tuple[str, ...], meetings_file: str | None) -> list[str]:
    listed = list(meetings)
    if meetings_file is not None:
        lines = _lines(meetings_file, option="--meetings-file")
        listed += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not listed:
        raise click.UsageError("name the meetings: --meeting ID (repeat) or --meetings-file")
    return list(dict.fromkeys(_checked_ids(tuple(listed), option="--meeting")))


def _hosts(excepted: tuple[str, ...], except_file: str | None) -> Hosts:
    hosts = Hosts(everywhere=frozenset(excepted))
    if except_file is None:
        return hosts
    try:
        parsed = Hosts.parse(_lines(except_file, option="--except-file"), source=except_file)
    except PlanError as error:
        print_problems(stderr_console(), error, what=f"the hosts file {except_file}")
        sys.exit(ExitCode.USAGE)
    return Hosts(everywhere=hosts.everywhere | parsed.everywhere, per_meeting=parsed.per_meeting)


def _fingerprint(*, hosts: Hosts, **arguments: Any) -> str:
    """What identifies a state-aware run for its journal: its arguments, canonically."""
    arguments["hosts"] = sorted(hosts.everywhere)
    arguments["hosts_per_meeting"] = {m: sorted(ids) for m, ids in hosts.per_meeting.items()}
    text = json.dumps(arguments, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _run(request: RunRequest) -> int:
    console = stderr_console(quiet=request.common.quiet)
    return anyio.run(functools.partial(execute, request, console=console))


def _sending_options(verb: str) -> Callable[[Callable[..., None]], click.Command]:
    """The options of `mute` and `unmute` (their help names the verb)."""
    options = [
        click.command(verb),
        click.option(
            "--meeting",
            "meetings",
            multiple=True,
            metavar="ID",
            help="A meeting to change (repeat for more).",
        ),
        click.option(
            "--meetings-file",
            type=click.Path(dir_okay=False),
            help="A file of meeting IDs, one per line.",
        ),
        click.option("--audio", is_flag=True, help=f"{verb.capitalize()} audio."),
        click.option("--video", is_flag=True, help=f"{verb.capitalize()} video."),
        click.option("--content", is_flag=True, help=f"{verb.capitalize()} content sharing."),
        click.option(
            "--except",
            "excepted",
            multiple=True,
            metavar="ID",
            help="Leave this attendee (attendee ID or ExternalUserId) as it is; repeat for more.",
        ),
        click.option(
            "--except-file",
            type=click.Path(dir_okay=False),
            help="A hosts file: one attendee ID or ExternalUserId per line, or MEETING_ID,ID "
            "for one meeting only.",
        ),
        click.option(
            "--strategy",
            type=click.Choice(get_args(Strategy)),
            default="auto",
            show_default=True,
            help=_STRATEGY_HELP,
        ),
        click.option(
            "--batch", is_flag=True, hidden=True, help="The same as --strategy batch-except."
        ),
        click.option("--journal", "journal_path", type=click.Path(dir_okay=False)),
        click.option("--resume", is_flag=True, help="Keep what the journal already has final."),
    ]

    def decorate(function: Callable[..., None]) -> click.Command:
        wrapped: Any = function
        for option in reversed(options):
            wrapped = option(wrapped)
        assert isinstance(wrapped, click.Command)
        return wrapped

    return decorate


def _change_sending(
    *,
    verb: str,
    allow_send: bool,
    common: CommonOptions,
    meeting_ids: list[str],
    media: tuple[bool, bool, bool],
    hosts: Hosts,
    strategy: Strategy,
    journal_path: str | None,
    resume: bool,
    report_path: str | None,
    dry_run: bool,
    json_lines: bool,
) -> int:
    """`mute` or `unmute` once its options are parsed: the exit code."""
    configure_logging(log_format=common.log_format, quiet=common.quiet, verbose=common.verbose)
    if not any(media):
        raise click.UsageError(f"say what to {verb}: --audio, --video and/or --content")
    if resume and journal_path is None:
        raise click.UsageError("--resume needs --journal PATH")
    selection = MediaSelection(audio=media[0], video=media[1], content=media[2])
    fingerprint = _fingerprint(verb=verb, meetings=meeting_ids, media=list(media), hosts=hosts)
    console = stderr_console(quiet=common.quiet)
    setup = prepare_journal(journal_path, resume=resume, fingerprint=fingerprint, console=console)
    if setup is None:
        return ExitCode.USAGE

    async def items(bulk: BulkUpdater) -> StatePlan:  # reads the meetings; sends nothing
        plan_for = bulk.plan_unmute if allow_send else bulk.plan_mute
        plan = await plan_for(
            meeting_ids,
            media=selection,
            except_attendees=hosts,
            strategy=strategy,
            region=common.region,
            resume=setup.done,
        )
        if plan.unmatched_hosts:
            print_warning(console, f"{plan.unmatched_hosts} --except name(s) match no attendee")
        return plan

    request = RunRequest(
        items=items,
        common=common,
        report_path=report_path,
        json_lines=json_lines,
        title=verb,
        dry_run=dry_run,
        journal=setup.journal,
    )
    try:
        return _run(request)
    finally:
        setup.close()


def _sending_command(*, allow_send: bool) -> click.Command:
    verb = "unmute" if allow_send else "mute"

    @_sending_options(verb)
    @changing_options
    @common_options
    def command(
        *,
        common: CommonOptions,
        meetings: tuple[str, ...],
        meetings_file: str | None,
        audio: bool,
        video: bool,
        content: bool,
        excepted: tuple[str, ...],
        except_file: str | None,
        strategy: Strategy,
        batch: bool,
        journal_path: str | None,
        resume: bool,
        report_path: str | None,
        dry_run: bool,
        json_lines: bool,
    ) -> None:
        sys.exit(
            _change_sending(
                verb=verb,
                allow_send=allow_send,
                common=common,
                meeting_ids=_meeting_ids(meetings, meetings_file),
                media=(audio, video, content),
                hosts=_hosts(excepted, except_file),
                strategy="batch-except" if batch else strategy,
                journal_path=journal_path,
                resume=resume,
                report_path=report_path,
                dry_run=dry_run,
                json_lines=json_lines,
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
@click.option(
    "--strategy",
    type=click.Choice(get_args(Strategy)),
    default="auto",
    show_default=True,
    help=_STRATEGY_HELP,
)
@changing_options
@common_options
def restore_command(
    *,
    common: CommonOptions,
    report_file: str,
    strategy: Strategy,
    report_path: str | None,
    dry_run: bool,
    json_lines: bool,
) -> None:
    """Undo a run: put back the previous capabilities its report recorded, reading each
    meeting first (attendees already back, gone, or changed by someone else since are left
    as they are, and reported)."""
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

    async def items(bulk: BulkUpdater) -> StatePlan:
        plan = await bulk.plan_restore(source, strategy=strategy)
        if plan.without_previous:
            print_warning(
                console,
                f"{plan.without_previous} changed attendee(s) have no previous state in "
                f"{report_file} (apply does not read state; mute and unmute do): left as they are",
            )
        return plan

    sys.exit(
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
    )
