"""Whose quota a request draws on: the scope that pacers are shared by.

The service meters each account, Region and operation with its own token bucket. A client
cannot see its account number without an extra call, so chime-bulk names the account by what
it has in hand: the access key ID of the credentials it signs with, and the endpoint it sends
to (an emulator or a proxy is a different "account" from AWS itself). Two runs with the same
key, endpoint, Region and operation draw on one quota, so they share one pacer. Two keys of
one account are (wrongly, but safely) kept apart: each pacer then learns its share from the
throttles it meets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["QuotaScope"]

#: What stands for "the AWS default endpoint of the Region".
DEFAULT_ENDPOINT = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaScope:
    """One account (access key and endpoint), Region and operation."""

    access_key_id: str | None
    endpoint_url: str | None
    region: str | None
    operation: str

    def fingerprint(self) -> str:
        """A stable name for the scope that does not spell out the access key ID (for keys
        in a shared store that other people may read)."""
        account = f"{self.access_key_id or '-'}\x00{self.endpoint_url or DEFAULT_ENDPOINT}"
        digest = hashlib.sha256(account.encode()).hexdigest()[:16]
        return f"{digest}:{self.region or '-'}:{self.operation}"
