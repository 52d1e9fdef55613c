"""One emulator in a separate process per contender: start it, read its ready file, stop it.

A fresh process per contender keeps quotas, fault draws and attendee state from leaking from
one contender into the next. The emulator's CPU is then not counted in the client's
`time.process_time()`, and its memory not in the client's peak RSS.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from .environment import aws_env
from .spec import EmulatorSpec

__all__ = ["EmulatorInfo", "EmulatorProcess", "Launcher", "ServerStats"]

Launcher = Literal["host", "cli"]
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorInfo:
    """The ready file: where to send, and meeting ID → attendee IDs."""

    endpoint_url: str
    region: str
    meetings: dict[str, list[str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerStats:
    """What the emulator saw (only with the `host` launcher)."""

    counts: list[dict[str, Any]]
    write_times: list[float]
    write_statuses: list[int]
    cpu_s: float
    max_rss_mb: float

    def writes(self, status: int | None = None) -> int:
        return sum(
            row["n"]
            for row in self.counts
            if row["operation"] == "UpdateAttendeeCapabilities"
            and (status is None or row["status"] == status)
        )


class EmulatorProcess:
    """`with EmulatorProcess(spec, workdir=…) as emu:` … `emu.info`, then `emu.stats`."""

    def __init__(self, spec: EmulatorSpec, *, workdir: Path, launcher: Launcher = "host") -> None:
        self._spec = spec
        self._launcher = launcher
        workdir.mkdir(parents=True, exist_ok=True)
        self._ready = workdir / "ready.json"
        self._stats_file = workdir / "server-stats.json"
        self._log = workdir / "emulator.log"
        for path in (self._ready, self._stats_file):
            path.unlink(missing_ok=True)
        self._process: subprocess.Popen[bytes] | None = None
        self.info: EmulatorInfo | None = None
        self.stats: ServerStats | None = None
        self.startup_s: float | None = None

    def _argv(self) -> list[str]:
        flags = [*self._spec.cli_flags(), "--port", "0", "--ready-file", str(self._ready)]
        if self._launcher == "cli":
            return [sys.executable, "-m", "chime_bulk", "emulator", *flags]
        return [
            sys.executable,
            "-m",
            "benchmarks.emulator_host",
            *flags,
            "--stats-file",
            str(self._stats_file),
        ]

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def __enter__(self) -> Self:
        started = time.monotonic()
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                self._argv(), stdout=log, stderr=subprocess.STDOUT, env=aws_env()
            )
        deadline = started + _START_TIMEOUT_S
        # Polling a file from a benchmark harness is fine; the tests never do this.
        while not self._ready.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._kill()
                log_text = self._log.read_text(errors="replace")
                raise RuntimeError(f"the emulator did not start:\n{log_text}")
            time.sleep(0.02)
        data = json.loads(self._ready.read_text(encoding="utf-8"))
        self.info = EmulatorInfo(
            endpoint_url=data["endpoint_url"], region=data["region"], meetings=data["meetings"]
        )
        self.startup_s = time.monotonic() - started
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            # The CLI stops cleanly on Ctrl-C; the host on SIGTERM (after writing its stats).
            process.send_signal(signal.SIGINT if self._launcher == "cli" else signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._stats_file.exists():
            self.stats = ServerStats(**json.loads(self._stats_file.read_text(encoding="utf-8")))

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None
