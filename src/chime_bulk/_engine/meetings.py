"""Meetings that ended during a run: found out once, then not written to again.

An `UpdateAttendeeCapabilities` answered 404 `NotFoundException` means the attendee *or* its
meeting is gone, and the service's documentation does not promise a message that tells which.
`GetMeeting` does: it is 404 only when the meeting itself is gone (deleted, ended, or created
in another control Region). So the first attendee-level 404 of a meeting sends one
`GetMeeting`; when that is 404 too, every later update of the meeting is `not_found` without
a request, its message saying why. Probes of one meeting never overlap, and updates of a
meeting whose probe is out wait for its answer instead of adding more 404s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from .._aws.reads import meeting_features
from .._model.errors import ListingFailed
from .._policy.classification import ErrorKind
from .request import Send

__all__ = ["MeetingWatch"]

MeetingKey = tuple[str, str | None]


@dataclass(slots=True, eq=False)
class _Probe:
    started: float
    done: anyio.Event = field(default_factory=anyio.Event)


class MeetingWatch:
    """One run's knowledge of which meetings are gone."""

    def __init__(
        self, *, read: Send, clock: Callable[[], float], default_region: str | None
    ) -> None:
        self._read = read
        self._clock = clock
        self._default_region = default_region
        self._gone: dict[MeetingKey, str] = {}
        self._probes: dict[MeetingKey, _Probe] = {}  # the latest probe of each meeting

    async def gone(self, meeting_id: str, region: str | None) -> str | None:
        """Why the meeting is known to be gone (None: it is not), after any probe of it that
        is out has been answered."""
        key = (meeting_id, region)
        probe = self._probes.get(key)
        if probe is not None and not probe.done.is_set():
            await probe.done.wait()
        return self._gone.get(key)

    async def check(self, meeting_id: str, region: str | None, *, sent_at: float) -> str | None:
        """An attendee of the meeting was not found by a request sent at `sent_at`: is the
        meeting itself gone? One `GetMeeting`, unless a probe started after that request
        already answered (or is answering) the question."""
        key = (meeting_id, region)
        probe = self._probes.get(key)
        if key in self._gone or (probe is not None and probe.started >= sent_at):
            return await self.gone(meeting_id, region)
        if probe is not None and not probe.done.is_set():
            await probe.done.wait()  # one probe at a time per meeting
            return await self.check(meeting_id, region, sent_at=sent_at)
        self._probes[key] = probe = _Probe(started=self._clock())
        try:
            await meeting_features(self._read, meeting_id=meeting_id, region=region)
        except ListingFailed as error:
            if error.failure.kind is ErrorKind.NOT_FOUND:
                self._gone[key] = self._why(meeting_id, region)
        finally:
            probe.done.set()
        return self._gone.get(key)

    def _why(self, meeting_id: str, region: str | None) -> str:
        where = region or self._default_region or "the default Region"
        return (
            f"meeting {meeting_id} not found in Region {where} (GetMeeting: 404): it was "
            "deleted or has ended, or it was created in another control Region (check --region)"
        )
