"""B1/B2 (quota-bound) and B3 (client overhead): each contender against a fresh emulator."""

from __future__ import annotations

import asyncio
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .contenders import (
    Contender,
    Outcomes,
    Stopwatch,
    overhead_contenders,
    quota_contenders,
)
from .emulator_process import EmulatorProcess, Launcher
from .ground_truth import read_ground_truth
from .instrument import PacerTrace, RequestLog
from .load import LoadMeter
from .metrics import outcome_counts, pacer_summary, per_second, status_counts, throttle_timing
from .spec import OverheadSpec, QuotaSpec
from .workload import Target, targets

__all__ = ["run_overhead", "run_quota"]

Say = Callable[[str], None]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _bounded(
    contender: Contender,
    items: list[Target],
    *,
    endpoint_url: str,
    log: RequestLog,
    watch: Stopwatch,
    outcomes: Outcomes,
    extras: dict[str, Any],
    timeout_s: float,
) -> bool:
    """Run the contender; True when it had to be stopped at `timeout_s`."""
    try:
        async with asyncio.timeout(timeout_s):
            await contender.run(
                items,
                endpoint_url=endpoint_url,
                log=log,
                watch=watch,
                outcomes=outcomes,
                extras=extras,
            )
    except TimeoutError:
        return True
    return False


def _one_run(
    contender: Contender,
    emulator: EmulatorProcess,
    *,
    seed: int,
    timeout_s: float,
) -> dict[str, Any]:
    with emulator:
        assert emulator.info is not None
        items = targets(emulator.info.meetings, seed=seed)
        log, watch = RequestLog(), Stopwatch()
        outcomes: Outcomes = {}
        extras: dict[str, Any] = {}
        meter = LoadMeter(pids=[pid] if (pid := emulator.pid) is not None else [])
        meter.start()
        timed_out = asyncio.run(
            _bounded(
                contender,
                items,
                endpoint_url=emulator.info.endpoint_url,
                log=log,
                watch=watch,
                outcomes=outcomes,
                extras=extras,
                timeout_s=timeout_s,
            )
        )
        watch.stop()
        load = meter.stop()
        truth = read_ground_truth(emulator.info.endpoint_url, items)
    ok_but_wrong = sum(1 for key in truth.mismatched if key in outcomes and outcomes[key] is None)
    return {
        "items": items,
        "log": log,
        "watch": watch,
        "outcomes": outcomes,
        "extras": extras,
        "timed_out": timed_out,
        "truth": truth,
        "reported_ok_but_wrong": ok_but_wrong,
        "server": emulator.stats,
        "load": load,
        "emulator_startup_s": emulator.startup_s,
    }


def run_quota(
    spec: QuotaSpec, *, workdir: Path, launcher: Launcher, say: Say = _say
) -> dict[str, Any]:
    """Every quota contender, one after the other, each against its own emulator."""
    quota = spec.emulator.rate
    rows: list[dict[str, Any]] = []
    for contender in quota_contenders(spec.aiometer_rates):
        say(f"{spec.key}: {contender.label} ...")
        emulator = EmulatorProcess(
            spec.emulator, workdir=workdir / spec.key / contender.key, launcher=launcher
        )
        raw = _one_run(contender, emulator, seed=spec.emulator.seed, timeout_s=spec.timeout_s)
        watch: Stopwatch = raw["watch"]
        log: RequestLog = raw["log"]
        n = len(raw["items"])
        assert watch.wall_start is not None
        pacer: PacerTrace | None = raw["extras"].get("pacer")
        trace = per_second(
            start=watch.wall_start,
            wall_s=watch.wall_s,
            log=log,
            server=raw["server"],
            pacer=pacer,
        )
        statuses = status_counts(log)
        server = raw["server"]
        row: dict[str, Any] = {
            "key": contender.key,
            "label": contender.label,
            "updates": n,
            "wall_s": round(watch.wall_s, 2),
            "wall_ratio": round(watch.wall_s / spec.ideal_s, 3),
            "client_cpu_s": round(watch.cpu_s, 2),
            "timed_out": raw["timed_out"],
            "requests_client": log.attempts,
            "responses_client": statuses,
            "throttled_client": log.count(429),
            "throttle_share": round(log.count(429) / n, 4),
            "requests_server": server.writes() if server else None,
            "throttled_server": server.writes(429) if server else None,
            "emulator_cpu_s": server.cpu_s if server else None,
            "load": raw["load"],
            **outcome_counts(raw["outcomes"], n),
            "mismatches": raw["truth"].mismatches,
            "reported_ok_but_wrong": raw["reported_ok_but_wrong"],
            "accounting": contender.accounting,
            "self_reported": raw["extras"].get("self_reported"),
            "retry_config": raw["extras"].get("retry_mode"),
            "timing": throttle_timing(
                trace,
                quota=quota,
                burst=spec.emulator.burst,
                ideal_s=spec.ideal_s,
                wall_s=watch.wall_s,
                start=watch.wall_start,
                log=log,
                complete=not raw["timed_out"]
                and all(code is None for code in raw["outcomes"].values())
                and len(raw["outcomes"]) == n,
            ),
            "per_second": trace,
        }
        if pacer is not None:
            row["pacer"] = pacer_summary(pacer, start=watch.wall_start)
        say(
            f"    {row['wall_s']:.1f} s ({row['wall_ratio']:.2f}x ideal), "
            f"{row['requests_client']} requests, {row['throttled_client']} x 429, "
            f"{row['failures']} failed, {row['mismatches']} mismatched"
        )
        rows.append(row)
    return {
        "key": spec.key,
        "title": spec.title,
        "emulator": spec.emulator,
        "ideal_s": round(spec.ideal_s, 2),
        "timeout_s": round(spec.timeout_s, 1),
        "wall_ratio_goal": spec.wall_ratio_goal,
        "throttle_share_goal": spec.throttle_share_goal,
        "aiometer_rates": list(spec.aiometer_rates),
        "contenders": rows,
    }


