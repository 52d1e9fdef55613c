"""Throughput of the Chime SDK Meetings emulator.

Starts the emulator in a separate process (no quotas, no faults, no latency), then drives
`UpdateAttendeeCapabilities` at it from this process at a fixed concurrency and prints
requests/s. Two client modes:

- `aiohttp` (default): a bare aiohttp client with a constant SigV4-shaped Authorization
  header, cheap enough that the emulator is the bottleneck;
- `aiobotocore`: the real client, signing every request (client CPU then dominates).

It also reads the emulator process's CPU time, so `req/s per server core` is the rate the
emulator sustains per second of CPU it burns, whatever the client costs.

    .venv/bin/python benchmarks/emulator_throughput.py [--client aiohttp|aiobotocore]
        [--requests 20000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import psutil  # type: ignore[import-untyped]

_SERVER = """
import sys
from chime_bulk.emulator import RateLimit, run_forever
try:
    run_forever(rates={"*": RateLimit(0, 0)}, meetings=10, attendees=100,
                ready_file=sys.argv[1])
except KeyboardInterrupt:
    pass
"""
_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/chime/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)
_CAPABILITIES = [
    {"Audio": "Receive", "Video": "Receive", "Content": "None"},
    {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"},
]

Send = Callable[[str, str, dict[str, str]], Awaitable[None]]


def _start_server(ready: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    process = subprocess.Popen([sys.executable, "-c", _SERVER, str(ready)])
    deadline = time.monotonic() + 30
    while not ready.exists():  # a benchmark may poll; tests never do
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the emulator did not start")
        time.sleep(0.05)
    info: dict[str, Any] = json.loads(ready.read_text())
    return process, info


@asynccontextmanager
async def _aiohttp_sender(endpoint: str, concurrency: int) -> AsyncIterator[Send]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(meeting: str, attendee: str, caps: dict[str, str]) -> None:
            url = f"{endpoint}/meetings/{meeting}/attendees/{attendee}/capabilities"
            headers = {"Authorization": _AUTHORIZATION, "Content-Type": "application/json"}
            body = json.dumps({"Capabilities": caps})
            async with session.put(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"unexpected status {response.status}")

        yield send


@asynccontextmanager
async def _aiobotocore_sender(endpoint: str, concurrency: int) -> AsyncIterator[Send]:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=concurrency,
    )
    async with get_session().create_client(
        "chime-sdk-meetings",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    ) as client:

        async def send(meeting: str, attendee: str, caps: dict[str, str]) -> None:
            await client.update_attendee_capabilities(
                MeetingId=meeting, AttendeeId=attendee, Capabilities=caps
            )

        yield send


async def _drive(send: Send, targets: list[tuple[str, str]], *, total: int, workers: int) -> float:
    counter = itertools.count()

    async def worker() -> None:
        while (n := next(counter)) < total:
            meeting, attendee = targets[n % len(targets)]
            await send(meeting, attendee, _CAPABILITIES[n % 2])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started


async def _run(args: argparse.Namespace, info: dict[str, Any]) -> tuple[int, float]:
    targets = [(m, a) for m, attendees in info["meetings"].items() for a in attendees]
    sender = _aiohttp_sender if args.client == "aiohttp" else _aiobotocore_sender
    async with sender(info["endpoint_url"], args.concurrency) as send:
        await _drive(send, targets, total=min(500, args.requests), workers=args.concurrency)
        elapsed = await _drive(send, targets, total=args.requests, workers=args.concurrency)
        return args.requests, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=["aiohttp", "aiobotocore"], default="aiohttp")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        process, info = _start_server(Path(tmp) / "ready.json")
        try:
            server = psutil.Process(process.pid)
            # Server CPU also covers the untimed warm-up, so it is divided by every request.
            cpu_before = server.cpu_times()
            requests, elapsed = asyncio.run(_run(args, info))
            cpu_after = server.cpu_times()
        finally:
            process.terminate()
            process.wait(timeout=10)
    warmup = min(500, args.requests)
    server_cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    print(f"client: {args.client}, concurrency {args.concurrency}, requests {requests:,}")
    print(f"requests/s (wall clock):  {requests / elapsed:,.0f}")
    print(f"req/s per server core:    {(requests + warmup) / server_cpu:,.0f}")


if __name__ == "__main__":
    main()
