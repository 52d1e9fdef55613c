"""Plan intake: the caller's updates, pulled by whichever worker is free, each numbered.

Workers take the next item only when they are free, so memory is bounded by the
concurrency, not by the plan. An item is an `Update` to send, a `BatchExcept` (one request
for many attendees: it takes one index per member) or a result decided before the run
(`unchanged`, `excluded`), which goes to the report as it is.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sized,
)
from typing import Final

import anyio

from .._model.results import AttendeeResult
from .._model.update import BatchExcept, Update

__all__ = ["Item", "Items", "PlanIntake", "check_items", "total_of", "width"]

#: What a run takes.
Item = Update | BatchExcept | AttendeeResult
Items = Iterable[Item] | AsyncIterable[Item]

_END: Final = object()


def check_items(updates: object) -> None:
    """Refuse, at the door, inputs that iterate but are not a plan (a mapping, a string)."""
    if isinstance(updates, str | bytes | Mapping):
        raise TypeError(
            f"updates must be an iterable of Update, not {type(updates).__name__}; "
            "e.g. [Update(meeting_id=..., attendee_id=..., capabilities=...)]"
        )
    if not isinstance(updates, Iterable | AsyncIterable):
        raise TypeError(f"updates must be an iterable of Update, not {type(updates).__name__}")


def _checked(item: object, index: int) -> Item:
    if not isinstance(item, Update | BatchExcept | AttendeeResult):
        raise TypeError(
            f"update {index} of the plan is a {type(item).__name__}, not an Update; "
            "build each with Update(meeting_id=..., attendee_id=..., capabilities=...)"
        )
    return item


def width(item: Item) -> int:
    """How many results an item becomes."""
    return len(item.members) if isinstance(item, BatchExcept) else 1


def total_of(updates: Items) -> int | None:
    """How many results a plan becomes, when that can be known without consuming it."""
    if isinstance(updates, Collection):
        return sum(width(item) for item in updates)
    if isinstance(updates, Sized):  # sized but not walked twice (a plan read from disk)
        return len(updates)
    return None


class PlanIntake:
    """Hands out the plan's items with the index of their first result.

    `fed` is the number of result indexes handed out so far: the run's total once the plan is
    drained.
    """

    def __init__(self, updates: Items) -> None:
        self.fed = 0
        self._sync: Iterator[object] | None = None
        self._async: AsyncIterator[object] | None = None
        if isinstance(updates, AsyncIterable):
            self._async = aiter(updates)
        else:
            self._sync = iter(updates)
        self._lock = anyio.Lock()  # an async iterator must not be advanced by two at once

    def allocate(self, count: int) -> int:
        """Indexes for `count` results the plan did not foresee (attendees who joined during
        a state-aware run); the first of them."""
        first = self.fed
        self.fed += count
        return first

    async def next(self) -> tuple[int, Item] | None:
        if self._sync is not None:
            raw = next(self._sync, _END)  # no await: no other worker can interleave
        else:
            assert self._async is not None
            async with self._lock:
                raw = await anext(self._async, _END)
        if raw is _END:
            return None
        index = self.fed
        item = _checked(raw, index)
        self.fed += width(item)
        return index, item
