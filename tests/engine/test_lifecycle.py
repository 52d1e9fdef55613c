"""The updater's life around its runs: failed starts, cleanup, reads on the one attempt path."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import anyio
import pytest

from chime_bulk import (
    BulkUpdater,
    ErrorKind,
    Failure,
    Journal,
    ListingFailed,
    NullProgress,
    Pacer,
    RunAborted,
    Status,
    Unpaced,
)
from chime_bulk.emulator import Brownout, Emulator, RateLimit

from .conftest import mute_all

pytestmark = pytest.mark.anyio


class _FailingStart(NullProgress):
    """A progress listener whose `on_start` raises, as a buggy listener might."""

    def on_start(self, *, total: int | None) -> None:
        raise RuntimeError("listener broke")


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_run_whose_start_fails_leaves_the_updater_usable(
    emulator: Emulator, tmp_path: Path
) -> None:
    """A journal in a missing folder, then a listener that raises at the start: each run
    fails, and the next run on the same updater still works."""
    meetings = emulator.seed(meetings=1, attendees=3)
    updates = mute_all(meetings)
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, pacing=Unpaced()) as bulk:
        with pytest.raises(FileNotFoundError):
            await bulk.run(updates, journal=tmp_path / "missing" / "run.journal")
        report = await bulk.run(updates)
    assert report.summary.count(Status.SUCCEEDED) == 3
    async with BulkUpdater(
        endpoint_url=emulator.endpoint_url, pacing=Unpaced(), progress=_FailingStart()
    ) as bulk:
        with pytest.raises(RuntimeError, match="listener broke"):
            await bulk.run(updates)
        with pytest.raises(RuntimeError, match="listener broke"):
            await bulk.run(updates)  # the same error again, not "one run at a time"
    assert emulator.requests[3:] == []  # the failed starts sent nothing


def test_closing_a_journal_whose_disk_hangs_is_bounded(tmp_path: Path) -> None:
    """A journal flush that hangs (a stuck disk) holds up `aclose` for its bound, not forever."""
    release = threading.Event()

    class StuckJournal(Journal):
        def flush(self) -> None:
            release.wait(timeout=30)
            super().flush()

    journal = StuckJournal.open(tmp_path / "run.journal")

    async def close() -> float:
        started = time.monotonic()
        await journal.aclose(timeout_s=0.2)
        return time.monotonic() - started

    try:
        took = anyio.run(close)
    finally:
        release.set()
    assert took < 5


class _Recorder:
    """A pacer that paces nothing and remembers the feedback it was given."""

    def __init__(self) -> None:
        self.feedback: list[bool] = []

    @property
    def rate(self) -> float:
        return float("inf")

    def reserve(self) -> float:
        return 0.0

    def on_response(self, *, throttled: bool) -> None:
        self.feedback.append(throttled)

    def pause(self) -> None:
        """Nothing to learn from a pause."""

    def resume(self) -> None:
        """Nor from its end."""


class _Recording:
    def __init__(self) -> None:
        self.pacers: list[_Recorder] = []

    def new_pacer(self, *, clock: object) -> Pacer:
        pacer = _Recorder()
        self.pacers.append(pacer)
        return pacer


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def test_a_listing_against_an_endpoint_that_never_answers_aborts_like_a_write() -> None:
    """Reads follow the unreachable-endpoint rule: three refused connections and the listing
    fails as fatal `EndpointUnreachable`; none of them is feedback for the pacer."""
    pacing = _Recording()
    async with BulkUpdater(endpoint_url=_closed_port(), pacing=pacing) as bulk:
        with pytest.raises(ListingFailed) as raised:
            await bulk.list_attendees("11111111-1111-1111-1111-111111111111")
    failure = raised.value.failure
    assert (failure.code, failure.kind) == ("EndpointUnreachable", ErrorKind.FATAL)
    assert [pacer.feedback for pacer in pacing.pacers] == [[]]


async def test_connection_failures_are_not_accepted_by_the_pacer() -> None:
    """Writes that cannot connect give the pacer no feedback at all (they are not accepts)."""
    pacing = _Recording()
    meeting = "11111111-1111-1111-1111-111111111111"
    attendees = [f"{n:08x}-0000-0000-0000-000000000000" for n in range(5)]
    async with BulkUpdater(endpoint_url=_closed_port(), pacing=pacing, max_concurrency=1) as bulk:
        with pytest.raises(RunAborted) as raised:
            await bulk.run(mute_all({meeting: attendees}))
    assert raised.value.error_code == "EndpointUnreachable"
    assert all(pacer.feedback == [] for pacer in pacing.pacers)


async def test_a_listing_during_a_brownout_waits_at_the_gate() -> None:
    """A read made while a run's writes are browning out waits until the gate reopens: it
    reaches the service no sooner than the pause the service asked for (Retry-After)."""
    brownout = Brownout(after_requests=0, duration_s=1.5, retry_after_s=1.0)
    with Emulator(rates={"*": RateLimit(0, 0)}, brownouts=[brownout], seed=4) as emulator:
        meetings = emulator.seed(meetings=1, attendees=40)
        meeting = next(iter(meetings))
        paused = anyio.Event()

        class Watch(NullProgress):
            unavailable = 0

            def on_retry(
                self,
                *,
                meeting_id: str,
                attendee_id: str | None,
                failure: Failure,
                attempt: int,
                delay_s: float,
            ) -> None:
                self.unavailable += failure.kind is ErrorKind.UNAVAILABLE
                if self.unavailable >= 4:  # the gate's threshold: it has closed
                    paused.set()

        listed: list[int] = []
        async with BulkUpdater(
            endpoint_url=emulator.endpoint_url,
            pacing=Unpaced(),
            max_concurrency=8,
            progress=Watch(),
        ) as bulk:

            async def list_when_paused() -> None:
                await paused.wait()
                listed.append(len(await bulk.list_attendees(meeting)))

            async with anyio.create_task_group() as tg:
                tg.start_soon(list_when_paused)
                report = await bulk.run(mute_all(meetings))
        records = emulator.requests
    assert listed == [40]
    assert report.ok
    writes_503 = [r for r in records if r.status == 503]
    first_read = next(r for r in records if r.operation == "ListAttendees")
    # The gate closed at the fourth 503 and stays closed for its Retry-After (1 s).
    assert first_read.time >= writes_503[3].time + brownout.retry_after_s - 0.05
