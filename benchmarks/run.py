"""Run every benchmark scenario, every contender side by side, and write RESULTS.md.

    .venv/bin/python -m benchmarks.run [--quick] [--only B1 --only B3] [--emulator host|cli]

See benchmarks/README.md. Progress goes to stderr; results to RESULTS.md and results.json
(in `benchmarks/` for a full run of every scenario, in `benchmarks/partial/` otherwise,
unless `--out-dir` says where).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.config import Config

from . import contenders as contenders_module
from .environment import configure_process, git_state, machine_info
from .goals import evaluate
from .memory import run_memory
from .report import write_json, write_markdown
from .scenarios import run_overhead, run_quota
from .spec import FULL, QUICK, EmulatorSpec, Suite

__all__ = ["main"]

_HERE = Path(__file__).resolve().parent
_SCENARIOS = ("B1", "B2", "B3", "B4")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="chime-bulk against the usual bulk-call patterns, side by side.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=_SCENARIOS,
        help="Run only this scenario (repeat for several). Default: all.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="Smaller plans: a smoke run of a few minutes."
    )
    parser.add_argument(
        "--emulator",
        choices=["host", "cli"],
        default="host",
        help="host: benchmarks.emulator_host (server-side counts); "
        "cli: python -m chime_bulk emulator (no server-side counts).",
    )
    parser.add_argument(
        "--b4-sequential",
        action="store_true",
        help="Run B4's CLI and library children one after the other (default: together).",
    )
    parser.add_argument(
        "--b2-aiometer-50",
        action="store_true",
        help="Also run B2's aiometer at 50/s (a user who assumed B1's quota; about +65 s).",
    )
    parser.add_argument(
        "--render-only",
        type=Path,
        metavar="RESULTS_JSON",
        help="Rewrite the RESULTS.md beside this results.json from its numbers; run nothing.",
    )
    parser.add_argument("--out-dir", type=Path, help="Where to write RESULTS.md/results.json.")
    parser.add_argument("--workdir", type=Path, help="Keep emulator logs, plans and reports here.")
    return parser


def _run_scenarios(
    suite: Suite, only: list[str], *, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for key in only:
        random.seed(f"{suite.name}-{key}")
        if key == "B1":
            results[key] = run_quota(suite.b1, workdir=workdir, launcher=args.emulator, say=_say)
        elif key == "B2":
            results[key] = run_quota(suite.b2, workdir=workdir, launcher=args.emulator, say=_say)
        elif key == "B3":
            results[key] = run_overhead(suite.b3, workdir=workdir, launcher=args.emulator, say=_say)
        elif key == "B4":
            results[key] = run_memory(
                suite.b4,
                workdir=workdir,
                launcher=args.emulator,
                parallel=not args.b4_sequential,
                say=_say,
            )
    return results


def _contender_settings() -> str:
    """The settings list from `contenders`' docstring, for RESULTS.md."""
    doc = contenders_module.__doc__ or ""
    _, _, settings = doc.partition("(RESULTS.md quotes this list):")
    return settings.strip()


def _render_only(results_json: Path) -> None:
    """Rewrite RESULTS.md beside `results_json` from its numbers; nothing is run."""
    run = json.loads(results_json.read_text(encoding="utf-8"))
    run.pop("goals", None)
    run["contender_settings"] = _contender_settings()  # prose about the harness: current text
    for scenario in run["scenarios"].values():
        scenario["emulator"] = EmulatorSpec(**scenario["emulator"])
    verdicts = evaluate(run["scenarios"])
    write_markdown(results_json.parent / "RESULTS.md", run, verdicts)
    _say(f"wrote {results_json.parent / 'RESULTS.md'} from {results_json}")


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.render_only is not None:
        _render_only(args.render_only)
        return
    configure_process()
    suite = QUICK if args.quick else FULL
    if args.b2_aiometer_50 and 50.0 not in suite.b2.aiometer_rates:
        b2 = dataclasses.replace(suite.b2, aiometer_rates=(50.0, *suite.b2.aiometer_rates))
        suite = dataclasses.replace(suite, b2=b2)
    only = [key for key in _SCENARIOS if key in (args.only or _SCENARIOS)]
    complete = not args.quick and len(only) == len(_SCENARIOS)
    out_dir: Path = args.out_dir or (_HERE if complete else _HERE / "partial")
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    code = git_state()  # before the run: what was measured
    with tempfile.TemporaryDirectory(prefix="chime-bulk-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        scenarios = _run_scenarios(suite, only, workdir=workdir, args=args)
    run = {
        "command": shlex.join(
            [".venv/bin/python", "-m", "benchmarks.run", *(sys.argv[1:] if argv is None else argv)]
        ),
        "date": date,
        "suite": suite.name,
        "launcher": args.emulator,
        "duration_s": round(time.monotonic() - started, 1),
        "machine": machine_info(),
        "git": code,
        "botocore_default_retry_mode": Config().retries or "legacy (Config().retries unset)",
        "contender_settings": _contender_settings(),
        "scenarios": scenarios,
    }
    verdicts = evaluate(scenarios)
    write_json(out_dir / "results.json", run, verdicts)
    write_markdown(out_dir / "RESULTS.md", run, verdicts)
    _say(f"done in {run['duration_s'] / 60:.1f} min; wrote {out_dir / 'RESULTS.md'}")
    for verdict in verdicts:
        status = {True: "met", False: "MISSED", None: "n/a"}[verdict.met]
        _say(f"  {verdict.scenario} {status}: {verdict.goal}: {verdict.measured} {verdict.margin}")


if __name__ == "__main__":
    main()
