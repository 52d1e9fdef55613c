"""One pacer per quota in a process: every `BulkUpdater` that reaches the same account,
Region and operation (a `QuotaScope`) with the same pacing settings and clock shares one
pacer, and so one bucket and one learned rate.

Two updaters pacing the same quota on their own would each think the whole quota theirs and
together send twice it. Sharing also means a second updater starts at the rate the first one
learned, not at the documented default.

Pacers are shared within one event loop: a clock's readings mean nothing in another loop
(trio's clock has a random offset per run), so two `anyio.run`s in a row get pacers of their
own.

The registry holds its pacers weakly: a pacer lives as long as some updater holds it, so a
long-lived process does not collect one pacer per credential it ever used.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable

import anyio.lowlevel

from .pacing import Clock, Pacer, Pacing
from .scope import QuotaScope

__all__ = ["PacerRegistry", "shared_pacers"]


class PacerRegistry:
    """Pacers by (scope, pacing settings, clock), held weakly."""

    def __init__(self) -> None:
        self._pacers: weakref.WeakValueDictionary[Hashable, Pacer] = weakref.WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._pacers)

    def pacer(self, scope: QuotaScope, pacing: Pacing, *, clock: Clock) -> Pacer:
        """The pacer for `scope`, made by `pacing` if nobody holds one."""
        key = (scope, pacing, clock, _event_loop())
        try:
            hash(key)
        except TypeError:
            # A pacing strategy of the caller's own that is not a frozen value: it cannot be
            # recognised as "the same settings", so its pacer is not shared.
            return pacing.new_pacer(clock=clock)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = pacing.new_pacer(clock=clock)
            self._pacers[key] = pacer
        return pacer


def _event_loop() -> object:
    """Which event loop is running (None outside one)."""
    try:
        return anyio.lowlevel.current_token()
    except RuntimeError:
        return None


#: The process's registry: what `BulkUpdater` uses unless told otherwise.
shared_pacers = PacerRegistry()
