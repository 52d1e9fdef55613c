"""Write RESULTS.md (tables, goals, method) and results.json (every raw number)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Final

from .goals import Verdict

__all__ = ["write_json", "write_markdown"]

_HERE = Path(__file__).resolve().parent


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write_json(path: Path, run: dict[str, Any], verdicts: list[Verdict]) -> None:
    data = {**_plain(run), "goals": [v.to_dict() for v in verdicts]}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _emulator_flags(spec: Any) -> str:
    return "chime-bulk emulator " + " ".join(
        f'"{flag}"' if "*" in flag else flag for flag in spec.cli_flags()
    )


def _emulator_md() -> list[str]:
    """EMULATOR.md's table and its "Result" paragraph, quoted (its owner measured them)."""
    path = _HERE / "EMULATOR.md"
    if not path.exists():
        return ["`benchmarks/EMULATOR.md` was not present when this run was made.", ""]
    lines = path.read_text(encoding="utf-8").splitlines()
    table = [line for line in lines if line.startswith("|")]
    result: list[str] = []
    for line in lines:
        if line.startswith("Result") or (result and line.strip()):
            result.append(line)
        elif result:
            break
    return [
        "Quoted from `benchmarks/EMULATOR.md` (measured by its owner, not by this run):",
        "",
        *table,
        "",
        *(f"> {line}" for line in result),
        "",
    ]


def _quota_section(scenario: dict[str, Any]) -> list[str]:
    out = [f"## {scenario['key']}: {scenario['title']}", ""]
    spec = scenario["emulator"]
    out += [
        f"{spec.updates:,} updates over {spec.meetings} meetings; emulator: "
        f"`{_emulator_flags(spec)}`. Ideal = (N - burst) / rate = "
        f"({spec.updates} - {spec.burst:g}) / {spec.rate:g} = **{scenario['ideal_s']} s**. "
        f"Each contender is stopped after {scenario['timeout_s']} s.",
        "",
    ]
    rates = scenario["aiometer_rates"]
    if spec.rate not in rates and 50.0 not in rates and spec.rate > 50:
        floor = spec.updates / 50
        out += [
            "aiometer at 50/s (a user who assumed B1's quota) was not run in this suite "
            "(`--b2-aiometer-50` adds it, about a minute): metered at 50/s it cannot take "
            f"less than N / 50 = {floor:.1f} s = {floor / scenario['ideal_s']:.2f} x ideal, "
            "whatever the quota.",
            "",
        ]
    rows = []
    for row in scenario["contenders"]:
        server = row["requests_server"]
        rows.append(
            [
                row["label"],
                f"{row['wall_s']:.1f}" + (" (timed out)" if row["timed_out"] else ""),
                f"{row['wall_ratio']:.3f}",
                f"{row['requests_client']:,}" + ("" if server is None else f" / {server:,}"),
                f"{row['throttled_client']:,} ({row['throttle_share']:.2%})",
                row["responses_client"].get("503", 0) + row["responses_client"].get("500", 0),
                f"{row['failures']:,}"
                + (
                    ""
                    if not row["failure_codes"]
                    else " (" + ", ".join(f"{k} {v}" for k, v in row["failure_codes"].items()) + ")"
                ),
                row["mismatches"],
                row["reported_ok_but_wrong"],
                f"{row['client_cpu_s']:.1f}",
                f"{row['load']['foreign_cores']:.2f}",
                row["accounting"],
            ]
        )
    out += _table(
        [
            "contender",
            "wall s",
            "x ideal",
            "requests (client / server)",
            "429s (share of updates)",
            "5xx",
            "final failures",
            "ground-truth mismatches",
            "of which reported OK",
            "client CPU s",
            "other load (cores)",
            "says which attendees failed?",
        ],
        rows,
    )
    timing_rows = []
    for row in scenario["contenders"]:
        timing = row["timing"]
        split = timing["where_the_time_went_s"] or {}
        timing_rows.append(
            [
                row["label"],
                timing["first_429_s"],
                f"{timing['429_first_10s']} / {timing['429_after_10s']}",
                timing["sustained_90pct_quota_from_s"],
                split.get("tokens_used_by_faulted_requests", "n/a"),
                split.get("ramp_up_unused_first_3s", "n/a"),
                split.get("tail_after_stream", "n/a"),
                split.get("rest_steady_state", "n/a"),
            ]
        )
    out += [
        "Where each contender's time went (only for contenders that completed every update): "
        "seconds beyond the ideal spent on tokens the faulted requests consumed, on capacity "
        "left unused in the first 3 s, in the tail after the steady stream of sends ended "
        "(retries waiting out backoff or Retry-After), and the rest (steady state below the "
        "quota).",
        "",
    ]
    out += _table(
        [
            "contender",
            "first 429 at s",
            "429s in first 10 s / after",
            ">= 90% of quota admitted every second from s",
            "faulted requests' tokens s",
            "ramp-up unused s",
            "tail s",
            "rest s",
        ],
        timing_rows,
    )
    chime = next((r for r in scenario["contenders"] if r["key"] == "chime-bulk"), None)
    if chime is not None:
        out += _pacer_section(chime, quota=spec.rate)
    return out


