"""The engine's own CPU cost per update, with the network taken out.

    .venv/bin/python -m benchmarks.engine_overhead [--updates 20000] [--rounds 5] [--out R.md]

B3 measures chime-bulk against a bare aiobotocore loop over loopback, where signing, HTTP and
parsing cost ~0.7 ms of client CPU per update and the emulator shares the two cores: the
engine's part is a few percent of that and hard to see through the noise. Here every
contender calls the same in-process client, which answers like the service after one
`await asyncio.sleep(0)` and does no I/O, so what is left is each contender's own work:
scheduling, pacing (`Unpaced`), retries (none needed), bookkeeping and the report.

Rounds are interleaved; the table gives the median `time.process_time()` per update. The
result goes to `--out` (RESULTS.md) between `<!-- keep:engine -->` markers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

from chime_bulk import BulkUpdater, Capabilities, Unpaced, Update

from .b5_mute import replace_section
from .environment import configure_process, git_state

CONCURRENCY: Final = 16
WARMUP: Final = 500
MUTE: Final = Capabilities("SendReceive", "Receive", "None")


class InProcessChime:
    """A `chime-sdk-meetings` client that answers every update at once, with no I/O."""

    meta = SimpleNamespace(
        region_name="us-east-1",
        endpoint_url="http://in-process",
        config=SimpleNamespace(retries={"total_max_attempts": 1}),
    )

    async def update_attendee_capabilities(self, **params: Any) -> dict[str, Any]:
        await asyncio.sleep(0)  # one trip through the event loop, as a real call makes
        return {
            "Attendee": {
                "AttendeeId": params["AttendeeId"],
                "Capabilities": params["Capabilities"],
            },
            "ResponseMetadata": {"RequestId": "r", "HTTPStatusCode": 200},
        }


Contender = Callable[[InProcessChime, Sequence[Update]], Awaitable[None]]


async def _chime_bulk(client: InProcessChime, updates: Sequence[Update]) -> None:
    async with BulkUpdater(client=client, pacing=Unpaced(), max_concurrency=CONCURRENCY) as bulk:
        report = await bulk.run(updates)
    assert report.ok, report.summary


async def _send(client: InProcessChime, update: Update) -> None:
    await client.update_attendee_capabilities(
        MeetingId=update.meeting_id,
        AttendeeId=update.attendee_id,
        Capabilities=update.capabilities.to_api(),
    )


async def _bare_semaphore(client: InProcessChime, updates: Sequence[Update]) -> None:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one(update: Update) -> None:
        async with semaphore:
            await _send(client, update)

    await asyncio.gather(*(one(update) for update in updates))


async def _bare_workers(client: InProcessChime, updates: Sequence[Update]) -> None:
    queue = list(reversed(updates))

    async def worker() -> None:
        while queue:
            await _send(client, queue.pop())

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


CONTENDERS: Final[dict[str, Contender]] = {
    f"bare Semaphore({CONCURRENCY}) + gather": _bare_semaphore,
    f"bare, {CONCURRENCY} worker tasks": _bare_workers,
    f"chime-bulk, Unpaced(), max_concurrency={CONCURRENCY}": _chime_bulk,
}


def _updates(count: int) -> list[Update]:
    meeting = str(uuid.UUID(int=1, version=4))
    return [
        Update(
            meeting_id=meeting, attendee_id=str(uuid.UUID(int=n + 2, version=4)), capabilities=MUTE
        )
        for n in range(count)
    ]


def _cpu_us_per_update(contender: Contender, updates: Sequence[Update]) -> float:
    async def timed() -> float:
        client = InProcessChime()
        await contender(client, updates[:WARMUP])
        started = time.process_time()
        await contender(client, updates)
        return time.process_time() - started

    return asyncio.run(timed()) / len(updates) * 1e6


def _table(samples: dict[str, list[float]], *, command: str) -> str:
    baseline = statistics.median(samples[next(iter(samples))])
    git = git_state()
    lines = [
        "## Engine overhead (no network)",
        "",
        f"`{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at {git['commit']}"
        f"{' + uncommitted src' if git['uncommitted_src'] else ''}. Every contender calls the "
        "same in-process client (one `asyncio.sleep(0)` per call, no I/O), so the CPU left is "
        "each contender's own; see `benchmarks/engine_overhead.py`.",
        "",
        "| contender | CPU µs / update (median) | over the bare semaphore loop | rounds |",
        "|---|---:|---:|---|",
    ]
    for label, values in samples.items():
        median = statistics.median(values)
        rounds = ", ".join(f"{v:.1f}" for v in values)
        lines.append(f"| {label} | {median:.1f} | {median - baseline:+.1f} | {rounds} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, help="Write the table into this RESULTS.md.")
    args = parser.parse_args(argv)
    configure_process()
    updates = _updates(args.updates)
    samples: dict[str, list[float]] = {label: [] for label in CONTENDERS}
    for _ in range(args.rounds):
        for label, contender in CONTENDERS.items():
            samples[label].append(_cpu_us_per_update(contender, updates))
    command = (
        f"python -m benchmarks.engine_overhead --updates {args.updates} --rounds {args.rounds}"
    )
    table = _table(samples, command=command)
    print(table)
    if args.out is not None:
        replace_section(args.out, "engine", table)


if __name__ == "__main__":
    main()
