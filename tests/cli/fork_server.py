"""A fork server for the CLI tests: `python tests/cli/fork_server.py SOCKET`.

The CLI tests start `chime-bulk` about ninety times. Each fresh interpreter spends about
0.6 CPU-seconds importing aiobotocore, botocore, aiohttp and rich before the command does
anything, which on a 2-core CI machine is a third of the suite. This server imports them once
and forks one process per run instead.

Each run is still a real process of its own: its own argv, environment and working directory,
the client's stdin, stdout and stderr (passed over the socket), its own signal handling and exit
status, and `python -m chime_bulk`'s entry point run as `__main__`. Only the start-up imports are
shared. `fork_client.py` is the command the tests start: it hands its stdio here, forwards the
signals it gets to the run, and exits as the run did.

Per connection the server forks a monitor, which forks the run, sends the client the run's pid,
waits for the run (or for the client to go away, then kills the run) and sends its wait status.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import runpy
import select
import signal
import socket
import struct
import sys
import threading
from typing import Any, NoReturn

#: Exit code CPython gives when flushing stdout fails at exit (a reader that went away).
_FLUSH_FAILED_AT_EXIT = 120


def main(socket_path: str) -> None:
    import aiobotocore.session  # noqa: F401 - the imports every run shares are the point
    import botocore.session  # noqa: F401

    import chime_bulk.cli
    import chime_bulk.emulator  # noqa: F401

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the monitors
    print("ready", flush=True)
    while True:
        connection, _ = listener.accept()
        header, fds, _, _ = socket.recv_fds(connection, 4, 3)
        request = json.loads(_receive_exactly(connection, struct.unpack("!I", header)[0]))
        if os.fork() == 0:
            listener.close()
            _monitor(connection, fds, request)
        connection.close()
        for fd in fds:
            os.close(fd)  # else the tests' pipes never see end of file


def _monitor(connection: socket.socket, fds: list[int], request: dict[str, Any]) -> NoReturn:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # waitpid needs children to stay zombies
    run = os.fork()
    if run == 0:
        connection.close()
        _run(fds, request)
    for fd in fds:
        os.close(fd)
    connection.sendall(struct.pack("!i", run))
    run_ended = os.pidfd_open(run)
    readable, _, _ = select.select([connection.fileno(), run_ended], [], [])
    if connection.fileno() in readable:  # the client was killed (a test's timeout): so is the run
        os.kill(run, signal.SIGKILL)
    _, status = os.waitpid(run, 0)
    with contextlib.suppress(OSError):  # a client killed meanwhile does not need it
        connection.sendall(struct.pack("!i", status))
    os._exit(0)


def _run(fds: list[int], request: dict[str, Any]) -> NoReturn:
    """Become `python -m chime_bulk ARGS` and exit the way that interpreter would."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    _fresh_stdio()
    sys.argv = ["chime_bulk", *request["argv"]]  # runpy puts the module's path first, as -m does
    try:
        runpy.run_module("chime_bulk", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_request:
        code = _exit_code(exit_request.code)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        _finish()
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # die by the signal, as CPython does
        os.kill(os.getpid(), signal.SIGINT)
        code = 1
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    os._exit(code if _finish() else _FLUSH_FAILED_AT_EXIT)


def _fresh_stdio() -> None:
    """Standard streams opened on the run's own fds, buffered as at interpreter start-up."""
    encoding = sys.getfilesystemencoding()
    sys.stdin = open(0, encoding=encoding, closefd=False)  # noqa: SIM115
    line_buffered = 1
    sys.stdout = open(  # noqa: SIM115
        1, "w", buffering=line_buffered if os.isatty(1) else -1, encoding=encoding, closefd=False
    )
    sys.stderr = open(  # noqa: SIM115
        2,
        "w",
        buffering=line_buffered,
        encoding=encoding,
        errors="backslashreplace",
        closefd=False,
    )


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _finish() -> bool:
    """Interpreter shutdown's visible part: join threads, run atexit, flush. False when
    flushing stdout failed."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    flushed = True
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            flushed = flushed and stream is not sys.stdout
    return flushed


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    buffer = io.BytesIO()
    while buffer.tell() < size:
        chunk = connection.recv(size - buffer.tell())
        if not chunk:
            raise ConnectionError("client went away mid-request")
        buffer.write(chunk)
    return buffer.getvalue()


if __name__ == "__main__":
    main(sys.argv[1])
