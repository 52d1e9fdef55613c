"""`chime-bulk apply PLAN|-`: send exactly one UpdateAttendeeCapabilities per planned attendee."""

from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import anyio
import click

from .._engine.intake import Item
from .._engine.updater import BulkUpdater
from .._io.plan_index import PlanIndex, index_plan
from .._io.plans import write_plan
from .._io.result_spool import ResultSpool
from .._model.errors import PlanError
from .._model.report import Report
from .common import CommonOptions, ExitCode, changing_options, common_options
from .execute import RunRequest, execute
from .journaling import prepare_journal
from .output import (
    JsonLines,
    configure_logging,
    print_error,
    print_problems,
    print_warning,
    stderr_console,
)

__all__ = ["apply_command", "run_apply"]


class _PlanItems:
    """The plan in file order, read from its index as the workers pull it; results the
    journal has final (kept on disk in the index) as they were."""

    def __init__(self, index: PlanIndex) -> None:
        self._index = index

    def __len__(self) -> int:
        # The plan's size, for the progress line's total and ETA (not read twice).
        return len(self._index)

    def __iter__(self) -> Iterator[Item]:
        for _, update, done in self._index.resumed_updates():
            yield update if done is None else done


def _report_invalid(index: PlanIndex, spool: ResultSpool, *, json_lines: bool) -> None:
    """`--skip-invalid`'s lines, straight to the report: they are never sent, and a resumed
    run finds them in the plan again, so they need neither the engine nor the journal."""
    listener = JsonLines() if json_lines else None
    for entry in index.invalid():
        result = entry.result()
        spool.add(result, line=entry.line)
        if listener is not None:
            listener.on_result(result)


def _has_content(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def run_apply(
    plan: PlanIndex,
    *,
    common: CommonOptions,
    report_path: str | None,
    json_lines: bool,
    dry_run: bool = False,
    journal_path: str | None = None,
    resume: bool = False,
    resume_if_exists: bool = False,
    title: str = "apply",
) -> ExitCode:
    """The code path shared by `apply` and `demo`: a checked plan in, an exit code out."""
    console = stderr_console(quiet=common.quiet)
    for warning in plan.warnings:
        print_warning(console, warning)
    if plan.skipped:
        print_problems(console, PlanError(plan.skipped), what="the plan", skipped=True)
    setup = prepare_journal(
        journal_path,
        resume=resume,
        missing_ok=resume_if_exists,
        fingerprint=plan.sha256,
        console=console,
        keep_done=plan.keep_done,
    )
    if setup is None:
        return ExitCode.USAGE
    spool = ResultSpool(plan)

    async def items(bulk: BulkUpdater) -> Iterable[Item]:
        # The run's clock starts now, as a run's report does: the invalid lines count in it.
        _report_invalid(plan, spool, json_lines=json_lines)
        return _PlanItems(plan)

    request = RunRequest(
        items=items,
        common=common,
        report_path=report_path,
        json_lines=json_lines,
        title=title,
        dry_run=dry_run,
        journal=setup.journal,
        spool=spool,
    )
    try:
        return anyio.run(functools.partial(execute, request, console=console))
    finally:
        spool.close()
        setup.close()


def _retry_plan(report_file: str, folder: Path) -> Path:
    """The failed and cancelled updates of a report, as a plan file (`--retry-failed`)."""
    try:
        report = Report.read(report_file)
    except PlanError as error:
        print_problems(stderr_console(), error, what=f"the report {report_file}")
        sys.exit(ExitCode.USAGE)
    except (ValueError, OSError) as error:
        print_error(stderr_console(), f"{report_file}: {error}; nothing was sent")
        sys.exit(ExitCode.USAGE)
    path = folder / "retry.jsonl"
    write_plan(path, report.retry_updates())
    return path


@click.command("apply")
@click.argument("plan_path", metavar="PLAN|-", required=False)
@click.option(
    "--retry-failed",
    "retry_report",
    metavar="REPORT",
    type=click.Path(dir_okay=False, exists=True),
    help="Instead of a plan: send a report's failed and cancelled updates again.",
)
@click.option(
    "--format",
    "plan_format",
    type=click.Choice(["jsonl", "csv"]),
    help="Plan format (needed only when the name does not tell, e.g. stdin).",
)
@click.option("--journal", "journal_path", type=click.Path(dir_okay=False), help="Journal file.")
@click.option("--resume", is_flag=True, help="Skip updates the journal already has final.")
@click.option(
    "--resume-if-exists",
    is_flag=True,
    help="Like --resume, but start afresh when the journal does not exist yet.",
)
@click.option("--skip-invalid", is_flag=True, help="Send the good lines; report bad ones.")
@changing_options
@common_options
def apply_command(
    *,
    common: CommonOptions,
    plan_path: str | None,
    retry_report: str | None,
    plan_format: Literal["jsonl", "csv"] | None,
    journal_path: str | None,
    resume: bool,
    resume_if_exists: bool,
    skip_invalid: bool,
    report_path: str | None,
    dry_run: bool,
    json_lines: bool,
) -> None:
    """Apply a plan: one update per line (JSONL with the API's keys, or CSV)."""
    configure_logging(log_format=common.log_format, quiet=common.quiet, verbose=common.verbose)
    if resume and resume_if_exists:
        raise click.UsageError("--resume and --resume-if-exists are one choice: pass one")
    if (resume or resume_if_exists) and journal_path is None:
        raise click.UsageError("--resume needs --journal PATH")
    if dry_run and journal_path is not None:
        raise click.UsageError("--dry-run sends nothing, so it takes no --journal")
    if (plan_path is None) == (retry_report is None):
        raise click.UsageError("give a PLAN (or - for stdin), or --retry-failed REPORT")
    with tempfile.TemporaryDirectory(prefix="chime-bulk-retry-") as folder:
        if retry_report is not None:
            plan_path, plan_format = str(_retry_plan(retry_report, Path(folder))), "jsonl"
        assert plan_path is not None
        try:
            # The first pass: every line checked into an on-disk index before anything is sent.
            index = index_plan(plan_path, format=plan_format, skip_invalid=skip_invalid)
        except PlanError as error:
            console = stderr_console()  # errors, even with --quiet
            print_problems(console, error, what="the plan")
            sys.exit(ExitCode.USAGE)
        code = _run_indexed(
            index,
            common=common,
            report_path=report_path,
            json_lines=json_lines,
            dry_run=dry_run,
            journal_path=journal_path,
            resume=resume,
            resume_if_exists=resume_if_exists,
        )
    sys.exit(code)


def _run_indexed(
    index: PlanIndex,
    *,
    common: CommonOptions,
    report_path: str | None,
    json_lines: bool,
    dry_run: bool,
    journal_path: str | None,
    resume: bool,
    resume_if_exists: bool,
) -> int:
    with index:
        return run_apply(
            index,
            common=common,
            report_path=report_path,
            json_lines=json_lines,
            dry_run=dry_run,
            journal_path=journal_path,
            resume=resume or resume_if_exists,
            resume_if_exists=resume_if_exists,
        )
