"""chime-bulk: change Amazon Chime SDK meeting attendees' capabilities in bulk.

from chime_bulk import BulkUpdater, Capabilities, Update

async with BulkUpdater(region="us-east-1", max_concurrency=16) as bulk:
    report = await bulk.run(
        Update(meeting_id=m, attendee_id=a,
               capabilities=Capabilities("SendReceive", "Receive", "None"))
        for m, a in pairs
    )
report.write("report.json")

Everything importable from here is public and typed; modules whose names start with `_`
are not. The state-aware planning (mute, unmute, restore) is in `chime_bulk.state_aware`,
the emulator in `chime_bulk.emulator`.
"""

from ._aws.reads import AttendeeState
from ._engine.updater import BulkUpdater
from ._io.journal import Journal, load_journal
from ._io.plans import InvalidLine, Plan, read_plan, write_plan
from ._model.capabilities import Capabilities, Media, MeetingFeatures, capability_problems
from ._model.errors import (
    ChimeBulkError,
    ConfigurationError,
    JournalError,
    ListingFailed,
    PlanError,
    PlanProblem,
    PreflightFailed,
    RunAborted,
)
from ._model.report import Report
from ._model.results import AttendeeResult, Status
from ._model.summary import Summary
from ._model.update import BatchExcept, Update
from ._policy.brownout import BrownoutPolicy
from ._policy.circuit import CircuitPolicy
from ._policy.classification import ErrorKind, Failure
from ._policy.concurrency import ConcurrencyPolicy
from ._policy.pacing import Adaptive, FixedRate, Pacer, Pacing, Unpaced
from ._policy.retry import RetryPolicy
from ._shared.redis_quota import RedisQuota
from ._version import __version__
from .progress import NullProgress, ProgressListener

__all__ = [
    "Adaptive",
    "AttendeeResult",
    "AttendeeState",
    "BatchExcept",
    "BrownoutPolicy",
    "BulkUpdater",
    "Capabilities",
    "ChimeBulkError",
    "CircuitPolicy",
    "ConcurrencyPolicy",
    "ConfigurationError",
    "ErrorKind",
    "Failure",
    "FixedRate",
    "InvalidLine",
    "Journal",
    "JournalError",
    "ListingFailed",
    "Media",
    "MeetingFeatures",
    "NullProgress",
    "Pacer",
    "Pacing",
    "Plan",
    "PlanError",
    "PlanProblem",
    "PreflightFailed",
    "ProgressListener",
    "RedisQuota",
    "Report",
    "RetryPolicy",
    "RunAborted",
    "Status",
    "Summary",
    "Unpaced",
    "Update",
    "__version__",
    "capability_problems",
    "load_journal",
    "read_plan",
    "write_plan",
]
