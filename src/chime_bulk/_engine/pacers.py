"""Where a run's pacers come from: one per account, Region and operation.

An updater asks for the pacer of (Region, operation); the account is the credentials'
access key ID and the endpoint. With a coordinator (Redis), the pacer's bucket and estimate
live there and every process shares them; without one, the process-wide registry hands every
updater of the same account scope the same pacer. Each pacer learns of the run's brownout
pauses (a spell in which nobody may send is not one to measure the quota from).
"""

from __future__ import annotations

from collections.abc import Callable

from .._policy.brownout import BrownoutGate
from .._policy.pacing import Adaptive, Pacer, Pacing
from .._policy.registry import PacerRegistry
from .._policy.scope import QuotaScope
from .._shared.redis_quota import RedisQuotaLink

__all__ = ["PacerSource"]


class PacerSource:
    """The pacers of one updater, kept for its lifetime so a second run starts at the rate
    the first one learned."""

    def __init__(
        self,
        *,
        pacing: Pacing,
        registry: PacerRegistry,
        clock: Callable[[], float],
    ) -> None:
        self._pacing = pacing
        self._registry = registry
        self._clock = clock
        self._pacers: dict[tuple[str | None, str], Pacer] = {}
        self.account: tuple[str | None, str | None] = (None, None)  # access key, endpoint
        self.default_region: str | None = None
        self.link: RedisQuotaLink | None = None
        self.gate: BrownoutGate | None = None  # the current run's, while one is going

    def pacers(self) -> list[Pacer]:
        """Every pacer made so far."""
        return list(self._pacers.values())

    @property
    def rate(self) -> float:
        """The sum of the pacers' rates: what the workers may be asked to keep up with."""
        return sum(pacer.rate for pacer in self._pacers.values())

    def pacer(self, region: str | None, operation: str) -> Pacer:
        key = (region, operation)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = self._new(region, operation)
        if self.gate is not None:
            self.gate.subscribe(pacer)
        return pacer

    def _new(self, region: str | None, operation: str) -> Pacer:
        access_key_id, endpoint_url = self.account
        scope = QuotaScope(
            access_key_id=access_key_id,
            endpoint_url=endpoint_url,
            region=region or self.default_region,
            operation=operation,
        )
        if self.link is not None and isinstance(self._pacing, Adaptive):
            return self.link.pacer(scope, self._pacing, clock=self._clock)
        return self._registry.pacer(scope, self._pacing, clock=self._clock)
