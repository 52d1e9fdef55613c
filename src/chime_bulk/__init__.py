"""chime-bulk: change Amazon Chime SDK meeting attendees' capabilities in bulk.

from chime_bulk import BulkUpdater, Capabilities, Update

async with BulkUpdater(region="us-east-1", max_concurrency=16) as bulk:
    report = await bulk.run(
        Update(meeting_id=m, attendee_id=a,
               capabilities=Capabilities("SendReceive", "Receive", "None"))
        for m, a in pairs
    )
report.write("report.json")
"""

from ._aws.reads import AttendeeState, ListingFailed
from ._engine.updater import BulkUpdater
from ._io.journal import Journal, load_journal
from ._io.plans import Plan, read_plan, write_plan
from ._model.capabilities import Capabilities, Media, MeetingFeatures, capability_problems
from ._model.errors import (
    ChimeBulkError,
    ConfigurationError,
    JournalError,
    PlanError,
    PlanProblem,
    RunAborted,
)
from ._model.report import AttendeeResult, Report, Status, Summary
from ._model.update import Update
from ._policy.brownout import BrownoutPolicy
from ._policy.concurrency import ConcurrencyPolicy
from ._policy.pacing import Adaptive, FixedRate, Pacer, Pacing, Unpaced
from ._policy.retry import RetryPolicy
from ._shared.redis_quota import RedisQuota
from .progress import NullProgress, ProgressListener

__all__ = [
    "Adaptive",
    "AttendeeResult",
    "AttendeeState",
    "BrownoutPolicy",
    "BulkUpdater",
    "Capabilities",
    "ChimeBulkError",
    "ConcurrencyPolicy",
    "ConfigurationError",
    "FixedRate",
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
    "ProgressListener",
    "RedisQuota",
    "Report",
    "RetryPolicy",
    "RunAborted",
    "Status",
    "Summary",
    "Unpaced",
    "Update",
    "capability_problems",
    "load_journal",
    "read_plan",
    "write_plan",
]
