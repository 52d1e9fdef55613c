"""B10: peak RSS of `chime-bulk apply` over 10,000, 100,000 and 1,000,000 updates.

    python -m benchmarks.b10_memory [--sizes 10000,100000,1000000] [--real-bound-s 120]

For each size, a fresh emulator (`--rate '*=0'`: no quota; 250 attendees a meeting) is
seeded, a JSONL plan written for every attendee, and the real CLI run twice, each as the
only child of `benchmarks.rss_probe` (exact peak RSS from `os.wait4`): a dry run, then a
real run against the emulator. A real run that has not finished within `--real-bound-s` gets
SIGINT there, as from Ctrl-C: it stops sending, writes its report (every update, the unsent
ones `cancelled`) and exits 130, so its peak is still exact and covers writing the whole
report; the row says how many were sent before the bound. The emulator is another process
and is counted in neither. The table goes to `RESULTS.md` between `<!-- keep:B10 -->`
markers, with the command that produced it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil  # type: ignore[import-untyped]

from . import emulator_process
from .b5_mute import replace_section
from .emulator_process import EmulatorProcess
from .environment import REGION, configure_process
from .memory import ChildUsage, run_measured
from .spec import EmulatorSpec
from .workload import write_plan_jsonl

__all__ = ["main"]

_COMMAND: Final = "python -m benchmarks.b10_memory"
_GOAL_MB: Final = 100.0
_FLAT: Final = 0.10
_ATTENDEES: Final = 250


@dataclass(frozen=True, slots=True, kw_only=True)
class _Row:
    updates: int
    mode: str
    usage: ChildUsage
    seed_s: float
    bound_s: float | None
    interrupted: bool = False
    succeeded: int = 0

    @property
    def finished(self) -> bool:
        return not self.usage.timed_out and not self.interrupted

    def cells(self) -> str:
        usage = self.usage
        rate = f"{self.updates / usage.wall_s:,.0f}/s" if self.finished else "—"
        if self.finished:
            how = f"exit {usage.returncode}, all {self.updates:,}"
        elif self.interrupted and usage.returncode != 130:  # before its handler was set
            how = f"Ctrl-C at the {self.bound_s:g} s bound, before the run began"
        elif self.interrupted:
            how = (
                f"Ctrl-C at the {self.bound_s:g} s bound: {self.succeeded:,} succeeded, the rest "
                f"cancelled; full report written; exit {usage.returncode}"
            )
        else:
            how = f"killed at {usage.wall_s:.0f} s (peak sampled every 0.2 s)"
        return (
            f"| {self.updates:,} | {self.mode} | {usage.max_rss_mb:.1f} | {usage.wall_s:.1f} | "
            f"{rate} | {how} |"
        )


def _measure(size: int, *, workdir: Path, bound_s: float) -> list[_Row]:
    meetings = -(-size // _ATTENDEES)
    spec = EmulatorSpec(meetings=meetings, attendees=_ATTENDEES)
    base = workdir / f"n{size}"
    rows: list[_Row] = []
    started = time.monotonic()
    with EmulatorProcess(spec, workdir=base / "emulator", launcher="cli") as emulator:
        seed_s = time.monotonic() - started
        info = emulator.info
        assert info is not None
        plan = base / "plan.jsonl"
        write_plan_jsonl(plan, info.meetings, seed=0)
        cli = [sys.executable, "-m", "chime_bulk", "apply", str(plan), "--region", REGION]
        cli += ["--endpoint-url", info.endpoint_url, "--quiet", "--no-progress"]
        for mode, extra, bound in (
            ("dry run", ["--dry-run"], None),
            ("real", [], bound_s),
        ):
            print(f"B10: {size:,} updates, {mode} ...", file=sys.stderr, flush=True)
            report = base / f"report-{mode[:3]}.jsonl"
            argv = [*cli, *extra, "--report", str(report)]
            stopper = _Interrupter(report, bound)
            usage = run_measured(argv, workdir=base / mode.replace(" ", "-"), timeout_s=3600.0)
            stopper.cancel()
            rows.append(
                _Row(
                    updates=size,
                    mode=mode,
                    usage=usage,
                    seed_s=seed_s,
                    bound_s=bound,
                    interrupted=stopper.fired,
                    succeeded=_succeeded(report),
                )
            )
            print(f"    {usage.max_rss_mb:.1f} MB, {usage.wall_s:.1f} s", file=sys.stderr)
    return rows


class _Interrupter:
    """Sends SIGINT to the `chime-bulk` process writing `report` once `bound_s` has passed."""

    def __init__(self, report: Path, bound_s: float | None) -> None:
        self.fired = False
        self._report = str(report)
        self._timer = threading.Timer(bound_s or 0, self._fire)
        if bound_s is not None:
            self._timer.start()

    def _fire(self) -> None:
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            # The CLI itself, not the rss_probe above it (whose arguments name it too).
            if cmdline[1:3] == ["-m", "chime_bulk"] and self._report in cmdline:
                process.send_signal(signal.SIGINT)
                self.fired = True

    def cancel(self) -> None:
        self._timer.cancel()


def _succeeded(report: Path) -> int:
    """How many updates succeeded, from the report's summary line (0 without a report)."""
    if not report.exists():
        return 0
    with report.open("rb") as stream:
        stream.seek(max(report.stat().st_size - 4096, 0))
        last = stream.read().splitlines()[-1]
    return int(json.loads(last)["summary"]["by_status"].get("succeeded", 0))


