"""Fixtures: a running emulator, and boto3/aiobotocore clients pointed at it.

`api` is parametrised over both clients behind one awaitable interface, so every
conformance test runs once with boto3 (in a worker thread) and once with aiobotocore. The
clients have botocore's retries off (one attempt) and parameter validation off, so that
inputs botocore would reject client-side still reach the emulator's own validation.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import anyio.to_thread
import boto3
import botocore
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.config import Config

from chime_bulk.emulator import Emulator, RateLimit

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
NO_LIMITS = {"*": RateLimit(0, 0)}
MUTED = {"Audio": "Receive", "Video": "Receive", "Content": "None"}
ALL_SEND_RECEIVE = {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}


class FakeClock:
    """A clock that moves only when told to (for the emulator's quotas and brownouts)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api(Protocol):
    """One chime-sdk-meetings client, boto3 or aiobotocore, called the same way."""

    kind: str
    exceptions: Any
    client: Any

    async def __call__(self, operation: str, /, **params: Any) -> dict[str, Any]: ...


class _BotoApi:
    kind = "boto3"

    def __init__(self, client: Any) -> None:
        self._client = self.client = client
        self.exceptions = client.exceptions

    async def __call__(self, operation: str, /, **params: Any) -> dict[str, Any]:
        call = functools.partial(getattr(self._client, operation), **params)
        result: dict[str, Any] = await anyio.to_thread.run_sync(call)
        return result


class _AioApi:
    kind = "aiobotocore"

    def __init__(self, client: Any) -> None:
        self._client = self.client = client
        self.exceptions = client.exceptions

    async def __call__(self, operation: str, /, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = await getattr(self._client, operation)(**params)
        return result


def _config_kwargs(*, unsigned: bool, region: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "region_name": region,
        "retries": {"mode": "standard", "total_max_attempts": 1},
        "parameter_validation": False,
        "max_pool_connections": 32,
    }
    if unsigned:
        kwargs["signature_version"] = botocore.UNSIGNED
    return kwargs


ApiFactory = Callable[..., AbstractAsyncContextManager[Api]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def boto_session() -> boto3.session.Session:
    # One session for the whole run: it caches the service model between clients.
    return boto3.session.Session()


@pytest.fixture(scope="session")
def aio_session() -> AioSession:
    return AioSession()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A running emulator without quotas, seed 0."""
    with Emulator(rates=NO_LIMITS) as emu:
        yield emu


@pytest.fixture
def boto_client(boto_session: boto3.session.Session, emulator: Emulator) -> Any:
    return boto_session.client(
        "chime-sdk-meetings",
        endpoint_url=emulator.endpoint_url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        region_name=REGION,
        **CREDENTIALS,
    )


@pytest.fixture
def make_api(boto_session: boto3.session.Session, aio_session: AioSession) -> ApiFactory:
    """`make_api(kind, emulator, unsigned=False, region=REGION)`: an `Api` context manager."""

    @asynccontextmanager
    async def open_api(
        kind: str, emu: Emulator, *, unsigned: bool = False, region: str = REGION
    ) -> AsyncIterator[Api]:
        options = _config_kwargs(unsigned=unsigned, region=region)
        region_name = options.pop("region_name")
        if kind == "boto3":
            client = boto_session.client(
                "chime-sdk-meetings",
                endpoint_url=emu.endpoint_url,
                region_name=region_name,
                config=Config(**options),
                **CREDENTIALS,
            )
            try:
                yield _BotoApi(client)
            finally:
                client.close()
            return
        async with aio_session.create_client(
            "chime-sdk-meetings",
            endpoint_url=emu.endpoint_url,
            region_name=region_name,
            config=AioConfig(**options),
            **CREDENTIALS,
        ) as aio_client:
            yield _AioApi(aio_client)

    return open_api


@pytest.fixture(params=["boto3", "aiobotocore"])
def client_kind(request: pytest.FixtureRequest) -> str:
    """Each client library in turn, for tests that open clients with `make_api`."""
    kind: str = request.param
    return kind


@pytest.fixture
async def api(client_kind: str, make_api: ApiFactory, emulator: Emulator) -> AsyncIterator[Api]:
    """A client of the default emulator, once per client library."""
    async with make_api(client_kind, emulator) as client:
        yield client
