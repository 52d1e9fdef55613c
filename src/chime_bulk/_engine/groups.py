"""A task group whose lone failure surfaces as itself, not wrapped in an exception group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskGroup

__all__ = ["unwrapped_group"]


@asynccontextmanager
async def unwrapped_group() -> AsyncIterator[TaskGroup]:
    """A task group that re-raises a lone failure as itself, not as an exception group.

    The engine's callers expect `RunAborted`, a `TypeError` from a bad plan item or a
    cancellation — not a `BaseExceptionGroup` around one of them.
    """
    try:
        async with anyio.create_task_group() as tg:
            yield tg
    except BaseExceptionGroup as group:
        errors = group.exceptions
        if len(errors) == 1 and not isinstance(errors[0], BaseExceptionGroup):
            raise errors[0] from None
        raise