def run_overhead(
    spec: OverheadSpec, *, workdir: Path, launcher: Launcher, say: Say = _say
) -> dict[str, Any]:
    """B3: rounds of every contender, interleaved, each run against its own emulator."""
    contenders = overhead_contenders(spec.concurrency, spec.warmup)
    runs: dict[str, list[dict[str, Any]]] = {c.key: [] for c in contenders}
    for round_number in range(spec.rounds):
        for contender in contenders:
            emulator = EmulatorProcess(
                spec.emulator,
                workdir=workdir / spec.key / f"{contender.key}-{round_number}",
                launcher=launcher,
            )
            raw = _one_run(contender, emulator, seed=spec.emulator.seed, timeout_s=300)
            watch: Stopwatch = raw["watch"]
            n = len(raw["items"])
            server = raw["server"]
            run = {
                "round": round_number,
                "updates": n,
                "wall_s": round(watch.wall_s, 3),
                "updates_per_s": round(n / watch.wall_s, 1),
                "client_cpu_s": round(watch.cpu_s, 3),
                "cpu_s_per_1000": round(watch.cpu_s / n * 1000, 3),
                **outcome_counts(raw["outcomes"], n),
                "mismatches": raw["truth"].mismatches,
                "requests_server": server.writes() if server else None,
                "load": raw["load"],
            }
            runs[contender.key].append(run)
            say(
                f"{spec.key} round {round_number + 1}/{spec.rounds}: {contender.label}: "
                f"{run['updates_per_s']:.0f} updates/s, {run['cpu_s_per_1000']:.2f} CPU s/1000"
            )
    rows = []
    for contender in contenders:
        mine = runs[contender.key]
        rows.append(
            {
                "key": contender.key,
                "label": contender.label,
                "updates": mine[0]["updates"],
                "updates_per_s": round(statistics.median(r["updates_per_s"] for r in mine), 1),
                "cpu_s_per_1000": round(statistics.median(r["cpu_s_per_1000"] for r in mine), 3),
                "failures": sum(r["failures"] for r in mine),
                "max_foreign_cores": max(r["load"]["foreign_cores"] for r in mine),
                "mismatches": sum(r["mismatches"] for r in mine),
                "runs": mine,
            }
        )
    baseline = rows[0]["updates_per_s"]
    for row in rows:
        row["throughput_vs_bare"] = round(row["updates_per_s"] / baseline, 3)
    paired = [
        chime["updates_per_s"] / bare["updates_per_s"]
        for chime, bare in zip(runs["chime-bulk-unpaced"], runs["bare-semaphore"], strict=True)
    ]
    return {
        "key": spec.key,
        "title": spec.title,
        "emulator": spec.emulator,
        "concurrency": spec.concurrency,
        "warmup": spec.warmup,
        "rounds": spec.rounds,
        "throughput_goal": spec.throughput_goal,
        "paired_ratios": [round(ratio, 3) for ratio in paired],
        "contenders": rows,
    }
