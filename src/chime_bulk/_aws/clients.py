"""aiobotocore clients made the way a bulk run needs them.

botocore's own retries are switched off (`total_max_attempts: 1`): its `legacy` mode retries on
its own, its `standard` mode drops 429s with unknown codes and silently stops retrying once its
quota is spent, and none of them reads Retry-After. `chime_bulk.retry` is the one retry layer.
The connection pool is sized to the concurrency (botocore's default of 10 would cap it
silently), and one client is made per Region, since a meeting can only be changed through the
Region that created it.
"""

from __future__ import annotations

import warnings
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Final

import anyio
import sniffio
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError

from .._model.errors import ConfigurationError

__all__ = [
    "DEFAULT_READ_TIMEOUT_S",
    "SERVICE_NAME",
    "ClientFactory",
    "ClientSettings",
    "botocore_retries_enabled",
    "warn_if_retrying",
]

SERVICE_NAME: Final = "chime-sdk-meetings"
DEFAULT_REGION: Final = "us-east-1"
#: A capability write is answered in tens of milliseconds; 15 s without an answer is a hung
#: request, retried (the PUT is idempotent) rather than waited on for botocore's 60 s.
DEFAULT_READ_TIMEOUT_S: Final = 15.0
NO_REGION: Final = (
    "no AWS Region: pass --region (region=), set AWS_DEFAULT_REGION, or configure one in the "
    "profile"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """Where and how to connect. `None` means "the AWS default chain decides"."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    max_pool_connections: int = 16
    connect_timeout_s: float = 5.0
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S


def _http_session_cls() -> dict[str, Any]:
    # aiohttp only runs on asyncio; under trio, aiobotocore's httpx backend does the I/O.
    if sniffio.current_async_library() == "trio":
        from aiobotocore.httpxsession import HttpxSession

        return {"http_session_cls": HttpxSession}
    return {}


def botocore_retries_enabled(client: Any) -> bool:
    """Whether a client would retry on its own underneath chime-bulk's retry layer."""
    retries = getattr(client.meta.config, "retries", None) or {}
    total = retries.get("total_max_attempts")
    if total is None and "max_attempts" in retries:
        total = retries["max_attempts"] + 1
    return total != 1


def warn_if_retrying(client: Any) -> None:
    if botocore_retries_enabled(client):
        warnings.warn(
            "the client given to chime-bulk has botocore retries enabled; they stack under "
            "chime-bulk's own retries. Create it with "
            "Config(retries={'mode': 'standard', 'total_max_attempts': 1}).",
            RuntimeWarning,
            stacklevel=3,
        )


class ClientFactory:
    """Makes (lazily) and owns one client per Region; `client=` injection is honoured."""

    def __init__(self, settings: ClientSettings, *, client: Any | None = None) -> None:
        self._settings = settings
        self.injected = client is not None  # a client given: its caller set it up
        self._stack = AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self._lock = anyio.Lock()
        try:
            self._session = AioSession(profile=settings.profile)
            configured = self._session.get_config_variable("region")
        except BotoCoreError as error:  # e.g. ProfileNotFound
            raise ConfigurationError(str(error)) from None
        self.default_region: str | None = settings.region or configured
        if self.default_region is None and settings.endpoint_url is not None:
            self.default_region = DEFAULT_REGION  # an emulator or proxy: the name is a label
        self._given: dict[str, Any] = {}
        if client is not None:
            self._given[client.meta.region_name] = client
            self._clients[client.meta.region_name] = client
            self.default_region = self.default_region or client.meta.region_name

    @property
    def settings(self) -> ClientSettings:
        return self._settings

    @property
    def session(self) -> AioSession:
        return self._session

    def _config(self) -> AioConfig:
        return AioConfig(
            retries={"mode": "standard", "total_max_attempts": 1},
            max_pool_connections=self._settings.max_pool_connections,
            connect_timeout=self._settings.connect_timeout_s,
            read_timeout=self._settings.read_timeout_s,
            **_http_session_cls(),
        )

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint requests go to; None for the AWS default of each Region."""
        if self._settings.endpoint_url is not None:
            return self._settings.endpoint_url
        given = next(iter(self._given.values()), None) if self._given else None
        return given.meta.endpoint_url if given is not None else None

    async def access_key_id(self) -> str | None:
        """The access key ID the requests will be signed with (None when there are no
        credentials yet: the first request then fails as it should). It names the account
        for sharing pacers, which is why it is looked up at all; it is never logged."""
        try:
            if self._given:
                client = next(iter(self._given.values()))
                # botocore keeps a ready client's credentials only on its signer.
                credentials = client._request_signer._credentials
            else:
                credentials = await self._session.get_credentials()
            if credentials is None:
                return None
            frozen = await credentials.get_frozen_credentials()
        except Exception:  # no credentials, or a provider that fails: decided at send time
            return None
        key: str | None = frozen.access_key
        return key

    async def get(self, region: str | None) -> Any:
        """The client for `region` (the default Region when `None`)."""
        name = region or self.default_region
        if name is None:
            raise ConfigurationError(NO_REGION)
        client = self._clients.get(name)
        if client is not None:
            return client
        async with self._lock:
            if name not in self._clients:
                try:
                    self._clients[name] = await self._stack.enter_async_context(
                        self._session.create_client(
                            SERVICE_NAME,
                            region_name=name,
                            endpoint_url=self._settings.endpoint_url,
                            config=self._config(),
                        )
                    )
                except BotoCoreError as error:  # e.g. InvalidRegionError
                    raise ConfigurationError(str(error)) from None
            return self._clients[name]

    async def aclose(self) -> None:
        await self._stack.aclose()