def _spread(rows: list[_Row]) -> tuple[float, float, float]:
    peaks = [row.usage.max_rss_mb for row in rows]
    low, high = min(peaks), max(peaks)
    return low, high, (high - low) / low


def _markdown(rows: list[_Row], *, command: str, date: str) -> str:
    # Flat is judged per kind of run: a real run also loads the AWS client, a dry run not.
    spreads = {mode: _spread([r for r in rows if r.mode == mode]) for mode in ("dry run", "real")}
    met = all(high <= _GOAL_MB and spread <= _FLAT for _, high, spread in spreads.values())
    detail = "; ".join(
        f"{mode}: {low:.1f} to {high:.1f} MB, {spread:.1%} apart"
        for mode, (low, high, spread) in spreads.items()
    )
    seeding = ", ".join(
        f"{row.updates:,}: {row.seed_s:.0f} s" for row in rows if row.mode == "dry run"
    )
    lines = [
        "## B10: `chime-bulk apply` memory against the plan's size",
        "",
        f"`{command}` on {date}. Emulator `--rate '*=0'` (no quota), {_ATTENDEES} attendees a "
        "meeting, one emulator per size (started and seeded in: "
        f"{seeding}). Peak RSS of the CLI process alone, exact from `os.wait4` "
        "(`rss_probe.py`) unless the row says sampled.",
        "",
        "| updates | run | peak RSS (MB) | wall (s) | updates/s | how it ended |",
        "|---:|---|---:|---:|---:|---|",
        *(row.cells() for row in rows),
        "",
        f"Goal (issue #12): at most {_GOAL_MB:g} MB at every size, flat within {_FLAT:.0%} "
        f"across sizes: **{'met' if met else 'NOT met'}** ({detail}).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog=_COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--real-bound-s", type=float, default=120.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    args = parser.parse_args()
    configure_process()
    # Seeding 4,000 meetings x 250 takes longer than the 60 s other benchmarks allow.
    emulator_process._START_TIMEOUT_S = 900.0
    sizes = [int(size) for size in args.sizes.split(",")]
    rows: list[_Row] = []
    with tempfile.TemporaryDirectory(prefix="chime-bulk-b10-") as workdir:
        for size in sizes:
            rows += _measure(size, workdir=Path(workdir), bound_s=args.real_bound_s)
    command = f"{_COMMAND} --sizes {args.sizes} --real-bound-s {args.real_bound_s:g}"
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = _markdown(rows, command=command, date=date)
    replace_section(args.out, "B10", text)
    print(text)


if __name__ == "__main__":
    main()
