"""B4's library path, run as a child process: a plan streamed through `BulkUpdater.stream()`.

    python -m benchmarks.stream_child PLAN.jsonl --endpoint-url URL [--limit N]

Updates are parsed from the plan one line at a time (a generator), results are counted and
dropped: nothing grows with the plan but the counters. Prints one JSON line of totals.
With `--limit`, only the first N lines (the baseline: imports, client, a few requests).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from chime_bulk import BulkUpdater, Capabilities, Update

from .environment import REGION, configure_process

__all__ = ["main"]


def _updates(path: Path, limit: int | None) -> Iterator[Update]:
    with path.open(encoding="utf-8") as plan:
        for line in itertools.islice(plan, limit):
            data = json.loads(line)
            yield Update(
                meeting_id=data["MeetingId"],
                attendee_id=data["AttendeeId"],
                capabilities=Capabilities.from_api(data["Capabilities"]),
            )


async def _stream(path: Path, *, endpoint_url: str, limit: int | None) -> dict[str, object]:
    statuses: Counter[str] = Counter()
    started, cpu_started = time.monotonic(), time.process_time()
    async with (
        BulkUpdater(endpoint_url=endpoint_url, region=REGION) as bulk,
        bulk.stream(_updates(path, limit)) as results,
    ):
        async for result in results:
            statuses[result.status.value] += 1
    return {
        "updates": sum(statuses.values()),
        "by_status": dict(statuses),
        "wall_s": round(time.monotonic() - started, 2),
        "cpu_s": round(time.process_time() - cpu_started, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("plan", type=Path)
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    configure_process()
    totals = asyncio.run(_stream(args.plan, endpoint_url=args.endpoint_url, limit=args.limit))
    print(json.dumps(totals), flush=True)


if __name__ == "__main__":
    main()
