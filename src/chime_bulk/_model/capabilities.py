"""The capability model: what an attendee may send and receive, and the service's rules for it.

`Media` is one direction-set for one kind of media; `Capabilities` is the triple the API takes
(audio, video, content). `capability_problems` is the one place that knows which triples the
service rejects, so the engine can mark an update `invalid` before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

__all__ = ["Capabilities", "Media", "MeetingFeatures", "capability_problems"]


class Media(StrEnum):
    """One attendee capability value, spelled exactly as the API spells it."""

    SEND_RECEIVE = "SendReceive"
    SEND = "Send"
    RECEIVE = "Receive"
    NONE = "None"

    @property
    def can_send(self) -> bool:
        return self in (Media.SEND_RECEIVE, Media.SEND)

    @property
    def can_receive(self) -> bool:
        return self in (Media.SEND_RECEIVE, Media.RECEIVE)

    def without_send(self) -> Media:
        """The same value with sending taken away (what "mute" means)."""
        return _from_directions(send=False, receive=self.can_receive)

    def with_send(self) -> Media:
        """The same value with sending allowed (what "unmute" means)."""
        return _from_directions(send=True, receive=self.can_receive)

    @classmethod
    def parse(cls, value: Media | str) -> Media:
        """`value` as a `Media`; a `ValueError` naming the allowed values otherwise."""
        if isinstance(value, Media):
            return value
        try:
            return cls(value)
        except ValueError:
            allowed = " | ".join(m.value for m in cls)
            raise ValueError(f"{value!r} is not a capability (expected {allowed})") from None


def _from_directions(*, send: bool, receive: bool) -> Media:
    if send:
        return Media.SEND_RECEIVE if receive else Media.SEND
    return Media.RECEIVE if receive else Media.NONE


_API_KEYS: Final = ("Audio", "Video", "Content")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """An attendee's audio, video and content capabilities.

    Accepts `Media` members or the API's strings; only a value that is not a capability at all
    raises `ValueError`. Whether the combination is allowed is `capability_problems`' job.
    `Capabilities.of` converts a tuple or the API's mapping explicitly.

    >>> Capabilities("SendReceive", "Receive", "None").to_api()
    {'Audio': 'SendReceive', 'Video': 'Receive', 'Content': 'None'}
    >>> Capabilities.of(("SendReceive", "Receive", "None")) == Capabilities.of(
    ...     {"Audio": "SendReceive", "Video": "Receive", "Content": "None"})
    True
    """

    audio: Media
    video: Media
    content: Media

    def __init__(self, audio: Media | str, video: Media | str, content: Media | str) -> None:
        object.__setattr__(self, "audio", Media.parse(audio))
        object.__setattr__(self, "video", Media.parse(video))
        object.__setattr__(self, "content", Media.parse(content))

    @classmethod
    def of(cls, value: Capabilities | Mapping[str, Any] | Sequence[Media | str]) -> Capabilities:
        """`value` as `Capabilities`: itself, the API's `{"Audio", "Video", "Content"}`
        mapping, or an (audio, video, content) tuple or list. Anything else is a `TypeError`
        (a bad value inside is a `ValueError`, as for the constructor)."""
        if isinstance(value, Capabilities):
            return value
        if isinstance(value, Mapping):
            return cls.from_api(value)
        if isinstance(value, Sequence) and not isinstance(value, str):
            if len(value) != 3:
                raise ValueError(
                    f"capabilities need 3 values (audio, video, content), got {len(value)}"
                )
            audio, video, content = value
            return cls(audio, video, content)
        raise TypeError(
            f"cannot make Capabilities from {type(value).__name__} {value!r}; give "
            "Capabilities(audio, video, content), an (audio, video, content) tuple or the "
            'API\'s {"Audio": …, "Video": …, "Content": …} mapping'
        )

    def to_api(self) -> dict[str, str]:
        return {"Audio": self.audio.value, "Video": self.video.value, "Content": self.content.value}

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Capabilities:
        """From the API's `{"Audio":…, "Video":…, "Content":…}`; a `ValueError` names a gap."""
        unknown = sorted(set(data) - set(_API_KEYS))
        if unknown:
            raise ValueError(f"unknown capability key(s) {unknown}; expected {list(_API_KEYS)}")
        missing = [key for key in _API_KEYS if key not in data]
        if missing:
            raise ValueError(f"missing capability key(s) {missing}")
        return cls(data["Audio"], data["Video"], data["Content"])

    def __str__(self) -> str:
        return f"audio={self.audio} video={self.video} content={self.content}"


@dataclass(frozen=True, slots=True, kw_only=True)
class MeetingFeatures:
    """The parts of a meeting's `MeetingFeatures` that constrain capabilities.

    `None` for a resolution means the meeting was created without that media; any other
    value (or not knowing) imposes nothing.
    """

    video_max_resolution: str | None = None
    content_max_resolution: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any] | None) -> MeetingFeatures:
        data = data or {}
        return cls(
            video_max_resolution=(data.get("Video") or {}).get("MaxResolution"),
            content_max_resolution=(data.get("Content") or {}).get("MaxResolution"),
        )


def capability_problems(
    capabilities: Capabilities, *, features: MeetingFeatures | None = None
) -> list[str]:
    """Every reason the service would reject `capabilities` with 400; empty when it is allowed.

    The rules come from the UpdateAttendeeCapabilities documentation: content that can be
    received needs video that can be received, and a meeting created with
    `MaxResolution: None` for video or content accepts only `None` for it.
    """
    problems: list[str] = []
    if capabilities.content.can_receive and not capabilities.video.can_receive:
        problems.append(
            f"Content {capabilities.content} requires Video SendReceive or Receive "
            f"(got Video {capabilities.video})"
        )
    if features is not None:
        if features.video_max_resolution == "None" and capabilities.video is not Media.NONE:
            problems.append(
                f"the meeting has no video (MaxResolution None), so Video must be None "
                f"(got {capabilities.video})"
            )
        if features.content_max_resolution == "None" and capabilities.content is not Media.NONE:
            problems.append(
                f"the meeting has no content sharing (MaxResolution None), so Content must be "
                f"None (got {capabilities.content})"
            )
    return problems
