"""Turn one contender's raw record (client log, server log, outcomes) into numbers."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .emulator_process import ServerStats
from .instrument import NO_RESPONSE, PacerTrace, RequestLog

__all__ = ["outcome_counts", "pacer_summary", "per_second", "status_counts", "throttle_timing"]


def status_counts(log: RequestLog) -> dict[str, int]:
    """Client-side attempts by HTTP status ("0" = no response)."""
    counts = Counter(str(status) for _, status, _ in log.done)
    return dict(sorted(counts.items()))


def outcome_counts(outcomes: dict[tuple[str, str], str | None], total: int) -> dict[str, Any]:
    failed = Counter(code for code in outcomes.values() if code is not None)
    unfinished = total - len(outcomes)
    if unfinished:
        failed["unfinished (timeout)"] += unfinished
    return {"failures": sum(failed.values()), "failure_codes": dict(failed.most_common())}


def _bins(times: Sequence[float], start: float, seconds: int) -> list[int]:
    counts = [0] * seconds
    for moment in times:
        index = math.floor(moment - start)
        if 0 <= index < seconds:
            counts[index] += 1
    return counts


def per_second(
    *,
    start: float,
    wall_s: float,
    log: RequestLog,
    server: ServerStats | None,
    pacer: PacerTrace | None,
) -> list[dict[str, Any]]:
    """One row per second of the run: what was sent, and what came back."""
    seconds = max(1, math.ceil(wall_s))
    sent = _bins(log.sent, start, seconds)
    by_status: dict[int, list[int]] = {}
    for status in (200, 429, 503, 500, NO_RESPONSE):
        by_status[status] = _bins(
            [moment for moment, got, _ in log.done if got == status], start, seconds
        )
    accepted_server = throttled_server = None
    if server is not None:
        accepted_server = _bins(
            [t for t, s in zip(server.write_times, server.write_statuses, strict=True) if s == 200],
            start,
            seconds,
        )
        throttled_server = _bins(
            [t for t, s in zip(server.write_times, server.write_statuses, strict=True) if s == 429],
            start,
            seconds,
        )
    rates: list[float | None] = [None] * seconds
    if pacer is not None:
        for moment, rate in pacer.samples:
            index = math.floor(moment - start)
            if 0 <= index < seconds:
                rates[index] = rate  # the last sample of that second
    rows = []
    for second in range(seconds):
        row: dict[str, Any] = {
            "t": second,
            "sent": sent[second],
            "ok": by_status[200][second],
            "429": by_status[429][second],
            "503": by_status[503][second],
            "500": by_status[500][second],
            "no_response": by_status[NO_RESPONSE][second],
        }
        if accepted_server is not None and throttled_server is not None:
            row["server_ok"] = accepted_server[second]
            row["server_429"] = throttled_server[second]
        if pacer is not None:
            sampled = rates[second]
            row["pacer_rate"] = None if sampled is None else round(sampled, 1)
        rows.append(row)
    return rows


def _admitted(row: dict[str, Any]) -> int:
    # Every request that was not throttled took a token from the service's bucket: the
    # emulator meters before it injects 503s and 500s.
    return int(row["ok"] + row["503"] + row["500"])


def throttle_timing(
    rows: list[dict[str, Any]],
    *,
    quota: float,
    burst: float,
    ideal_s: float,
    wall_s: float,
    start: float,
    log: RequestLog,
    complete: bool,
) -> dict[str, Any]:
    """When the run reached the quota, where its 429s fell, and where the time went.

    `wall_s` is split into: the ideal for the requests that consumed tokens (faulted ones
    included: the ideal of the issue counts only the N updates), capacity left unused in
    the first 3 s (ramp up), the tail after the steady stream of sends ended (retries
    waiting out backoff or Retry-After), and the rest (steady state below the quota).
    Only for a run that completed every update (`complete`): otherwise it is None.
    """
    first_429 = next((t - start for t, status, _ in log.done if status == 429), None)
    full = [row for row in rows if row["t"] < math.floor(wall_s)]
    sustained = next(
        (
            row["t"]
            for i, row in enumerate(full)
            if all(_admitted(later) >= 0.9 * quota for later in full[i:-1] or [row])
        ),
        None,
    )
    throttles = [row["429"] for row in rows]
    admitted = sum(_admitted(row) for row in rows)
    with_faults = (admitted - burst) / quota
    ramp_unused = max(0.0, burst + 3 * quota - sum(_admitted(row) for row in rows[:3]))
    # The steady stream ends at the last send with at least half the run's own typical
    # per-second send count in the second before it (a contender metered below the quota is
    # judged by its own pace, not the quota's).
    typical = statistics.median([row["sent"] for row in full]) if full else 0.0
    sends = sorted(moment - start for moment in log.sent)
    stream_end = 0.0
    window = 0
    for index, moment in enumerate(sends):
        while sends[window] < moment - 1.0:
            window += 1
        if index - window + 1 >= 0.5 * typical:
            stream_end = moment
    tail = max(0.0, wall_s - stream_end)
    ramp = ramp_unused / quota
    return {
        "first_429_s": None if first_429 is None else round(first_429, 2),
        "sustained_90pct_quota_from_s": sustained,
        "429_first_10s": sum(throttles[:10]),
        "429_after_10s": sum(throttles[10:]),
        "seconds_with_429": sum(1 for count in throttles if count),
        "where_the_time_went_s": {
            "ideal": round(ideal_s, 2),
            "tokens_used_by_faulted_requests": round(with_faults - ideal_s, 2),
            "ramp_up_unused_first_3s": round(ramp, 2),
            "tail_after_stream": round(tail, 2),
            "rest_steady_state": round(wall_s - with_faults - ramp - tail, 2),
        }
        if complete
        else None,
    }


def pacer_summary(trace: PacerTrace, *, start: float) -> dict[str, Any]:
    return {
        "backoffs": [
            {"t": round(moment - start, 2), "from": round(before, 1), "to": round(after, 1)}
            for moment, before, after in trace.backoffs
        ],
        # A backoff's "before" is a rate the 0.25 s samples may have missed.
        "peak_rate": round(
            max(
                [rate for _, rate in trace.samples] + [before for _, before, _ in trace.backoffs],
                default=math.nan,
            ),
            1,
        ),
        "final_rate": round(trace.samples[-1][1], 1) if trace.samples else None,
    }
