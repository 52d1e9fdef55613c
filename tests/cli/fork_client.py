"""`python -I -S tests/cli/fork_client.py ARGS`: run `chime-bulk ARGS` through the fork server.

It hands its own stdin, stdout and stderr to the server (whose socket `CHIME_BULK_FORK_SERVER`
names), forwards SIGINT, SIGTERM and SIGHUP to the run, and exits with the run's status or dies
by the run's signal, so a test sees it as the run itself. Standard library only, started
without `site`: it costs a few milliseconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
from types import FrameType

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def main() -> None:
    server = os.environ.pop("CHIME_BULK_FORK_SERVER")
    request = json.dumps({"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()})
    run: int | None = None
    early: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if run is None:
            early.append(signum)
        else:
            os.kill(run, signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(server)
    payload = request.encode()
    socket.send_fds(connection, [struct.pack("!I", len(payload))], [0, 1, 2])
    connection.sendall(payload)
    run = _receive_int(connection)
    for early_signal in early:
        os.kill(run, early_signal)
    code = os.waitstatus_to_exitcode(_receive_int(connection))
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


def _receive_int(connection: socket.socket) -> int:
    data = b""
    while len(data) < 4:
        chunk = connection.recv(4 - len(data))
        if not chunk:
            raise ConnectionError("the fork server went away")
        data += chunk
    value: int = struct.unpack("!i", data)[0]
    return value


if __name__ == "__main__":
    main()