def _peak(pacer: dict[str, Any]) -> Any:
    befores = [backoff["from"] for backoff in pacer.get("backoffs", [])]
    return max([pacer.get("peak_rate") or 0.0, *befores])


def _pacer_section(chime: dict[str, Any], *, quota: float) -> list[str]:
    timing = chime["timing"]
    pacer = chime.get("pacer") or {}
    reported = chime.get("self_reported") or {}
    out = [
        f"**chime-bulk's pacer in this run** (quota {quota:g}/s): first 429 at "
        f"{timing['first_429_s']} s; the service admitted >= 90% of the quota in every full "
        f"second from second {timing['sustained_90pct_quota_from_s']} on; 429s in the first 10 s: "
        f"{timing['429_first_10s']}, after: {timing['429_after_10s']} (in "
        f"{timing['seconds_with_429']} distinct seconds); pacer peak "
        f"{_peak(pacer)}/s, final {pacer.get('final_rate')}/s. Backoffs (time s: "
        "rate before -> after): "
        + (
            ", ".join(f"{b['t']}: {b['from']} -> {b['to']}" for b in pacer.get("backoffs", []))
            or "none"
        )
        + ". Where the wall time went (s): "
        + ", ".join(
            f"{k.replace('_', ' ')} {v}" for k, v in timing["where_the_time_went_s"].items()
        )
        + ". chime-bulk's own report: "
        f"{reported.get('requests')} requests, {reported.get('throttled')} throttled, "
        f"{reported.get('retried')} retried, latency {reported.get('latency_ms')}.",
        "",
        "<details><summary>chime-bulk per-second trace (client-side sends and responses; "
        "server-side accepted / 429; pacer rate at the end of the second)</summary>",
        "",
    ]
    rows = [
        [
            r["t"],
            r["sent"],
            r["ok"],
            r["429"],
            r["503"] + r["500"],
            r.get("server_ok"),
            r.get("server_429"),
            r.get("pacer_rate"),
        ]
        for r in chime["per_second"]
    ]
    out += _table(
        ["s", "sent", "200", "429", "5xx", "server 200", "server 429", "pacer rate"], rows
    )
    return [*out, "</details>", ""]


def _overhead_section(scenario: dict[str, Any]) -> list[str]:
    spec = scenario["emulator"]
    out = [
        f"## {scenario['key']}: {scenario['title']}",
        "",
        f"{spec.updates:,} updates per run at concurrency {scenario['concurrency']}, after an "
        f"untimed warm-up of {scenario['warmup']} updates on the same client; "
        f"{scenario['rounds']} round(s), contenders interleaved, each run against a fresh "
        f"emulator (`{_emulator_flags(spec)}`). Medians over the rounds. Client CPU is "
        "`time.process_time()` of the benchmark process around the timed run (the emulator "
        "is another process). chime-bulk / bare ratio per round: "
        f"{scenario['paired_ratios']}.",
        "",
    ]
    by_key = {row["key"]: row for row in scenario["contenders"]}
    bare, chime = by_key.get("bare-semaphore"), by_key.get("chime-bulk-unpaced")
    if bare is not None and chime is not None:
        extra = chime["cpu_s_per_1000"] - bare["cpu_s_per_1000"]
        out += [
            f"chime-bulk spends {extra:.3f} ms more client CPU per update than the bare loop "
            f"({extra / bare['cpu_s_per_1000']:+.0%}); the client is CPU-bound here (one "
            "core), so its throughput ratio follows its CPU ratio.",
            "",
        ]
    rows = [
        [
            row["label"],
            f"{row['updates_per_s']:.0f}",
            f"{row['throughput_vs_bare']:.1%}",
            f"{row['cpu_s_per_1000']:.3f}",
            ", ".join(f"{r['updates_per_s']:.0f}" for r in row["runs"]),
            row["failures"],
            row["mismatches"],
            f"{row['max_foreign_cores']:.2f}",
        ]
        for row in scenario["contenders"]
    ]
    out += _table(
        [
            "contender",
            "updates/s (median)",
            "vs bare Semaphore",
            "client CPU s / 1000 updates",
            "updates/s per round",
            "failures",
            "mismatches",
            "other load (cores, worst round)",
        ],
        rows,
    )
    return out


