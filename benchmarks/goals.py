"""The goals of issue #5, checked against measured numbers (never asserted: reported)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Verdict", "evaluate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    scenario: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run
    margin: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "goal": self.goal,
            "measured": self.measured,
            "met": self.met,
            "margin": self.margin,
        }


def _bound(
    scenario: str,
    goal: str,
    value: float,
    limit: float,
    *,
    kind: Literal["max", "min"],
    unit: str = "",
    fmt: str = "{:.3g}",
) -> Verdict:
    shown = fmt.format(value) + unit
    met = value <= limit if kind == "max" else value >= limit
    if limit == 0:
        margin = "" if met else f"missed by {shown}"
    elif met:
        headroom = (limit - value) / limit if kind == "max" else (value - limit) / limit
        margin = f"met with {headroom:.1%} to spare"
    else:
        excess = (value - limit) / limit if kind == "max" else (limit - value) / limit
        margin = f"missed by {excess:.1%} ({shown} vs {fmt.format(limit)}{unit})"
    return Verdict(scenario=scenario, goal=goal, measured=shown, met=met, margin=margin)


def _contender(scenario: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((row for row in scenario["contenders"] if row["key"] == key), None)


def _quota(scenario: dict[str, Any]) -> list[Verdict]:
    key = scenario["key"]
    chime = _contender(scenario, "chime-bulk")
    if chime is None:
        return []
    goal = scenario["wall_ratio_goal"]
    verdicts = [
        _bound(
            key,
            f"chime-bulk wall <= {goal} x ideal ({scenario['ideal_s']} s)",
            chime["wall_ratio"],
            goal,
            kind="max",
            unit=" x",
            fmt="{:.3f}",
        )
    ]
    share_goal = scenario.get("throttle_share_goal")
    if share_goal is not None:
        verdicts.append(
            _bound(
                key,
                f"chime-bulk 429s <= {share_goal:.0%} of updates",
                chime["throttle_share"] * 100,
                share_goal * 100,
                kind="max",
                unit=" %",
                fmt="{:.2f}",
            )
        )
        for what in ("failures", "mismatches"):
            verdicts.append(
                _bound(key, f"chime-bulk zero {what}", chime[what], 0, kind="max", fmt="{:d}")
            )
    adaptive = _contender(scenario, "sem64-adaptive")
    if adaptive is not None:
        wall_better = chime["wall_ratio"] < adaptive["wall_ratio"]
        fewer_429 = chime["throttled_client"] < adaptive["throttled_client"]
        verdicts.append(
            Verdict(
                scenario=key,
                goal="chime-bulk beats botocore adaptive on wall ratio and on 429s",
                measured=f"wall {chime['wall_ratio']:.3f} vs {adaptive['wall_ratio']:.3f} x; "
                f"429s {chime['throttled_client']} vs {adaptive['throttled_client']}",
                met=wall_better and fewer_429,
                margin=("" if wall_better else "slower; ")
                + ("" if fewer_429 else "more 429s; ")
                + f"wall {adaptive['wall_s'] - chime['wall_s']:+.1f} s in chime-bulk's favour",
            )
        )
    return verdicts


def _overhead(scenario: dict[str, Any]) -> list[Verdict]:
    chime = _contender(scenario, "chime-bulk-unpaced")
    if chime is None:
        return []
    goal = scenario["throughput_goal"]
    return [
        _bound(
            scenario["key"],
            f"chime-bulk >= {goal:.0%} of the bare loop's updates/s (medians)",
            chime["throughput_vs_bare"] * 100,
            goal * 100,
            kind="min",
            unit=" %",
            fmt="{:.1f}",
        )
    ]


def _memory(scenario: dict[str, Any]) -> list[Verdict]:
    goal = scenario["rss_goal_mb"]
    verdicts = []
    for key in ("cli-apply", "library-stream"):
        row = _contender(scenario, key)
        if row is None:
            continue
        verdict = _bound(
            scenario["key"],
            f"{key}: peak RSS <= {goal:g} MB over {row['updates']:,} updates",
            row["max_rss_mb"],
            goal,
            kind="max",
            unit=" MB",
            fmt="{:.1f}",
        )
        if row["returncode"] != 0 or row["timed_out"]:
            verdict = Verdict(
                scenario=verdict.scenario,
                goal=verdict.goal,
                measured=verdict.measured,
                met=False,
                margin=f"the run did not complete (exit {row['returncode']}, "
                f"timed out: {row['timed_out']})",
            )
        verdicts.append(verdict)
    return verdicts


def evaluate(scenarios: dict[str, dict[str, Any]]) -> list[Verdict]:
    verdicts: list[Verdict] = []
    for key, scenario in scenarios.items():
        if key in ("B1", "B2"):
            verdicts += _quota(scenario)
        elif key == "B3":
            verdicts += _overhead(scenario)
        elif key == "B4":
            verdicts += _memory(scenario)
    return verdicts
