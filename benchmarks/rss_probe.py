"""Run a command as the only child of a small process and record its exact peak RSS.

    python -m benchmarks.rss_probe RESULT.json -- COMMAND [ARG...]

Why a go-between: Linux counts in a child's `ru_maxrss` the resident set of the process it
was forked from (the forked copy of the parent's memory is the child's until `exec`, and
its high-water mark survives the `exec`). Spawned straight from the benchmark process
(~90 MB), every child would show at least ~90 MB. Forked from this small process instead,
the command starts from ~10 MB, far below anything it measures. The result file gets the
command's exit code and its own `ru_maxrss`, user and system CPU from `os.wait4`.
Imports nothing heavy on purpose.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 3 or args[1] != "--":
        raise SystemExit("usage: python -m benchmarks.rss_probe RESULT.json -- COMMAND [ARG...]")
    result, command = args[0], args[2:]
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    with open(result, "w", encoding="utf-8") as out:
        json.dump(
            {
                "returncode": process.returncode,
                "max_rss_kb": usage.ru_maxrss,  # KiB on Linux
                "cpu_s": usage.ru_utime + usage.ru_stime,
            },
            out,
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
