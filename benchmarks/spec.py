"""What each scenario runs: the emulator's settings, the workload size, the goal it is held to.

Every number here is an input; every number in RESULTS.md is measured from one of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "FULL",
    "QUICK",
    "EmulatorSpec",
    "MemorySpec",
    "OverheadSpec",
    "QuotaSpec",
    "Suite",
]

#: The operation every contender sends.
OPERATION: Final = "UpdateAttendeeCapabilities"


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorSpec:
    """The `chime-bulk emulator` flags of one scenario."""

    meetings: int
    attendees: int
    rate: float = 0.0  # UpdateAttendeeCapabilities requests/s; 0 means unlimited
    burst: float = 0.0
    p503: float = 0.0
    p500: float = 0.0
    retry_after_s: float = 1.0
    seed: int = 0
    extra_flags: tuple[str, ...] = ()  # e.g. latency or brownouts (benchmarks.emulator_host)

    def rate_flags(self) -> list[str]:
        # "*=0" lifts the documented 10/s default off every other operation, so that reading
        # ground truth (ListAttendees) is never throttled; the write keeps its own quota.
        flags = ["--rate", "*=0"]
        if self.rate > 0:
            flags += ["--rate", f"{OPERATION}={self.rate:g}:{self.burst:g}"]
        return flags

    def cli_flags(self) -> list[str]:
        return [
            "--meetings",
            str(self.meetings),
            "--attendees",
            str(self.attendees),
            *self.rate_flags(),
            "--p503",
            f"{self.p503:g}",
            "--retry-after",
            f"{self.retry_after_s:g}",
            "--p500",
            f"{self.p500:g}",
            "--seed",
            str(self.seed),
            *self.extra_flags,
        ]

    @property
    def updates(self) -> int:
        return self.meetings * self.attendees


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaSpec:
    """B1/B2: a quota-bound run; `ideal_s = (N - burst) / rate`."""

    key: str
    title: str
    emulator: EmulatorSpec
    wall_ratio_goal: float
    throttle_share_goal: float | None = None  # 429s as a share of updates
    aiometer_rates: tuple[float, ...] = (50.0,)

    @property
    def ideal_s(self) -> float:
        emu = self.emulator
        return (emu.updates - emu.burst) / emu.rate

    @property
    def timeout_s(self) -> float:
        """A contender still running after this is stopped and reported as timed out."""
        return 3 * self.ideal_s + 30


@dataclass(frozen=True, slots=True, kw_only=True)
class OverheadSpec:
    """B3: no quota, no faults; client CPU and throughput at one concurrency."""

    key: str
    title: str
    emulator: EmulatorSpec
    concurrency: int = 16
    warmup: int = 200
    rounds: int = 3
    throughput_goal: float = 0.90  # chime-bulk's updates/s over the bare loop's


@dataclass(frozen=True, slots=True, kw_only=True)
class MemorySpec:
    """B4: peak RSS of the CLI and of `BulkUpdater.stream()` over a large plan."""

    key: str
    title: str
    emulator: EmulatorSpec
    rss_goal_mb: float = 150.0
    timeout_s: float = 420.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Suite:
    name: str
    b1: QuotaSpec
    b2: QuotaSpec
    b3: OverheadSpec
    b4: MemorySpec


def _suite(
    name: str,
    *,
    per_meeting: int,
    b3_meetings: int,
    b4_meetings: int,
    rounds: int,
    b2_aiometer_rates: tuple[float, ...],
) -> Suite:
    faults = {"p503": 0.005, "p500": 0.005, "retry_after_s": 1.0}
    return Suite(
        name=name,
        b1=QuotaSpec(
            key="B1",
            title="quota efficiency (50/s, burst 20, 0.5% 503 + 0.5% 500)",
            emulator=EmulatorSpec(
                meetings=12, attendees=per_meeting, rate=50, burst=20, seed=1, **faults
            ),
            wall_ratio_goal=1.05,
            throttle_share_goal=0.02,
            aiometer_rates=(50.0,),
        ),
        b2=QuotaSpec(
            key="B2",
            title="unknown raised quota (200/s, burst 20, same faults)",
            emulator=EmulatorSpec(
                meetings=12, attendees=per_meeting, rate=200, burst=20, seed=2, **faults
            ),
            wall_ratio_goal=1.15,
            aiometer_rates=b2_aiometer_rates,
        ),
        b3=OverheadSpec(
            key="B3",
            title="client overhead (no quota, no faults)",
            emulator=EmulatorSpec(meetings=b3_meetings, attendees=250, seed=3),
            rounds=rounds,
        ),
        b4=MemorySpec(
            key="B4",
            title="memory (no quota, no faults)",
            emulator=EmulatorSpec(meetings=b4_meetings, attendees=250, seed=4),
        ),
    )


#: The documented run: the sizes of issue #5.
#: B2's aiometer runs at 200/s only (a user who knew the raised quota: the strongest fixed-rate
#: contender). At 50/s (a user who assumed B1's quota) it cannot finish in under N / 50 s
#: whatever the quota, and running it costs a minute of the 10-minute budget; `run.py
#: --b2-aiometer-50` adds it.
FULL: Final = _suite(
    "full",
    per_meeting=250,
    b3_meetings=12,
    b4_meetings=400,
    rounds=3,
    b2_aiometer_rates=(200.0,),
)
#: A smoke run of a few minutes: smaller plans, the same contenders and settings.
QUICK: Final = _suite(
    "quick",
    per_meeting=50,
    b3_meetings=4,
    b4_meetings=40,
    rounds=1,
    b2_aiometer_rates=(50.0, 200.0),
)
