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

from .brownout import BrownoutPolicy
from .capabilities import Capabilities, Media, MeetingFeatures, capability_problems
from .engine import BulkUpdater
from .errors import (
    ChimeBulkError,
    ConfigurationError,
    JournalError,
    PlanError,
    PlanProblem,
    RunAborted,
)
from .journal import Journal, load_journal
from .listing import AttendeeState, ListingFailed
from .pacing import Adaptive, FixedRate, Pacer, Pacing, Unpaced
from .plan import Plan, read_plan, write_plan
from .progress import NullProgress, ProgressListener
from .report import AttendeeResult, Report, Status, Summary
from .retry import RetryPolicy
from .update import Update

__all__ = [
    "Adaptive",
    "AttendeeResult",
    "AttendeeState",
    "BrownoutPolicy",
    "BulkUpdater",
    "Capabilities",
    "ChimeBulkError",
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
