"""A local emulator of the Amazon Chime SDK Meetings API (`chime-sdk-meetings`, rest-json).

A real aiohttp server on loopback that boto3 and aiobotocore talk to unchanged
(`endpoint_url=emu.endpoint_url`, any credentials, SigV4-signed). It serves every operation
of the botocore model, enforces the service's validation rules on its own, meters each
operation with a token bucket (429 `ThrottlingException`), and injects seeded faults
(503 with Retry-After, 500 before/after the write, connection resets, churn, brownouts).

Tests::

    from chime_bulk.emulator import Emulator, Faults, RateLimit

    with Emulator(seed=1, rates={"*": RateLimit(0, 0)}) as emu:     # or `async with`
        ids = emu.seed(meetings=2, attendees=3)                     # meeting -> attendees
        ...  # client = boto3.client("chime-sdk-meetings", endpoint_url=emu.endpoint_url, ...)
        emu.capabilities(meeting, attendee)      # ground truth, None once the attendee left
        emu.write_count(meeting, attendee)       # capability writes applied to it
        emu.requests                             # RequestRecord per request received
        emu.set_faults(Faults(p503=0.1, retry_after_s=2))

The CLI (`chime-bulk emulator`) calls `serve(...)` in an async context, or `run_forever(...)`
from synchronous code, with the same keyword arguments::

    run_forever(host="127.0.0.1", port=0, region="us-east-1",
                rates=parse_rate_specs(["UpdateAttendeeCapabilities=5:5"]),
                faults=Faults(p503=0.01, retry_after_s=1, p500=0.0, latency_ms=0),
                seed=0, meetings=3, attendees=10, ready_file="ready.json",
                on_ready=lambda emu: print(emu.endpoint_url, file=sys.stderr))

It seeds the meetings, writes the ready file (`{"endpoint_url", "region", "meetings"}`), calls
`on_ready(emu)` and serves until cancelled (Ctrl-C). It prints nothing itself. It never logs
requests, JoinTokens or Authorization headers.

A request whose SigV4 credential scope names another Region than the one the meeting was
created in gets 404, as the real service's control Regions do.
"""

from .config import FaultConfig, fault_config_to_json, load_fault_config, parse_fault_config
from .errors import EmulatorError
from .faults import Brownout, Faults
from .operations import OPERATIONS, WRITE_OPERATIONS
from .quota import RateLimit, TokenBucket, parse_rate_spec, parse_rate_specs
from .server import DEFAULT_LOG_LIMIT, Emulator, run_forever, serve
from .state import RequestRecord

__all__ = [
    "DEFAULT_LOG_LIMIT",
    "OPERATIONS",
    "WRITE_OPERATIONS",
    "Brownout",
    "Emulator",
    "EmulatorError",
    "FaultConfig",
    "Faults",
    "RateLimit",
    "RequestRecord",
    "TokenBucket",
    "fault_config_to_json",
    "load_fault_config",
    "parse_fault_config",
    "parse_rate_spec",
    "parse_rate_specs",
    "run_forever",
    "serve",
]
