"""Progress is an observer: the engine tells listeners what happened and never asks back."""

from __future__ import annotations

from typing import Protocol

from .classification import Failure
from .report import AttendeeResult, Summary

__all__ = ["NullProgress", "ProgressListener"]


class ProgressListener(Protocol):
    """Receives a run's events. Calls come from the event loop: keep them quick."""

    def on_start(self, *, total: int | None) -> None:
        """The run starts; `total` is known when the updates were a sized collection."""

    def on_retry(
        self,
        *,
        meeting_id: str,
        attendee_id: str | None,
        failure: Failure,
        attempt: int,
        delay_s: float,
    ) -> None:
        """An attempt failed and will be retried after `delay_s` (`attendee_id` is None for a
        request that covers a whole meeting)."""

    def on_result(self, result: AttendeeResult) -> None:
        """One update is final."""

    def on_finish(self, summary: Summary) -> None:
        """The run is over."""


class NullProgress:
    """The default listener: does nothing."""

    def on_start(self, *, total: int | None) -> None:
        pass

    def on_retry(
        self,
        *,
        meeting_id: str,
        attendee_id: str | None,
        failure: Failure,
        attempt: int,
        delay_s: float,
    ) -> None:
        pass

    def on_result(self, result: AttendeeResult) -> None:
        pass

    def on_finish(self, summary: Summary) -> None:
        pass
