"""One client process of a B6-B9 run: chime-bulk or botocore adaptive over its share of the
updates, started at an agreed moment so that several processes begin together.

    python -m benchmarks.pacing_child --contender chime-bulk|botocore-adaptive
        --endpoint-url URL --targets FILE.json --out RESULT.json --start-at MONOTONIC
        [--coordinate redis://HOST:PORT/DB]

Prints nothing; writes {"start", "end", "ok", "failed", "throttled_client"} (time.monotonic(),
the same clock as the emulator's request log on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from chime_bulk import BulkUpdater, Capabilities, RedisQuota, Update

from .environment import REGION, configure_process


async def _chime_bulk(updates: list[Update], args: argparse.Namespace) -> dict[str, Any]:
    coordinator = RedisQuota(url=args.coordinate) if args.coordinate else None
    # Defaults as a user gets them: no client injected (its pool follows the concurrency).
    async with BulkUpdater(
        endpoint_url=args.endpoint_url, region=REGION, coordinator=coordinator
    ) as bulk:
        _wait_until(args.start_at)
        start = time.monotonic()
        report = await bulk.run(updates)
        end = time.monotonic()
    failed = sum(1 for result in report.results if not result.status.ok)
    return {
        "start": start,
        "end": end,
        "ok": len(updates) - failed,
        "failed": failed,
        "throttled_client": report.summary.throttled,
    }


async def _botocore_adaptive(updates: list[Update], args: argparse.Namespace) -> dict[str, Any]:
    # What users write: Semaphore(64), botocore's adaptive mode with 10 retries, a pool of 64.
    config = AioConfig(retries={"mode": "adaptive", "max_attempts": 10}, max_pool_connections=64)
    semaphore = asyncio.Semaphore(64)
    failed = 0
    async with get_session().create_client(
        "chime-sdk-meetings", region_name=REGION, endpoint_url=args.endpoint_url, config=config
    ) as client:

        async def one(update: Update) -> None:
            nonlocal failed
            async with semaphore:
                try:
                    await client.update_attendee_capabilities(
                        MeetingId=update.meeting_id,
                        AttendeeId=update.attendee_id,
                        Capabilities=update.capabilities.to_api(),
                    )
                except (ClientError, BotoCoreError, OSError, TimeoutError):
                    failed += 1

        _wait_until(args.start_at)
        start = time.monotonic()
        await asyncio.gather(*(one(update) for update in updates))
        end = time.monotonic()
    return {
        "start": start,
        "end": end,
        "ok": len(updates) - failed,
        "failed": failed,
        "throttled_client": None,
    }


def _wait_until(moment: float) -> None:
    # The processes of one run start together: a benchmark may sleep for that.
    delay = moment - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contender", choices=["chime-bulk", "botocore-adaptive"], required=True)
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--targets", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start-at", type=float, required=True)
    parser.add_argument("--coordinate")
    args = parser.parse_args()
    configure_process()
    updates = [
        Update(
            meeting_id=row["meeting_id"],
            attendee_id=row["attendee_id"],
            capabilities=Capabilities.from_api(row["capabilities"]),
        )
        for row in json.loads(args.targets.read_text(encoding="utf-8"))
    ]
    run = _chime_bulk if args.contender == "chime-bulk" else _botocore_adaptive
    result = asyncio.run(run(updates, args))
    args.out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
