"""The exceptions chime-bulk raises. Per-attendee failures are never raised: they are results.

```
ChimeBulkError                 base of everything chime-bulk raises on purpose
├── ConfigurationError         no usable Region or profile, or a client that cannot be made
├── PlanError                  bad input (plan file, stdin, report to restore); nothing was sent.
│   │                          `.problems` holds every problem found, each with its line number
│   └── JournalError           a resume journal is corrupt or belongs to a different plan
├── PreflightFailed            checked before the first update: no credentials, an unknown
│                              Region, an endpoint that refuses connections; nothing was
│                              sent. `.code` names which, `.fatal` is False for a usage error
├── ListingFailed              a meeting could not be read (its attendees or features);
│                              `.failure` says why; nothing was sent for it
└── RunAborted                 a fatal error (401/403, missing credentials, no Region, an
                               endpoint that never answers) stopped a run; `.report` is
                               complete: the update that met the error is `failed` with
                               `.error_code`, everything unfinished `cancelled`
```

Classifying AWS errors into throttle / transient / fatal is not this module's job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from .._policy.classification import Failure
    from .report import Report

__all__ = [
    "ChimeBulkError",
    "ConfigurationError",
    "JournalError",
    "ListingFailed",
    "PlanError",
    "PlanProblem",
    "PreflightFailed",
    "RunAborted",
]


class ChimeBulkError(Exception):
    """Base class of every exception chime-bulk raises on purpose."""


class ConfigurationError(ChimeBulkError):
    """Where or as whom to connect cannot be worked out: no Region, an unknown profile…"""


@dataclass(frozen=True, slots=True)
class PlanProblem:
    """One problem in an input file: where (`source` file, 1-based `line`) and what."""

    line: int | None
    message: str
    source: str | None = None

    def __str__(self) -> str:
        where = self.source or "<plan>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class PlanError(ChimeBulkError):
    """The input is bad; nothing was sent. `str()` lists every problem, one per line.

    >>> print(PlanError([PlanProblem(3, "unknown key 'Capabilites'", "plan.jsonl")]))
    plan.jsonl:3: unknown key 'Capabilites'
    """

    problems: list[PlanProblem]

    def __init__(self, problems: Iterable[PlanProblem]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems)

    @classmethod
    def single(cls, message: str, *, line: int | None = None, source: str | None = None) -> Self:
        """An error with one problem."""
        return cls([PlanProblem(line, message, source)])

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


class JournalError(PlanError):
    """A journal cannot be resumed from: garbage before its last line, or another plan's."""


class PreflightFailed(ChimeBulkError):
    """The check before the first update failed; nothing was sent.

    `code`: `NoRegion` or `UnknownRegion` (a usage error, `fatal` False), `NoCredentials` or
    `EndpointUnreachable` (`fatal` True: exit 3, like a run aborted by them).
    """

    def __init__(self, code: str, message: str, *, fatal: bool) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_preflight_failed, (self.code, self.message, self.fatal))


def _rebuild_preflight_failed(code: str, message: str, fatal: bool) -> PreflightFailed:
    return PreflightFailed(code, message, fatal=fatal)


class ListingFailed(ChimeBulkError):
    """A meeting could not be read: it does not exist, retries ran out, or the run stopped.

    `.failure` is the classified failure of the last attempt (`.failure.code`, `.kind`).
    """

    def __init__(self, meeting_id: str, failure: Failure) -> None:
        super().__init__(f"cannot read meeting {meeting_id}: {failure.code} {failure.message}")
        self.meeting_id = meeting_id
        self.failure = failure

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.meeting_id, self.failure))


class RunAborted(ChimeBulkError):
    """A fatal error stopped the run. `.report` accounts for every update of it.

    The update that met the error is `failed` with `error_code`; every update that had not
    finished is `cancelled`. Nothing more was sent after the fatal answer arrived.
    """

    report: Report
    error_code: str | None

    def __init__(
        self, report: Report, *, error_code: str | None, message: str | None = None
    ) -> None:
        self.report = report
        self.error_code = error_code
        self.message = message or _default_message(report, error_code)
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments defeat Exception's default pickling (cls(*args)).
        return (_rebuild_run_aborted, (self.report, self.error_code, self.message))

    def __str__(self) -> str:
        return self.message


def _default_message(report: Report, error_code: str | None) -> str:
    cancelled = report.summary.by_status.get("cancelled", 0)
    return (
        f"run aborted by a fatal error ({error_code or 'unknown'}); "
        f"{cancelled} of {report.summary.total} updates cancelled"
    )


def _rebuild_run_aborted(report: Report, error_code: str | None, message: str) -> RunAborted:
    return RunAborted(report, error_code=error_code, message=message)
