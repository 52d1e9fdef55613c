"""`chime-bulk apply PLAN|-`: send exactly one UpdateAttendeeCapabilities per planned attendee."""

from __future__ import annotations

import functools
import heapq
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import anyio
import click

from .._engine.intake import Item
from .._engine.updater import BulkUpdater
from .._io.plans import Plan, read_plan
from .._model.errors import PlanError
from .._model.results import AttendeeResult
from .common import CommonOptions, ExitCode, changing_options, common_options
from .execute import RunRequest, execute
from .journaling import prepare_journal
from .output import (
    configure_logging,
    print_problems,
    print_warning,
    stderr_console,
)

__all__ = ["apply_command", "run_apply"]


def _items(plan: Plan, done: dict[tuple[str, str], AttendeeResult]) -> Iterator[Item]:
    """The plan in file order: resumed results as they were, invalid lines as `invalid`."""
    valid = (
        (line, done.get(update.key, update))
        for line, update in zip(plan.lines, plan.updates, strict=True)
    )
    bad = ((entry.line, entry.result()) for entry in plan.invalid)
    for _, item in heapq.merge(valid, bad, key=lambda entry: entry[0]):
        yield item


def _has_content(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def run_apply(
    plan: Plan,
    *,
    common: CommonOptions,
    report_path: str | None,
    json_lines: bool,
    dry_run: bool = False,
    journal_path: str | None = None,
    resume: bool = False,
    title: str = "apply",
) -> ExitCode:
    """The code path shared by `apply` and `demo`: a checked plan in, an exit code out."""
    console = stderr_console(quiet=common.quiet)
    for warning in plan.warnings:
        print_warning(console, warning)
    setup = prepare_journal(journal_path, resume=resume, fingerprint=plan.sha256, console=console)
    if setup is None:
        return ExitCode.USAGE
    done = setup.done

    async def items(bulk: BulkUpdater) -> Iterable[Item]:
        return _items(plan, done)

    request = RunRequest(
        items=items,
        common=common,
        report_path=report_path,
        json_lines=json_lines,
        title=title,
        dry_run=dry_run,
        journal=setup.journal,
    )
    try:
        return anyio.run(functools.partial(execute, request, console=console))
    finally:
        setup.close()


@click.command("apply")
@click.argument("plan_path", metavar="PLAN|-")
@click.option(
    "--format",
    "plan_format",
    type=click.Choice(["jsonl", "csv"]),
    help="Plan format (needed only when the name does not tell, e.g. stdin).",
)
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False), help="Journal file.")
@click.option("--resume", is_flag=True, help="Skip updates the journal already has final.")
@click.option("--skip-invalid", is_flag=True, help="Send the good lines; report bad ones.")
@changing_options
@common_options
def apply_command(
    *,
    common: CommonOptions,
    plan_path: str,
    plan_format: Literal["jsonl", "csv"] | None,
    journal_path: str | None,
    resume: bool,
    skip_invalid: bool,
    report_path: str | None,
    dry_run: bool,
    json_lines: bool,
) -> None:
    """Apply a plan: one update per line (JSONL with the API's keys, or CSV)."""
    configure_logging(log_format=common.log_format, quiet=common.quiet, verbose=common.verbose)
    if resume and journal_path is None:
        raise click.UsageError("--resume needs --journal PATH")
    if dry_run and journal_path is not None:
        raise click.UsageError("--dry-run sends nothing, so it takes no --journal")
    try:
        plan = read_plan(plan_path, format=plan_format, skip_invalid=skip_invalid)
    except PlanError as error:
        console = stderr_console()  # errors, even with --quiet
        print_problems(console, error, what="the plan")
        sys.exit(ExitCode.USAGE)
    sys.exit(
        run_apply(
            plan,
            common=common,
            report_path=report_path,
            json_lines=json_lines,
            dry_run=dry_run,
            journal_path=journal_path,
            resume=resume,
        )
    )
