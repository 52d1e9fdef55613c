"""Serve the emulator in its own process, and on SIGTERM write what it saw to a stats file.

    python -m benchmarks.emulator_host [chime-bulk emulator flags] --stats-file PATH

It takes the flags of `chime-bulk emulator` and does what that command does (`Emulator`,
`seed`, `write_ready_file`: the steps of `chime_bulk.emulator.serve`), and one thing more:
on SIGTERM or SIGINT it writes the request log's tallies to `--stats-file` before stopping,
so that the benchmark can count requests and 429s on the server side as well as the client
side. Pass `--emulator cli` to `benchmarks.run` to use `python -m chime_bulk emulator` itself
(the server-side columns are then empty).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from chime_bulk.emulator import Brownout, Emulator, Faults, RequestRecord, parse_rate_specs

from .spec import OPERATION

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--meetings", type=int, default=0)
    parser.add_argument("--attendees", type=int, default=0)
    parser.add_argument("--rate", action="append", default=[])
    parser.add_argument("--p503", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--p500", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0)
    parser.add_argument(
        "--brownout",
        action="append",
        default=[],
        metavar="AFTER_REQUESTS:DURATION_S[:RETRY_AFTER_S]",
        help="Every write gets 503 for DURATION_S once AFTER_REQUESTS requests were received.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--stats-file", required=True)
    return parser


def _brownout(spec: str) -> Brownout:
    after, duration, *retry_after = spec.split(":")
    return Brownout(
        after_requests=int(after),
        duration_s=float(duration),
        retry_after_s=float(retry_after[0]) if retry_after else 1.0,
    )


def _stats(records: list[RequestRecord]) -> dict[str, Any]:
    counts = Counter((r.operation, r.status, r.error_code or "") for r in records)
    writes = [r for r in records if r.operation == OPERATION]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "counts": [
            {"operation": op, "status": status, "error_code": code or None, "n": n}
            for (op, status, code), n in sorted(counts.items())
        ],
        # time.monotonic() of the emulator: CLOCK_MONOTONIC, the same clock the client reads.
        "write_times": [round(r.time, 4) for r in writes],
        "write_statuses": [r.status for r in writes],
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    # Blocked before the server thread starts, so that thread inherits the mask and the
    # signal is only ever taken by sigwait below.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    emulator = Emulator(
        host=args.host,
        port=args.port,
        region=args.region,
        rates=parse_rate_specs(args.rate) if args.rate else None,
        faults=Faults(
            p503=args.p503,
            retry_after_s=args.retry_after,
            p500=args.p500,
            latency_ms=args.latency_ms,
            latency_jitter_ms=args.latency_jitter_ms,
        ),
        brownouts=[_brownout(spec) for spec in args.brownout],
        seed=args.seed,
    )
    emulator.start()
    try:
        emulator.seed(meetings=args.meetings, attendees=args.attendees)
        emulator.write_ready_file(args.ready_file)
        signal.sigwait(stop_signals)
        stats = _stats(emulator.requests)
    finally:
        emulator.stop()
    _write_atomically(Path(args.stats_file), stats)


if __name__ == "__main__":
    main()
