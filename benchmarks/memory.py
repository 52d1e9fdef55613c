"""B4: peak RSS of the real CLI and of `BulkUpdater.stream()`, each in its own child process.

The peak is the kernel's: `ru_maxrss` of the measured command from `os.wait4`, taken by
the small go-between `benchmarks.rss_probe` (exact, and only that command's: not
`RUSAGE_CHILDREN` of this process, which would also cover every emulator this benchmark has
started, and not `wait4` from here, which would include this process's own RSS at fork).
A thread also samples the child's RSS with psutil every 0.2 s, to
show whether memory grows with the plan or stays flat. The emulator runs in yet another
process and is counted in neither.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from .emulator_process import EmulatorProcess, Launcher
from .environment import REGION, aws_env
from .ground_truth import read_ground_truth
from .spec import MemorySpec
from .workload import targets, write_plan_jsonl

__all__ = ["ChildUsage", "run_measured", "run_memory"]

_SAMPLE_EVERY_S = 0.2
_BASELINE_UPDATES = 100


@dataclass(slots=True, kw_only=True)
class ChildUsage:
    returncode: int
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    timed_out: bool
    stdout: str
    stderr: str
    rss_samples: list[tuple[float, float]] = field(default_factory=list)

    def rss_at(self, fraction: float) -> float | None:
        """The sampled RSS (MB) at `fraction` of the run's wall time."""
        if not self.rss_samples:
            return None
        moment = fraction * self.wall_s
        return min(self.rss_samples, key=lambda sample: abs(sample[0] - moment))[1]


def _sample(probe_pid: int, samples: list[tuple[float, float]], done: threading.Event) -> None:
    """Sample the RSS of the probe's child (the measured command) until `done`."""
    started = time.monotonic()
    try:
        probe = psutil.Process(probe_pid)
        child = None
        while not done.wait(_SAMPLE_EVERY_S):
            if child is None:
                children = probe.children()
                if not children:
                    continue
                child = children[0]
            samples.append((time.monotonic() - started, child.memory_info().rss / 2**20))
    except psutil.Error:
        pass  # the command has exited


