"""Progress is an observer: the engine tells listeners what happened and never asks back."""

from __future__ import annotations

from typing import Protocol

from ._model.results import AttendeeResult
from ._model.summary import Summary
from ._policy.classification import Failure

__all__ = ["FanOut", "NullProgress", "ProgressListener"]


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


class FanOut:
    """Hands each event to several listeners, in order."""

    def __init__(self, *listeners: ProgressListener) -> None:
        self._listeners = listeners

    def on_start(self, *, total: int | None) -> None:
        for listener in self._listeners:
            listener.on_start(total=total)

    def on_retry(
        self,
        *,
        meeting_id: str,
        attendee_id: str | None,
        failure: Failure,
        attempt: int,
        delay_s: float,
    ) -> None:
        for listener in self._listeners:
            listener.on_retry(
                meeting_id=meeting_id,
                attendee_id=attendee_id,
                failure=failure,
                attempt=attempt,
                delay_s=delay_s,
            )

    def on_result(self, result: AttendeeResult) -> None:
        for listener in self._listeners:
            listener.on_result(result)

    def on_finish(self, summary: Summary) -> None:
        for listener in self._listeners:
            listener.on_finish(summary)
