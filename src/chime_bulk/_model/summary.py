"""`Summary`: the totals of a run, and how they are counted from its results.

The report's figures are computed here and nowhere else: counts by status, requests,
throttles and retries, the rates, and percentiles of the service's time per request
(`latency_ms`) and of the time a request spent waiting to be sent (`queued_ms`).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from .._io.fields import as_object, check_keys, get_float, get_int, get_str
from .results import AttendeeResult, Status, parse_status

__all__ = ["Summary", "Tally", "Traffic", "iso_utc", "latency_percentiles", "summarize"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Totals for a run. `requests` counts every HTTP attempt, `retried` every attempt
    after an update's first, `throttled` every attempt answered with a throttle.

    `sent` counts the updates that went to the wire (alone or in a batch request);
    `latency_ms` is the service's time per request (its attempts' calls, summed) and
    `queued_ms` the rest of the request's time: waiting for the pacer, the brownout gate and
    backoff. A summary recomputed from results alone (a CSV report) has no `queued_ms`, and
    its `latency_ms` is each sent update's whole `elapsed_s`. Reports written before these
    fields existed read with `sent=None` and `queued_ms={}`.
    """

    total: int
    by_status: dict[str, int]
    requests: int
    throttled: int
    retried: int
    elapsed_s: float
    started_at: str
    finished_at: str
    latency_ms: dict[str, float] = field(default_factory=dict)
    queued_ms: dict[str, float] = field(default_factory=dict)
    sent: int | None = None
    # The circuit breaker, when it tripped: `{"pauses": n, "sick_s": x}` (absent otherwise,
    # and in reports written before it existed).
    circuit: dict[str, float] | None = None

    @property
    def updates_per_s(self) -> float | None:
        """Updates that went to the wire per second of the run (None when unknown)."""
        if self.sent is None or self.elapsed_s <= 0:
            return None
        return self.sent / self.elapsed_s

    @property
    def requests_per_s(self) -> float | None:
        """Requests (every attempt) per second of the run (None for a run without time)."""
        if self.elapsed_s <= 0:
            return None
        return self.requests / self.elapsed_s

    def count(self, status: Status | str) -> int:
        """How many results ended with `status` (0 when none did)."""
        return self.by_status.get(Status(status).value, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_status": dict(self.by_status),
            "requests": self.requests,
            "throttled": self.throttled,
            "retried": self.retried,
            "elapsed_s": self.elapsed_s,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "latency_ms": dict(self.latency_ms),
            "queued_ms": dict(self.queued_ms),
            "sent": self.sent,
        } | ({"circuit": dict(self.circuit)} if self.circuit is not None else {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        """The inverse of `to_dict` (`latency_ms`, `queued_ms`, `sent` and `circuit` may be
        absent, as in older reports); a `ValueError` names a gap."""
        required = tuple(key for key in _SUMMARY_KEYS if key not in _OPTIONAL_KEYS)
        check_keys(data, allowed=_SUMMARY_KEYS, required=required)
        return cls(
            total=get_int(data, "total"),
            by_status=_get_counts(data, "by_status"),
            requests=get_int(data, "requests"),
            throttled=get_int(data, "throttled"),
            retried=get_int(data, "retried"),
            elapsed_s=get_float(data, "elapsed_s"),
            started_at=get_str(data, "started_at"),
            finished_at=get_str(data, "finished_at"),
            latency_ms=_get_latencies(data, "latency_ms"),
            queued_ms=_get_latencies(data, "queued_ms"),
            sent=None if data.get("sent") is None else get_int(data, "sent"),
            circuit=_get_latencies(data, "circuit") if "circuit" in data else None,
        )


_SUMMARY_KEYS: Final = tuple(Summary.__dataclass_fields__)
_OPTIONAL_KEYS: Final = ("latency_ms", "queued_ms", "sent", "circuit")


def _get_counts(data: Mapping[str, Any], key: str) -> dict[str, int]:
    counts = as_object(data.get(key))
    for status in counts:
        parse_status(status)
        get_int(counts, status)
    return dict(counts)


def _get_latencies(data: Mapping[str, Any], key: str) -> dict[str, float]:
    latencies = as_object(data.get(key, {}))
    return {name: get_float(latencies, name) for name in latencies}


@dataclass(slots=True, kw_only=True)
class Traffic:
    """Requests a run sent, as its sender counted them (one batch request serves many
    results, so these cannot be summed from the results), and each request's time in the
    service and waiting to be sent (seconds; 8 bytes each, the percentiles need them all)."""

    requests: int = 0
    throttled: int = 0
    retried: int = 0
    circuit_pauses: int = 0  # times the circuit breaker paused the run
    sick_s: float = 0.0  # how long the service was counted sick
    service_s: array[float] = field(default_factory=lambda: array("d"))
    queued_s: array[float] = field(default_factory=lambda: array("d"))

    def timed(self, *, service_s: float, queued_s: float) -> None:
        """One request that reached the wire is over: how long the service took, and how
        long it waited (pacer, gate, backoff) besides."""
        self.service_s.append(service_s)
        self.queued_s.append(queued_s)


class Tally:
    """Running totals of results: what a `Summary` needs, without keeping the results."""

    def __init__(self) -> None:
        self.counts: Counter[Status] = Counter()
        self.requests = 0
        self.throttled = 0
        self.retried = 0
        self.sent = 0
        # 8 bytes per sent update: the percentiles need every latency.
        self.latencies = array("d")

    def add(self, result: AttendeeResult) -> None:
        self.counts[result.status] += 1
        self.requests += result.attempts
        self.throttled += result.throttled
        self.retried += max(result.attempts - 1, 0)
        if result.attempts > 0:  # nothing sent, no latency to speak of
            self.sent += 1
            self.latencies.append(result.elapsed_s)

    def summary(
        self,
        *,
        started_at: str,
        finished_at: str,
        elapsed_s: float,
        traffic: Traffic | None = None,
    ) -> Summary:
        """The totals so far; `traffic`, when the sender counted requests, replaces the sums
        (and its timings the latencies of results)."""
        counted = traffic or Traffic(
            requests=self.requests, throttled=self.throttled, retried=self.retried
        )
        timed = traffic is not None
        return Summary(
            total=self.counts.total(),
            by_status={
                status.value: self.counts[status] for status in Status if self.counts[status]
            },
            requests=counted.requests,
            throttled=counted.throttled,
            retried=counted.retried,
            elapsed_s=elapsed_s,
            started_at=started_at,
            finished_at=finished_at,
            latency_ms=latency_percentiles(counted.service_s if timed else self.latencies),
            queued_ms=latency_percentiles(counted.queued_s) if timed else {},
            sent=self.sent,
            circuit=(
                {"pauses": counted.circuit_pauses, "sick_s": round(counted.sick_s, 3)}
                if counted.circuit_pauses
                else None
            ),
        )


def summarize(
    results: Iterable[AttendeeResult], *, started_at: str, finished_at: str, elapsed_s: float
) -> Summary:
    """The `Summary` of `results`: counts, attempts and latency percentiles.

    `latency_ms` covers the results that sent at least one request, each with its whole
    `elapsed_s` (results do not say how much of it was waiting); `queued_ms` is empty.
    """
    tally = Tally()
    for result in results:
        tally.add(result)
    return tally.summary(started_at=started_at, finished_at=finished_at, elapsed_s=elapsed_s)


def latency_percentiles(elapsed: Iterable[float]) -> dict[str, float]:
    """p50/p90/p99/max of `elapsed` (seconds) in milliseconds, nearest-rank; `{}` if empty."""
    values = sorted(elapsed)
    if not values:
        return {}

    def rank(p: int) -> float:
        return round(values[max(math.ceil(p / 100 * len(values)) - 1, 0)] * 1000, 3)

    return {"p50": rank(50), "p90": rank(90), "p99": rank(99), "max": rank(100)}


def iso_utc(moment: datetime) -> str:
    """`moment` as ISO-8601 UTC to the second with a `Z` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
