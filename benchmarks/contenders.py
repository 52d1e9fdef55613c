"""The contenders: chime-bulk, and the ways people call UpdateAttendeeCapabilities in bulk.

Each contender is an async function `(targets, *, endpoint_url, log, watch, outcomes)` that
creates its client the way its kind of user would, attaches the client-side `RequestLog`,
starts `watch` right before the first update is sent, and records into `outcomes` each
target's final error code (None when it succeeded). Client creation is not timed.

Settings chosen here (RESULTS.md quotes this list):

- `chime-bulk`: `BulkUpdater(endpoint_url=…, region="us-east-1")` with its defaults. The
  aiobotocore client is created here with the same settings chime-bulk's own factory uses
  (botocore retries off, 16 connections, 5 s connect / 15 s read timeouts) and injected with
  `client=`, only so that the request log can be attached; the pacer is the default
  `Adaptive()` wrapped in `ObservedPacing`, which records its rate and changes nothing.
- `gather + legacy`: botocore's default config (legacy retries, 5 attempts, pool of 10),
  all updates at once, `return_exceptions=True` so one failure does not lose the rest.
- `Semaphore(64) + standard|adaptive`: `retries={"mode": …, "max_attempts": 10}` as users
  write it (botocore reads it as 10 *retries*, 11 attempts) and `max_pool_connections=64` so
  the semaphore is not silently capped by the default pool of 10.
- `aiometer + tenacity`: `aiometer.run_all(max_at_once=64, max_per_second=R)`, botocore
  retries off, and per call a fresh tenacity `AsyncRetrying(wait_random_exponential(
  multiplier=1, max=20), stop_after_attempt(10))` retrying throttles, 5xx and connection
  errors. aiometer meters task *starts*; retries inside a task are not metered.
- B3 `bare` loops: botocore retries off, pool = concurrency, no retry layer at all.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import aiometer
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from chime_bulk import Adaptive, BulkUpdater, Unpaced

from .environment import REGION
from .instrument import ObservedPacing, PacerTrace, RequestLog
from .workload import Target

__all__ = [
    "Contender",
    "Outcomes",
    "Stopwatch",
    "overhead_contenders",
    "quota_contenders",
]

SERVICE: Final = "chime-sdk-meetings"
#: target key -> final error code, or None when the update succeeded.
Outcomes = dict[tuple[str, str], str | None]


@dataclass(slots=True)
class Stopwatch:
    """Wall and CPU time of the part of a run that sends updates."""

    wall_start: float | None = None
    cpu_start: float | None = None
    wall_end: float | None = None
    cpu_end: float | None = None

    def start(self) -> None:
        self.wall_start = time.monotonic()
        self.cpu_start = time.process_time()

    def stop(self) -> None:
        if self.wall_end is None:
            self.wall_end = time.monotonic()
            self.cpu_end = time.process_time()

    @property
    def wall_s(self) -> float:
        assert self.wall_start is not None
        assert self.wall_end is not None
        return self.wall_end - self.wall_start

    @property
    def cpu_s(self) -> float:
        assert self.cpu_start is not None
        assert self.cpu_end is not None
        return self.cpu_end - self.cpu_start


class RunFunction(Protocol):
    def __call__(
        self,
        targets: Sequence[Target],
        *,
        endpoint_url: str,
        log: RequestLog,
        watch: Stopwatch,
        outcomes: Outcomes,
        extras: dict[str, Any],
    ) -> Awaitable[None]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Contender:
    key: str
    label: str
    run: RunFunction
    #: Whether (and how) the approach tells its user which attendees failed.
    accounting: str


def _error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    return type(error).__name__


def _client(*, endpoint_url: str, config: AioConfig | None) -> Any:
    kwargs: dict[str, Any] = {"region_name": REGION, "endpoint_url": endpoint_url}
    if config is not None:
        kwargs["config"] = config
    return get_session().create_client(SERVICE, **kwargs)


def _no_retries(pool: int) -> AioConfig:
    return AioConfig(
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=pool,
        connect_timeout=5.0,
        read_timeout=15.0,
    )


async def _send(client: Any, target: Target) -> None:
    await client.update_attendee_capabilities(
        MeetingId=target.meeting_id,
        AttendeeId=target.attendee_id,
        Capabilities=target.capabilities.to_api(),
    )


async def _recorded(
    call: Callable[[], Awaitable[None]], target: Target, outcomes: Outcomes
) -> None:
    try:
        await call()
    except (TimeoutError, ClientError, BotoCoreError, OSError) as error:
        outcomes[target.key] = _error_code(error)
    else:
        outcomes[target.key] = None


# -- B1/B2 ---------------------------------------------------------------------------------


async def _chime_bulk_default(
    targets: Sequence[Target],
    *,
    endpoint_url: str,
    log: RequestLog,
    watch: Stopwatch,
    outcomes: Outcomes,
    extras: dict[str, Any],
) -> None:
    trace = PacerTrace()
    extras["pacer"] = trace
    updates = [target.update() for target in targets]
    async with _client(endpoint_url=endpoint_url, config=_no_retries(16)) as client:
        log.attach(client)
        async with BulkUpdater(
            endpoint_url=endpoint_url,
            region=REGION,
            client=client,
            pacing=ObservedPacing(Adaptive(), trace),
        ) as bulk:
            watch.start()
            report = await bulk.run(updates)
            watch.stop()
    for result in report.results:
        outcomes[(result.meeting_id, result.attendee_id)] = (
            None if result.status.ok else (result.error_code or result.status.value)
        )
    extras["self_reported"] = report.summary.to_dict()


async def _gather_legacy(
    targets: Sequence[Target],
    *,
    endpoint_url: str,
    log: RequestLog,
    watch: Stopwatch,
    outcomes: Outcomes,
    extras: dict[str, Any],
) -> None:
    async with _client(endpoint_url=endpoint_url, config=None) as client:
        log.attach(client)
        extras["retry_mode"] = client.meta.config.retries
        watch.start()
        results = await asyncio.gather(
            *(_send(client, target) for target in targets), return_exceptions=True
        )
        watch.stop()
    for target, result in zip(targets, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            outcomes[target.key] = _error_code(result)
        else:
            outcomes[target.key] = None


def _semaphore(mode: str) -> RunFunction:
    async def run(
        targets: Sequence[Target],
        *,
        endpoint_url: str,
        log: RequestLog,
        watch: Stopwatch,
        outcomes: Outcomes,
        extras: dict[str, Any],
    ) -> None:
        config = AioConfig(retries={"mode": mode, "max_attempts": 10}, max_pool_connections=64)
        semaphore = asyncio.Semaphore(64)
        async with _client(endpoint_url=endpoint_url, config=config) as client:
            log.attach(client)

            async def one(target: Target) -> None:
                async with semaphore:
                    await _recorded(functools.partial(_send, client, target), target, outcomes)

            watch.start()
            await asyncio.gather(*(one(target) for target in targets))
            watch.stop()

    return run


_TENACITY_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "ThrottledClientException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "ServiceFailureException",
    }
)


def _tenacity_retryable(error: BaseException) -> bool:
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return _error_code(error) in _TENACITY_CODES or status == 429 or status >= 500
    return isinstance(error, BotoCoreError | OSError)


def _aiometer(rate: float) -> RunFunction:
    async def run(
        targets: Sequence[Target],
        *,
        endpoint_url: str,
        log: RequestLog,
        watch: Stopwatch,
        outcomes: Outcomes,
        extras: dict[str, Any],
    ) -> None:
        async with _client(endpoint_url=endpoint_url, config=_no_retries(64)) as client:
            log.attach(client)

            async def attempts(target: Target) -> None:
                async for attempt in AsyncRetrying(
                    wait=wait_random_exponential(multiplier=1, max=20),
                    stop=stop_after_attempt(10),
                    retry=retry_if_exception(_tenacity_retryable),
                    reraise=True,
                ):
                    with attempt:
                        await _send(client, target)

            async def one(target: Target) -> None:
                await _recorded(functools.partial(attempts, target), target, outcomes)

            watch.start()
            await aiometer.run_all(
                [functools.partial(one, target) for target in targets],
                max_at_once=64,
                max_per_second=rate,
            )
            watch.stop()

    return run


def quota_contenders(aiometer_rates: Sequence[float]) -> list[Contender]:
    """B1/B2, in the order they run."""
    positional = (
        "partly: exceptions come back in input order, so the caller must zip them with the "
        "inputs itself; no attempt counts, no report"
    )
    contenders = [
        Contender(
            key="chime-bulk",
            label="chime-bulk, defaults",
            run=_chime_bulk_default,
            accounting="yes: a report row per attendee (status, error code, attempts, "
            "throttles, request id)",
        ),
        Contender(
            key="gather-legacy",
            label="asyncio.gather, botocore defaults (legacy)",
            run=_gather_legacy,
            accounting=positional + " (only with return_exceptions=True; without it the "
            "first error raises and the rest are lost)",
        ),
        Contender(
            key="sem64-standard",
            label="Semaphore(64) + botocore standard",
            run=_semaphore("standard"),
            accounting=positional,
        ),
        Contender(
            key="sem64-adaptive",
            label="Semaphore(64) + botocore adaptive",
            run=_semaphore("adaptive"),
            accounting=positional,
        ),
    ]
    for rate in aiometer_rates:
        contenders.append(
            Contender(
                key=f"aiometer-{rate:g}",
                label=f"aiometer 64 at once, {rate:g}/s + tenacity",
                run=_aiometer(rate),
                accounting="only if each call is wrapped to return its error: run_all "
                "raises the first exception and cancels the rest",
            )
        )
    return contenders


# -- B3 ------------------------------------------------------------------------------------


def _chime_bulk_unpaced(concurrency: int, warmup: int) -> RunFunction:
    async def run(
        targets: Sequence[Target],
        *,
        endpoint_url: str,
        log: RequestLog,
        watch: Stopwatch,
        outcomes: Outcomes,
        extras: dict[str, Any],
    ) -> None:
        async with BulkUpdater(
            endpoint_url=endpoint_url,
            region=REGION,
            pacing=Unpaced(),
            max_concurrency=concurrency,
        ) as bulk:
            await bulk.run([target.update() for target in targets[:warmup]])
            updates = [target.update() for target in targets]
            watch.start()
            report = await bulk.run(updates)
            watch.stop()
        for result in report.results:
            outcomes[(result.meeting_id, result.attendee_id)] = (
                None if result.status.ok else (result.error_code or result.status.value)
            )
        extras["self_reported"] = report.summary.to_dict()

    return run


def _bare_semaphore(concurrency: int, warmup: int) -> RunFunction:
    async def run(
        targets: Sequence[Target],
        *,
        endpoint_url: str,
        log: RequestLog,
        watch: Stopwatch,
        outcomes: Outcomes,
        extras: dict[str, Any],
    ) -> None:
        semaphore = asyncio.Semaphore(concurrency)
        async with _client(endpoint_url=endpoint_url, config=_no_retries(concurrency)) as client:

            async def one(target: Target) -> None:
                async with semaphore:
                    await _recorded(functools.partial(_send, client, target), target, outcomes)

            await asyncio.gather(*(one(target) for target in targets[:warmup]))
            watch.start()
            await asyncio.gather(*(one(target) for target in targets))
            watch.stop()

    return run


def _bare_workers(concurrency: int, warmup: int) -> RunFunction:
    async def run(
        targets: Sequence[Target],
        *,
        endpoint_url: str,
        log: RequestLog,
        watch: Stopwatch,
        outcomes: Outcomes,
        extras: dict[str, Any],
    ) -> None:
        async with _client(endpoint_url=endpoint_url, config=_no_retries(concurrency)) as client:

            async def drain(queue: list[Target]) -> None:
                async def worker() -> None:
                    while queue:
                        target = queue.pop()
                        await _recorded(functools.partial(_send, client, target), target, outcomes)

                await asyncio.gather(*(worker() for _ in range(concurrency)))

            await drain(list(reversed(targets[:warmup])))
            watch.start()
            await drain(list(reversed(targets)))
            watch.stop()

    return run


def overhead_contenders(concurrency: int, warmup: int) -> list[Contender]:
    """B3: the first is the baseline the goal is measured against."""
    return [
        Contender(
            key="bare-semaphore",
            label=f"bare aiobotocore, Semaphore({concurrency}) + gather, retries off",
            run=_bare_semaphore(concurrency, warmup),
            accounting="n/a",
        ),
        Contender(
            key="chime-bulk-unpaced",
            label=f"chime-bulk, Unpaced(), max_concurrency={concurrency}",
            run=_chime_bulk_unpaced(concurrency, warmup),
            accounting="n/a",
        ),
        Contender(
            key="bare-workers",
            label=f"bare aiobotocore, {concurrency} worker tasks, retries off",
            run=_bare_workers(concurrency, warmup),
            accounting="n/a",
        ),
    ]