def _memory_section(scenario: dict[str, Any]) -> list[str]:
    spec = scenario["emulator"]
    mode = (
        "Both big runs went at the same time (each with its own emulator) to fit the time "
        "budget: peak RSS is per process and does not depend on speed, but their updates/s "
        "were measured while sharing 2 cores with each other and two emulators."
        if scenario["parallel"]
        else "The runs went one after the other."
    )
    out = [
        f"## {scenario['key']}: {scenario['title']}",
        "",
        f"{spec.updates:,} distinct attendees ({spec.meetings} meetings x {spec.attendees}), "
        f"emulator `{_emulator_flags(spec)}`. Peak RSS is the command's own `ru_maxrss` from "
        "`os.wait4()` in the small go-between `benchmarks/rss_probe.py` (exact); the 10/50/90% "
        "columns are psutil samples of the child's RSS "
        f"at that fraction of its run (growth shows there). {mode} 1-minute load average "
        f"before / after (after includes this benchmark's own four processes): "
        f"{scenario['loadavg_1min_before_after']}.",
        "",
    ]
    rows = [
        [
            row["label"],
            f"`{row['command']}`",
            f"{row['updates']:,}",
            f"{row['max_rss_mb']:.1f}",
            " / ".join("-" if v is None else f"{v:.0f}" for v in row["rss_mb_at_10_50_90pct"]),
            "" if row["rss_growth_mb_per_10k"] is None else f"{row['rss_growth_mb_per_10k']:.2f}",
            f"{row['wall_s']:.1f}",
            f"{row['updates_per_s']:.0f}" if row["updates_per_s"] else "",
            f"{row['cpu_s']:.1f}",
            row.get("by_status"),
            row.get("mismatches"),
            row["returncode"],
        ]
        for row in scenario["contenders"]
    ]
    out += _table(
        [
            "path",
            "command",
            "updates",
            "peak RSS MB",
            "RSS MB at 10/50/90%",
            "RSS growth MB / 10k updates",
            "wall s",
            "updates/s",
            "CPU s",
            "statuses",
            "mismatches",
            "exit",
        ],
        rows,
    )
    return out


