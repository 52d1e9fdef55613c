"""`Emulator`: the aiohttp server in a background thread, plus its Python API for tests.

The server runs on its own thread and event loop, so one `Emulator` serves sync tests
(`with`), asyncio and trio tests (`async with`) and the CLI alike. The Python API (seeding,
ground truth, the request log, faults and rates) is thread-safe and may be used while the
server runs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn, ParamSpec, Self

import anyio
import anyio.to_thread
from aiohttp import web

from .admin import handle_admin
from .config import FaultConfig
from .errors import EmulatorError
from .faults import Brownout, FaultInjector, Faults
from .handlers import MEDIA_REGIONS, create_meeting
from .model import check_shape
from .pipeline import Pipeline
from .quota import Quota, RateLimit
from .state import RequestRecord, Store
from .validation import default_capabilities, parse_capabilities
from .wire import ServiceError

__all__ = ["Emulator", "run_forever", "serve"]

_P = ParamSpec("_P")
_SHUTDOWN_TIMEOUT_S = 2.0
#: About 40 MB of records at most; the admin API and `requests` page through them.
DEFAULT_LOG_LIMIT = 50_000


class Emulator:
    """A local Amazon Chime SDK Meetings endpoint for tests and demos.

    >>> with Emulator(seed=7) as emu:                       # doctest: +SKIP
    ...     ids = emu.seed(meetings=2, attendees=3)
    ...     client = boto3.client("chime-sdk-meetings", endpoint_url=emu.endpoint_url, ...)

    `rates` overrides the per-operation quotas (`{"*": RateLimit(10, 20)}` by default; rate 0
    is unlimited). `faults` and `brownouts` inject failures (see the `faults` module), drawn
    from one `random.Random(seed)`; `seed` also makes meeting and attendee IDs reproducible.
    `clock` drives quotas, brownouts and `RequestRecord.time`. `ready_file`, when given, receives
    `{"endpoint_url", "region", "meetings"}` as JSON once the server listens. The request
    log keeps the last `max_logged_requests` records (`DEFAULT_LOG_LIMIT` by default).

    An error the server meets after start-up (a handler's exception, answered 500) is raised
    from `stop()` (and so from `with`/`async with`) as `EmulatorError`, never lost.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        rates: Mapping[str, RateLimit] | None = None,
        faults: Faults = Faults(),  # noqa: B008 (frozen, so sharing the default is safe)
        brownouts: Iterable[Brownout] = (),
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        ready_file: str | os.PathLike[str] | None = None,
        max_logged_requests: int = DEFAULT_LOG_LIMIT,
    ) -> None:
        self.host = host
        self.region = region
        self._requested_port = port
        self._ready_file = ready_file
        self._store = Store(seed=seed, max_logged_requests=max_logged_requests)
        self._clock = clock
        self._quota = Quota(rates, clock=clock)
        self._faults = FaultInjector(faults, tuple(brownouts), seed=seed)
        self._pipeline = Pipeline(
            store=self._store,
            quota=self._quota,
            faults=self._faults,
            clock=clock,
            on_error=self._record_error,
            admin=functools.partial(handle_admin, self),
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._port: int | None = None
        self._startup_error: BaseException | None = None
        self._serving_error: BaseException | None = None

    def __repr__(self) -> str:
        where = self.endpoint_url if self._port is not None else "not started"
        return f"<Emulator {where} region={self.region}>"

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running; call start() or use `with`")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:PORT`, for `endpoint_url=` of a boto3/aiobotocore client."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Start serving (blocks until the socket listens, a few milliseconds)."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="chime-bulk-emulator", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        if self._ready_file is not None:
            self.write_ready_file(self._ready_file)

    def stop(self) -> None:
        """Stop serving and wait for the server thread to finish; idempotent.

        Raises `EmulatorError` (once) if the server failed while serving.
        """
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and stop_event is not None:
            loop.call_soon_threadsafe(stop_event.set)
        thread.join()
        self._thread = self._loop = self._stop_event = None
        self._port = None
        self.raise_serving_error()

    def raise_serving_error(self) -> None:
        """Raise `EmulatorError` if the server has failed since started (then forget it)."""
        error, self._serving_error = self._serving_error, None
        if error is not None:
            raise EmulatorError(f"the emulator failed while serving: {error!r}") from error

    def _record_error(self, error: BaseException) -> None:
        # Only the first: later ones are usually its consequences.
        if self._serving_error is None:
            self._serving_error = error

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for `boto3.client("chime-sdk-meetings", **kwargs)` (and
        aiobotocore's `create_client`): this endpoint, its Region, dummy credentials."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _stop_keeping(self.stop, exc)

    async def __aenter__(self) -> Self:
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_stop_keeping, self.stop, exc)

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as error:  # re-raised by start() or, once serving, by stop()
            if ready.is_set():
                self._record_error(error)
            else:
                self._startup_error = error
                ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        server = web.Server(self._pipeline, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
            self._port = runner.addresses[0][1]
            with self._store.lock:
                self._faults.mark_started(self._clock())
            ready.set()
            await self._stop_event.wait()
        finally:
            await runner.cleanup()

    # --- seeding --------------------------------------------------------------------------

    def seed(
        self, *, meetings: int, attendees: int, features: Mapping[str, Any] | None = None
    ) -> dict[str, list[str]]:
        """Create `meetings` meetings of `attendees` attendees each; meeting → attendee IDs.

        IDs are reproducible: the same emulator `seed` and calls give the same IDs.
        """
        return {
            meeting_id: self.meeting_attendees(meeting_id)
            for meeting_id in (
                self.create_meeting(attendees=attendees, features=features) for _ in range(meetings)
            )
        }

    def create_meeting(
        self,
        *,
        attendees: int = 0,
        features: Mapping[str, Any] | None = None,
        external_meeting_id: str | None = None,
        media_region: str | None = None,
    ) -> str:
        """Create a meeting (controlled from this emulator's Region) with default attendees.

        `features` is the API's `MeetingFeatures`; a value the service would reject raises
        `ValueError`. Returns the meeting ID.
        """
        if media_region is None:
            media_region = self.region if self.region in MEDIA_REGIONS else "us-east-1"
        with self._store.lock:
            try:
                meeting = create_meeting(
                    self._store,
                    external_meeting_id=external_meeting_id or self._store.next_name("meeting"),
                    media_region=media_region,
                    control_region=self.region,
                    features=dict(features) if features is not None else None,
                )
            except ServiceError as error:
                raise ValueError(error.message) from None
            if attendees > meeting.max_attendees:
                self._store.remove_meeting(meeting.meeting_id, reason="removed")
                raise ValueError(f"a meeting holds at most {meeting.max_attendees} attendees")
            for _ in range(attendees):
                self._store.add_attendee(
                    meeting,
                    external_user_id=self._store.next_name("user"),
                    capabilities=default_capabilities(meeting.features),
                )
            return meeting.meeting_id

    def add_attendee(
        self,
        meeting_id: str,
        *,
        capabilities: Mapping[str, str] | None = None,
        external_user_id: str | None = None,
    ) -> str:
        """Add an attendee (default capabilities unless given); returns its ID."""
        with self._store.lock:
            meeting = self._store.meetings.get(meeting_id)
            if meeting is None:
                raise KeyError(meeting_id)
            if len(meeting.attendees) >= meeting.max_attendees:
                raise ValueError(f"a meeting holds at most {meeting.max_attendees} attendees")
            caps = self._checked(capabilities, meeting.features)
            return self._store.add_attendee(
                meeting,
                external_user_id=external_user_id or self._store.next_name("user"),
                capabilities=caps,
            ).attendee_id

    @staticmethod
    def _checked(
        capabilities: Mapping[str, str] | None, features: Mapping[str, Any] | None
    ) -> dict[str, str]:
        if capabilities is None:
            return default_capabilities(features)
        try:
            check_shape("AttendeeCapabilities", dict(capabilities), path="capabilities")
            return parse_capabilities(dict(capabilities), features=features)
        except ServiceError as error:
            raise ValueError(error.message) from None

    def set_capabilities(
        self, meeting_id: str, attendee_id: str, capabilities: Mapping[str, str]
    ) -> None:
        """Set an attendee's capabilities as test setup (not counted by `write_count`)."""
        with self._store.lock:
            meeting = self._store.meetings.get(meeting_id)
            attendee = self._store.attendee(meeting_id, attendee_id)
            if meeting is None or attendee is None:
                raise KeyError((meeting_id, attendee_id))
            attendee.capabilities = self._checked(capabilities, meeting.features)

    def remove_attendee(self, meeting_id: str, attendee_id: str) -> bool:
        """Make an attendee leave; False if it was not there."""
        with self._store.lock:
            return self._store.remove_attendee(meeting_id, attendee_id, reason="removed")

    def remove_meeting(self, meeting_id: str) -> bool:
        """End a meeting (its attendees go with it); False if it was not there."""
        with self._store.lock:
            return self._store.remove_meeting(meeting_id, reason="removed")

    # --- ground truth ---------------------------------------------------------------------

    @property
    def meetings(self) -> dict[str, list[str]]:
        """A snapshot: meeting ID → its attendee IDs, in creation order."""
        with self._store.lock:
            return self._store.snapshot()

    def meeting_attendees(self, meeting_id: str) -> list[str]:
        with self._store.lock:
            meeting = self._store.meetings.get(meeting_id)
            return [] if meeting is None else list(meeting.attendees)

    def capabilities(self, meeting_id: str, attendee_id: str) -> dict[str, str] | None:
        """The attendee's current capabilities (API form), or None when it is gone."""
        with self._store.lock:
            attendee = self._store.attendee(meeting_id, attendee_id)
            return None if attendee is None else dict(attendee.capabilities)

    def write_count(self, meeting_id: str, attendee_id: str) -> int:
        """How many capability writes through the API were applied to this attendee.

        Every applied write counts, also one that set the value it already had (the API
        cannot tell), and also one followed by an injected 500 or connection reset.
        """
        with self._store.lock:
            return self._store.write_count(meeting_id, attendee_id)

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first."""
        with self._store.lock:
            return list(self._store.log)

    def clear_requests(self) -> None:
        with self._store.lock:
            self._store.clear_log()

    def request_page(
        self, *, after: int, limit: int
    ) -> tuple[list[tuple[int, RequestRecord]], int]:
        """Up to `limit` `(seq, record)` logged after sequence number `after`, and how many
        records the bounded log has dropped."""
        with self._store.lock:
            return self._store.log_page(after=after, limit=limit), self._store.dropped

    def ground_truth(self) -> dict[str, Any]:
        """Every attendee's capabilities and write counts, and who left and why (JSON form;
        no ExternalUserId, no JoinToken)."""
        with self._store.lock:
            store = self._store
            meetings = {
                meeting.meeting_id: {
                    "attendees": {
                        attendee.attendee_id: {
                            "capabilities": dict(attendee.capabilities),
                            "writes_applied": store.write_count(meeting.meeting_id, attendee_id),
                            "writes_acknowledged": store.acknowledged_count(
                                meeting.meeting_id, attendee_id
                            ),
                        }
                        for attendee_id, attendee in meeting.attendees.items()
                    }
                }
                for meeting in store.meetings.values()
            }
            departed = [
                {"meeting_id": d.meeting_id, "attendee_id": d.attendee_id, "reason": d.reason}
                for d in store.departed
            ]
        return {"meetings": meetings, "departed": departed}

    def stats(self) -> dict[str, Any]:
        """Counts since start (or reset): requests, by operation, by status, by fault."""
        with self._store.lock:
            counters = dict(self._store.counters)
            logged, dropped = len(self._store.log), self._store.dropped

        def group(prefix: str) -> dict[str, int]:
            return {
                k[len(prefix) :]: v for k, v in sorted(counters.items()) if k.startswith(prefix)
            }

        return {
            "requests": counters.get("requests", 0),
            "state_changed": counters.get("state_changed", 0),
            "logged": logged,
            "dropped": dropped,
            "by_operation": group("operation:"),
            "by_status": group("status:"),
            "by_fault": group("fault:"),
        }

    def reset(self) -> None:
        """Back to empty: no meetings, no log, no faults, full quota buckets."""
        with self._store.lock:
            self._store.reset()
            self._faults.faults = Faults()
            self._faults.set_brownouts(())
        self._quota.set_rates(self._quota.rates)

    # --- run-time knobs -------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._faults.faults

    @property
    def fault_config(self) -> FaultConfig:
        """The faults and brownouts now in force, as one value (the `--config` schema)."""
        with self._store.lock:
            return FaultConfig(faults=self._faults.faults, brownouts=self._faults.brownouts)

    def set_fault_config(self, config: FaultConfig) -> None:
        """Replace the faults and the brownout windows at once."""
        with self._store.lock:
            self._faults.faults = config.faults
            self._faults.set_brownouts(config.brownouts)

    def set_faults(self, faults: Faults) -> None:
        """Replace the injected faults; the next request sees the new ones."""
        self._faults.faults = faults

    def add_brownout(self, brownout: Brownout) -> None:
        """Add a brownout window (its `after_requests` counts every request ever received,
        its `start_s` counts from when the emulator started)."""
        with self._store.lock:
            self._faults.add_brownout(brownout)

    @property
    def brownouts(self) -> tuple[Brownout, ...]:
        with self._store.lock:
            return self._faults.brownouts

    def set_brownouts(self, brownouts: Iterable[Brownout]) -> None:
        """Replace the brownout windows."""
        with self._store.lock:
            self._faults.set_brownouts(tuple(brownouts))

    def acknowledged_count(self, meeting_id: str, attendee_id: str) -> int:
        """How many of `write_count`'s writes were answered 200 (not lost to a 500 or reset)."""
        with self._store.lock:
            return self._store.acknowledged_count(meeting_id, attendee_id)

    @property
    def rates(self) -> dict[str, RateLimit]:
        return self._quota.rates

    def set_rates(self, rates: Mapping[str, RateLimit] | None) -> None:
        """Replace the quotas (over the defaults); all buckets start full."""
        self._quota.set_rates(rates)

    # --- ready file -----------------------------------------------------------------------

    def ready_info(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint_url, "region": self.region, "meetings": self.meetings}

    def write_ready_file(self, path: str | os.PathLike[str]) -> None:
        """Write `ready_info()` as JSON, atomically (a reader never sees half a file)."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(self.ready_info(), file)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _stop_keeping(stop: Callable[[], None], exc: BaseException | None) -> None:
    """`stop()`, but an error already propagating stays the one raised (the emulator's is
    attached to it as a note) rather than being replaced."""
    if exc is None:
        stop()
        return
    try:
        stop()
    except EmulatorError as error:
        exc.add_note(f"and then: {error}")


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    region: str = "us-east-1",
    rates: Mapping[str, RateLimit] | None = None,
    faults: Faults = Faults(),  # noqa: B008
    brownouts: Iterable[Brownout] = (),
    seed: int = 0,
    meetings: int = 0,
    attendees: int = 0,
    features: Mapping[str, Any] | None = None,
    ready_file: str | os.PathLike[str] | None = None,
    on_ready: Callable[[Emulator], None] | None = None,
    max_logged_requests: int = DEFAULT_LOG_LIMIT,
) -> NoReturn:
    """Run an emulator until cancelled: seed it, write `ready_file`, call `on_ready(emu)`.

    Works under asyncio and trio (the server has its own thread). Prints nothing:
    `on_ready` is where the caller announces `emu.endpoint_url`.
    """
    async with Emulator(
        host=host,
        port=port,
        region=region,
        rates=rates,
        faults=faults,
        brownouts=brownouts,
        seed=seed,
        max_logged_requests=max_logged_requests,
    ) as emu:
        emu.seed(meetings=meetings, attendees=attendees, features=features)
        if ready_file is not None:
            emu.write_ready_file(ready_file)
        if on_ready is not None:
            on_ready(emu)
        await anyio.sleep_forever()
    raise AssertionError("unreachable")  # pragma: no cover


def _blocking(
    function: Callable[_P, Coroutine[Any, Any, NoReturn]],
) -> Callable[_P, NoReturn]:
    def run(*args: _P.args, **kwargs: _P.kwargs) -> NoReturn:
        anyio.run(functools.partial(function, *args, **kwargs))
        raise AssertionError("unreachable")  # pragma: no cover

    return run


#: `serve(...)` for synchronous callers: the same keyword arguments; blocks until
#: KeyboardInterrupt, which propagates after the emulator has stopped.
run_forever = _blocking(serve)