def run_measured(argv: list[str], *, workdir: Path, timeout_s: float) -> ChildUsage:
    """Run `argv` to completion (killed at `timeout_s`); its exact peak RSS and CPU time.

    `argv` runs under `benchmarks.rss_probe`, whose `os.wait4` gives its exact peak RSS
    (see that module for why it cannot be read from here).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    result_path = workdir / "rusage.json"
    result_path.unlink(missing_ok=True)
    probe = [sys.executable, "-m", "benchmarks.rss_probe", str(result_path), "--", *argv]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        # A session of its own, so that a timeout can kill the probe and the command at once.
        process = subprocess.Popen(
            probe, stdout=out, stderr=err, env=aws_env(), start_new_session=True
        )
    samples: list[tuple[float, float]] = []
    done = threading.Event()
    sampler = threading.Thread(target=_sample, args=(process.pid, samples, done), daemon=True)
    sampler.start()
    try:
        process.wait(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        timed_out = True
    finally:
        done.set()
        sampler.join()
    wall_s = time.monotonic() - started
    usage: dict[str, Any] = {}
    if result_path.exists():
        usage = json.loads(result_path.read_text(encoding="utf-8"))
    sampled_peak = max((rss for _, rss in samples), default=math.nan)
    return ChildUsage(
        returncode=int(usage["returncode"]) if usage else process.returncode,
        wall_s=round(wall_s, 2),
        cpu_s=round(usage.get("cpu_s", math.nan), 2),
        # Without the probe's exact figure (killed at the timeout), the sampled peak.
        max_rss_mb=round(usage["max_rss_kb"] / 1024 if usage else sampled_peak, 1),
        timed_out=timed_out,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        rss_samples=samples,
    )


def _last_line(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    last = None
    with path.open(encoding="utf-8") as report:
        for line in report:
            last = line
    return json.loads(last) if last else None


def _growth_per_10k(usage: ChildUsage, *, updates: int) -> float | None:
    """RSS growth (MB per 10,000 updates) between 10% and 90% of the run's wall time.

    Sending runs at a steady pace after the first seconds, so time is a fair proxy for
    progress; what a run holds per update shows up here.
    """
    early, late = usage.rss_at(0.1), usage.rss_at(0.9)
    if early is None or late is None or updates < 1000:
        return None
    return round((late - early) / (0.8 * updates) * 10_000, 2)


def _usage_row(usage: ChildUsage, *, updates: int) -> dict[str, Any]:
    return {
        "rss_growth_mb_per_10k": _growth_per_10k(usage, updates=updates),
        "max_rss_mb": usage.max_rss_mb,
        "rss_mb_at_10_50_90pct": [
            None if (value := usage.rss_at(f)) is None else round(value, 1) for f in (0.1, 0.5, 0.9)
        ],
        "wall_s": usage.wall_s,
        "cpu_s": usage.cpu_s,
        "updates_per_s": round(updates / usage.wall_s, 1) if usage.wall_s else None,
        "returncode": usage.returncode,
        "timed_out": usage.timed_out,
        "stderr_tail": usage.stderr[-2000:],
    }


@dataclass(slots=True, kw_only=True)
class _Job:
    """One measured child and the emulator it talks to."""

    key: str
    emulator: EmulatorProcess
    plan: Path
    argv: list[str] = field(default_factory=list)
    lines: int = 0
    usage: ChildUsage | None = None


def _prepare(job: _Job, *, seed: int, report_path: Path) -> None:
    info = job.emulator.info
    assert info is not None
    job.lines = write_plan_jsonl(job.plan, info.meetings, seed=seed)
    python = sys.executable
    if job.key == "cli-apply":
        job.argv = [python, "-m", "chime_bulk", "apply", str(job.plan)]
        job.argv += ["--endpoint-url", info.endpoint_url, "--region", REGION]
        job.argv += ["--quiet", "--no-progress", "--report", str(report_path)]
    else:
        job.argv = [python, "-m", "benchmarks.stream_child", str(job.plan)]
        job.argv += ["--endpoint-url", info.endpoint_url]


def run_memory(
    spec: MemorySpec,
    *,
    workdir: Path,
    launcher: Launcher,
    parallel: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The CLI and the library path over the same plan, each against its own emulator.

    With `parallel`, both children run at the same time (peak RSS is per process and does
    not depend on speed; their updates/s are then measured while sharing the CPU).
    """
    base = workdir / spec.key
    seed = spec.emulator.seed
    report_path = base / "cli-apply" / "report.jsonl"
    jobs = [
        _Job(
            key=key,
            emulator=EmulatorProcess(spec.emulator, workdir=base / key, launcher=launcher),
            plan=base / f"plan-{key}.jsonl",
        )
        for key in ("cli-apply", "library-stream")
    ]
    baseline: ChildUsage | None = None
    truths: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        for job in jobs:
            stack.enter_context(job.emulator)
            _prepare(job, seed=seed, report_path=report_path)
        stream_job = jobs[1]
        baseline = run_measured(
            [*stream_job.argv, "--limit", str(_BASELINE_UPDATES)],
            workdir=base / "baseline",
            timeout_s=120,
        )
        mode = "at the same time" if parallel else "one after the other"
        say(
            f"{spec.key}: chime-bulk apply (CLI) and BulkUpdater.stream(), "
            f"{spec.emulator.updates:,} updates each, {mode} ..."
        )

        def measure(job: _Job) -> None:
            job.usage = run_measured(
                job.argv, workdir=base / job.key / "child", timeout_s=spec.timeout_s
            )

        load_before = psutil.getloadavg()[0]
        if parallel:
            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                list(pool.map(measure, jobs))
        else:
            for job in jobs:
                measure(job)
        load_after = psutil.getloadavg()[0]
        for job in jobs:
            info = job.emulator.info
            assert info is not None
            truths[job.key] = read_ground_truth(
                info.endpoint_url, targets(info.meetings, seed=seed)
            ).mismatches
    cli, stream = jobs
    assert cli.usage is not None
    assert stream.usage is not None
    summary = (_last_line(report_path) or {}).get("summary", {})
    out = stream.usage.stdout.strip()
    totals = json.loads(out.splitlines()[-1]) if out else {}
    cli_server = cli.emulator.stats
    stream_server = stream.emulator.stats
    rows = [
        {
            "key": cli.key,
            "label": "chime-bulk apply PLAN --report R.jsonl (defaults: no --max-rate)",
            "command": "chime-bulk apply PLAN.jsonl --endpoint-url URL --region us-east-1 "
            "--quiet --no-progress --report R.jsonl",
            "updates": cli.lines,
            **_usage_row(cli.usage, updates=cli.lines),
            "by_status": summary.get("by_status"),
            "requests_self_reported": summary.get("requests"),
            "requests_server": cli_server.writes() if cli_server else None,
            "mismatches": truths[cli.key],
        },
        {
            "key": stream.key,
            "label": "BulkUpdater.stream() (defaults), plan parsed lazily, results dropped",
            "command": "python -m benchmarks.stream_child PLAN.jsonl --endpoint-url URL",
            "updates": stream.lines,
            **_usage_row(stream.usage, updates=stream.lines),
            "by_status": totals.get("by_status"),
            # The baseline child sent its updates to this emulator too.
            "requests_server": stream_server.writes() - _BASELINE_UPDATES
            if stream_server
            else None,
            "mismatches": truths[stream.key],
        },
        {
            "key": "library-baseline",
            "label": f"the same child, first {_BASELINE_UPDATES} updates only "
            "(imports + client: the floor)",
            "command": "python -m benchmarks.stream_child PLAN.jsonl --endpoint-url URL "
            f"--limit {_BASELINE_UPDATES}",
            "updates": _BASELINE_UPDATES,
            **_usage_row(baseline, updates=_BASELINE_UPDATES),
        },
    ]
    for row in rows[:2]:
        say(f"    {row['key']}: peak RSS {row['max_rss_mb']:.0f} MB, {row['wall_s']:.0f} s")
    return {
        "key": spec.key,
        "title": spec.title,
        "emulator": spec.emulator,
        "rss_goal_mb": spec.rss_goal_mb,
        "parallel": parallel,
        "loadavg_1min_before_after": [round(load_before, 2), round(load_after, 2)],
        "contenders": rows,
    }