_METHOD = """## How each number is measured

- **wall s**: `time.monotonic()` in the benchmark process from just before the first update
  is handed to the contender until it returns (client creation excluded). **x ideal** is that
  over `(N - burst) / rate`.
- **requests (client)**: HTTP attempts counted by a botocore `before-send` handler on the
  contender's client (fires per attempt, botocore's own retries included, after the adaptive
  mode's rate limiter). **429s** and **5xx**: statuses seen by a `needs-retry` handler (fires
  once per attempt with its response; returns None so it decides nothing).
- **requests (server)**: `UpdateAttendeeCapabilities` records in the emulator's own request
  log, written to a stats file when the emulator process stops (`benchmarks/emulator_host.py`;
  empty with `--emulator cli`). Differences from the client count would be aiohttp's silent
  re-sends on stale keep-alive connections.
- **final failures**: updates whose last outcome was an error, per the contender's own
  result (chime-bulk: report status not ok; others: the exception its call raised).
- **ground-truth mismatches**: after the run, `ListAttendees` (boto3, 100 per page, reads
  unthrottled thanks to `--rate "*=0"`) for every meeting; an attendee whose capabilities
  differ from the desired ones, or who is missing. Every desired state differs from the
  emulator's default, so an update that never landed is always a mismatch. **of which
  reported OK**: mismatches the contender claimed had succeeded (silent loss).
- **client CPU s**: `time.process_time()` of the benchmark process over the same span.
- **other load (cores)**: system-wide busy CPU time over the contender's run minus the CPU
  time of this benchmark's own processes (itself and the emulator), per second of the run
  (`benchmarks/load.py`). The machine is shared; above ~0.2 the timings of that row were
  taken with other work competing for the 2 cores.
- **B4 peak RSS**: `ru_maxrss` of the measured command from `os.wait4(pid)`, read by a
  small go-between process (`benchmarks/rss_probe.py`) that is the command's only parent:
  Linux carries the forking process's resident set into a child's `ru_maxrss` (the forked
  copy's high-water mark survives `exec`), so a child spawned straight from the ~90 MB
  benchmark process would report at least ~90 MB whatever it did.
- Seeds: the emulator's IDs and fault draws (`--seed`), the desired capabilities, and
  Python's global `random` (used by botocore's and tenacity's jitter) before each contender.
  chime-bulk's jitter uses its own unseeded `random.Random()` (its default), and timing is
  real, so repeated runs differ by a little.
"""


def write_markdown(path: Path, run: dict[str, Any], verdicts: list[Verdict]) -> None:
    machine = run["machine"]
    out = [
        "# chime-bulk benchmarks: results",
        "",
        f"Generated by `{run['command']}` on {run['date']} (suite `{run['suite']}`, "
        f"emulator launcher `{run['launcher']}`); the whole run took "
        f"**{run['duration_s'] / 60:.1f} min** (budget 10 min: "
        f"{'met' if run['duration_s'] <= 600 else 'MISSED'}).",
        "",
        f"Machine: {machine['cpu_model']}, {machine['logical_cores']} logical cores "
        f"({machine['physical_cores']} physical), {machine['memory_gb']} GB RAM, "
        f"{machine['platform']}; Python {machine['python']}. Packages: "
        + ", ".join(f"{k} {v}" for k, v in machine["packages"].items())
        + ". botocore's default retry mode here: "
        f"`{run['botocore_default_retry_mode']}`.",
        "",
        f"Code measured: commit `{run['git']['commit']}`"
        + (
            " plus uncommitted changes to " + ", ".join(f"`{f}`" for f in changed)
            if (changed := run["git"]["uncommitted_src"])
            else " (src/ clean)"
        )
        + ".",
        "",
    ]
    if run["suite"] != "full":
        out += [
            "**This is not the documented run**: smaller plans than issue #5's, so the goals "
            "below are indicative only (the ramp-up weighs more on a short run).",
            "",
        ]
    out += ["## Goals (issue #5)", ""]
    out += _table(
        ["scenario", "goal", "measured", "met?", "margin"],
        [
            [
                v.scenario,
                v.goal,
                v.measured,
                {True: "yes", False: "**no**", None: "n/a"}[v.met],
                v.margin,
            ]
            for v in verdicts
        ],
    )
    out += ["## Emulator throughput", "", *_emulator_md()]
    for key, scenario in run["scenarios"].items():
        if key in ("B1", "B2"):
            out += _quota_section(scenario)
        elif key == "B3":
            out += _overhead_section(scenario)
        elif key == "B4":
            out += _memory_section(scenario)
    contenders_doc = run["contender_settings"]
    out += ["## Contender settings", "", contenders_doc, "", _METHOD]
    kept = kept_sections(path.read_text(encoding="utf-8") if path.exists() else "")
    path.write_text("\n".join(out).rstrip() + "\n" + kept, encoding="utf-8")


_KEPT: Final = re.compile(
    r"\n*(<!-- keep:(\w+) -->\n.*?<!-- /keep:\2 -->\n|<!-- B6-B9 begin -->.*?<!-- B6-B9 end -->\n)",
    re.DOTALL,
)


def kept_sections(text: str) -> str:
    """The sections standalone benchmarks (B5, B10, …) wrote between `<!-- keep:NAME -->`
    markers: a full run rewrites the rest of RESULTS.md and keeps these as they are."""
    return "".join(f"\n{match.group(1)}" for match in _KEPT.finditer(text))
