"""Runs that end early — fatal errors, deadlines, cancellation — still account for everything."""

from __future__ import annotations

import socket
from pathlib import Path

import anyio
import pytest

from chime_bulk import (
    AttendeeResult,
    BulkUpdater,
    FixedRate,
    NullProgress,
    RunAborted,
    Status,
    Unpaced,
    Update,
    load_journal,
)
from chime_bulk.emulator import Emulator, Faults

from .conftest import MUTE_VIDEO, mute_all

pytestmark = pytest.mark.anyio


async def test_auth_failure_aborts_with_a_complete_report(emulator: Emulator) -> None:
    """A 401 stops the run after at most max_concurrency requests; the report has every update,
    the ones that met the error `failed`, all others `cancelled`."""
    meetings = emulator.seed(meetings=2, attendees=150)
    emulator.set_faults(Faults(unauthorized=True))
    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url, pacing=Unpaced(), max_concurrency=8
    ) as bulk:
        with pytest.raises(RunAborted) as raised:
            await bulk.run(mute_all(meetings))
    report = raised.value.report
    assert raised.value.error_code == "UnauthorizedException"
    assert len(report.results) == 300
    assert 1 <= len(emulator.requests) <= 8
    failed = [r for r in report.results if r.status is Status.FAILED]
    assert 1 <= len(failed) <= 8
    assert all(r.error_code == "UnauthorizedException" for r in failed)
    assert report.summary.by_status["cancelled"] == 300 - len(failed)


async def test_missing_credentials_abort_before_anything_is_sent(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without credentials nothing reaches the service and the run aborts."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    meetings = emulator.seed(meetings=1, attendees=20)
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        with pytest.raises(RunAborted) as raised:
            await bulk.run(mute_all(meetings))
    assert raised.value.error_code == "NoCredentialsError"
    assert emulator.requests == []
    assert len(raised.value.report.results) == 20


async def test_deadline_returns_a_complete_report(emulator: Emulator) -> None:
    """Over real HTTP too, when the deadline passes run() returns every update: the ones sent
    succeeded, the rest cancelled. (The exact counts, and grace, are checked on the fake in
    test_timing.py.)"""
    meetings = emulator.seed(meetings=1, attendees=100)
    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url, pacing=FixedRate(rate=50), deadline=0.3
    ) as bulk:
        report = await bulk.run(mute_all(meetings))
    assert len(report.results) == 100
    assert set(report.summary.by_status) == {"succeeded", "cancelled"}
    sent = {(r.meeting_id, r.attendee_id) for r in emulator.requests}
    for result in report.results:
        assert ((result.meeting_id, result.attendee_id) in sent) == (
            result.status is Status.SUCCEEDED
        )


async def test_request_stop_lets_requests_in_flight_finish(emulator: Emulator) -> None:
    """request_stop() sends nothing new; what was in flight finishes; the rest is cancelled."""
    meetings = emulator.seed(meetings=1, attendees=100)
    emulator.set_faults(Faults(latency_ms=200))

    class StopAtFirstResult(NullProgress):
        """Stops the run when the first result arrives: the rest of its wave is in flight."""

        def on_result(self, result: AttendeeResult) -> None:
            bulk.request_stop(grace_s=5)

    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url,
        pacing=Unpaced(),
        max_concurrency=4,
        progress=StopAtFirstResult(),
    ) as bulk:
        report = await bulk.run(mute_all(meetings))
    succeeded = report.summary.by_status.get("succeeded", 0)
    assert 1 <= succeeded <= 4  # the first wave, and no second one
    assert report.summary.by_status.get("cancelled", 0) == 100 - succeeded
    # Every request that was sent finished and was answered: none was cut off.
    assert [r.status for r in emulator.requests] == [200] * succeeded


async def test_outside_cancellation_propagates_after_the_journal_is_flushed(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Cancelling run() from outside (here when the tenth result arrives) raises cancellation
    (never swallowed), and the journal already holds every result that finished."""
    meetings = emulator.seed(meetings=1, attendees=200)
    journal = tmp_path / "run.journal"
    outside = anyio.CancelScope()
    finished: list[AttendeeResult] = []

    class CancelAtTheTenthResult(NullProgress):
        def on_result(self, result: AttendeeResult) -> None:
            finished.append(result)
            if len(finished) == 10:
                outside.cancel()

    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url,
        pacing=FixedRate(rate=100),
        journal=journal,
        progress=CancelAtTheTenthResult(),
    ) as bulk:
        with outside:
            await bulk.run(mute_all(meetings))
            pytest.fail("run() returned although it was cancelled")
    assert outside.cancelled_caught
    done = load_journal(journal)
    assert len(done) >= 10
    assert set(done) == {(r.meeting_id, r.attendee_id) for r in finished}
    assert all(result.status is Status.SUCCEEDED for result in done.values())
    assert set(done) <= {(r.meeting_id, r.attendee_id) for r in emulator.requests}


async def test_stream_yields_each_result_once(emulator: Emulator) -> None:
    """stream() yields one result per update as they finish."""
    meetings = emulator.seed(meetings=2, attendees=50)
    updates = mute_all(meetings)
    async with (
        BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk,
        bulk.stream(updates) as results,
    ):
        seen = [(result.meeting_id, result.attendee_id) async for result in results]
    assert sorted(seen) == sorted(update.key for update in updates)


async def test_stream_abort_yields_cancelled_results_then_raises(emulator: Emulator) -> None:
    """A fatal error in stream(): every update is still yielded, then RunAborted is raised."""
    meetings = emulator.seed(meetings=1, attendees=40)
    emulator.set_faults(Faults(unauthorized=True))
    statuses: list[Status] = []
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        with pytest.raises(RunAborted) as raised:
            async with bulk.stream(mute_all(meetings)) as results:
                statuses.extend([result.status async for result in results])
    assert len(statuses) == 40
    assert Status.CANCELLED in statuses
    assert raised.value.report.summary.total == 40
    assert [r.status for r in raised.value.report.results] == [Status.FAILED]


async def test_breaking_out_of_a_stream_stops_the_run(emulator: Emulator) -> None:
    """Leaving stream() early stops sending: far fewer requests than updates."""
    meetings = emulator.seed(meetings=2, attendees=200)
    async with (
        BulkUpdater(
            endpoint_url=emulator.endpoint_url, pacing=FixedRate(rate=200), max_concurrency=4
        ) as bulk,
        bulk.stream(mute_all(meetings)) as results,
    ):
        async for _ in results:
            break
    assert len(emulator.requests) < 50


async def test_an_endpoint_that_never_answers_aborts_fast() -> None:
    """A wrong endpoint (nothing listening) aborts the run after a few attempts instead of
    retrying every update to exhaustion."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    updates = [
        Update(
            meeting_id="11111111-1111-1111-1111-111111111111",
            attendee_id=f"{n:08x}-0000-0000-0000-000000000000",
            capabilities=MUTE_VIDEO,
        )
        for n in range(50)
    ]
    async with BulkUpdater(endpoint_url=f"http://127.0.0.1:{port}", pacing=Unpaced()) as bulk:
        with pytest.raises(RunAborted) as raised:
            await bulk.run(updates)
    report = raised.value.report
    assert raised.value.error_code == "EndpointUnreachable"
    assert len(report.results) == 50
    assert report.summary.requests <= 16 + 3
