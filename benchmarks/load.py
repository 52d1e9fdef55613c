"""How busy the machine was with *other* work while a contender ran.

The benchmark shares its 2 cores with whatever else runs on the machine. `LoadMeter`
takes the system-wide busy CPU time (user + nice + system; not idle, iowait, steal, nor
irq/softirq, where the kernel handles this benchmark's own loopback traffic) over a span
and subtracts what this benchmark's own processes (this process and the emulator) used: the
rest, divided by the span, is `foreign_cores`. Over ~0.2 means the timings of that span
were measured on a machine that was not idle.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import psutil  # type: ignore[import-untyped]

__all__ = ["LoadMeter"]


def _system_busy() -> float:
    times = psutil.cpu_times()
    # Not sum(times): guest time is already inside user time on Linux.
    return float(times.user + times.nice + times.system)


def _process_cpu(process: Any) -> float:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


@dataclass(slots=True)
class LoadMeter:
    """`start()`, run, `stop()` → foreign load; `pids` are this benchmark's other processes."""

    pids: list[int] = field(default_factory=list)
    _processes: list[Any] = field(default_factory=list)
    _start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _ours(self) -> float:
        return sum(_process_cpu(process) for process in self._processes)

    def start(self) -> None:
        self._processes = [psutil.Process()]
        for pid in self.pids:
            with contextlib.suppress(psutil.Error):
                self._processes.append(psutil.Process(pid))
        self._start = (time.monotonic(), _system_busy(), self._ours())

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._start[0]
        busy = _system_busy() - self._start[1]
        ours = self._ours() - self._start[2]
        foreign = max(0.0, busy - ours)
        return {
            "span_s": round(wall, 2),
            "system_busy_cpu_s": round(busy, 2),
            "own_cpu_s": round(ours, 2),
            "foreign_cpu_s": round(foreign, 2),
            "foreign_cores": round(foreign / wall, 3) if wall > 0 else 0.0,
            "loadavg_1min": round(psutil.getloadavg()[0], 2),
        }
