"""The check before the first update: Region, credentials and endpoint, each in one line.

Without it a wrong setup shows up as a run: every update `failed` or `cancelled`, a summary
table, and a rate of thousands of updates per second (nothing was really sent). These are
not per-update problems, so they are found once, before any update is taken from the plan,
and reported as one `PreflightFailed`. A client passed in (`client=`) is the caller's
business and is not checked. Only the default Region is checked; an update naming another
Region is checked by its first request, as before.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

import anyio
from botocore.exceptions import BotoCoreError

from .._model.errors import ConfigurationError, PreflightFailed
from .clients import NO_REGION, SERVICE_NAME, ClientFactory

__all__ = ["preflight"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


async def preflight(factory: ClientFactory) -> None:
    """Raise `PreflightFailed` unless the default Region is known, credentials can be found,
    and the endpoint accepts a connection."""
    if factory.injected:
        return
    region = factory.default_region
    if region is None:
        raise PreflightFailed("NoRegion", NO_REGION, fatal=False)
    if factory.settings.endpoint_url is None:
        known = await factory.session.get_available_regions(SERVICE_NAME)
        if known and region not in known:
            raise PreflightFailed(
                "UnknownRegion",
                f"unknown Region {region!r} for Chime SDK Meetings (botocore knows "
                f"{', '.join(known)}); pass --endpoint-url to use another one anyway",
                fatal=False,
            )
    await _check_credentials(factory)
    try:
        client = await factory.get(region)
    except ConfigurationError as error:
        raise PreflightFailed("UnknownRegion", str(error), fatal=False) from None
    await _check_endpoint(
        str(client.meta.endpoint_url), timeout_s=factory.settings.connect_timeout_s
    )


async def _check_credentials(factory: ClientFactory) -> None:
    try:
        credentials = await factory.session.get_credentials()
        if credentials is not None:
            await credentials.get_frozen_credentials()  # a refresh that fails, fails here
    except BotoCoreError as error:
        raise PreflightFailed("NoCredentials", f"AWS credentials: {error}", fatal=True) from None
    if credentials is None:
        profile = factory.settings.profile
        where = f"profile {profile!r}" if profile else "the environment, the AWS config files"
        raise PreflightFailed(
            "NoCredentials",
            f"no AWS credentials found (looked in {where} and the instance metadata); "
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --profile",
            fatal=True,
        )


async def _check_endpoint(url: str, *, timeout_s: float) -> None:
    """One TCP connection, closed at once: refused, unresolvable or silent is fatal."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)
    try:
        with anyio.fail_after(timeout_s):
            stream = await anyio.connect_tcp(host, port)
        await stream.aclose()
    except (OSError, TimeoutError) as error:
        reason = str(error) or type(error).__name__
        raise PreflightFailed(
            "EndpointUnreachable", f"cannot connect to {url}: {reason}", fatal=True
        ) from None
