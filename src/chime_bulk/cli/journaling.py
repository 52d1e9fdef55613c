"""`--journal` and `--resume` for every command that changes attendees.

A journal belongs to one plan (its fingerprint: a plan file's digest, or a state-aware
command's arguments); `--resume` refuses another plan's journal, and starting afresh refuses to
overwrite a journal that has content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from .._io.journal import Journal, iter_journal, load_journal
from .._model.errors import JournalError
from .._model.results import AttendeeResult
from .output import print_error, print_problems

__all__ = ["JournalSetup", "prepare_journal"]


@dataclass(slots=True, kw_only=True)
class JournalSetup:
    """The open journal (or None) and the results it already has final, by attendee."""

    journal: Journal | None = None
    done: dict[tuple[str, str], AttendeeResult] = field(default_factory=dict)

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()


def prepare_journal(
    path: str | None,
    *,
    resume: bool,
    fingerprint: str | None,
    console: Console,
    missing_ok: bool = True,
    keep_done: Callable[[Iterable[AttendeeResult]], int] | None = None,
) -> JournalSetup | None:
    """Open the journal a command asked for; None (after printing why) when it cannot be.

    With `missing_ok=False` (`apply --resume`), no journal is an error: a mistyped path
    would silently resend everything; `apply --resume-if-exists` passes True. The
    state-aware commands keep the old default (start afresh) until they get the flag too.
    `keep_done`, when given, takes the journal's final results as they are read (and says
    how many it kept) instead of `setup.done` holding them all in memory.
    """
    if path is None:
        return JournalSetup()
    target = Path(path)
    if resume and not missing_ok and not target.exists():
        print_error(
            console,
            f"journal {path} does not exist, so there is nothing to resume: check the path, "
            "or pass --resume-if-exists to start afresh when it is missing; nothing was sent",
        )
        return None
    if not resume and target.is_file() and target.stat().st_size > 0:
        print_error(
            console,
            f"journal {path} already exists: pass --resume to continue that run, "
            "or remove it to start afresh; nothing was sent",
        )
        return None
    setup = JournalSetup()
    try:
        if resume and target.exists():
            if keep_done is None:
                setup.done = load_journal(path, plan_sha256=fingerprint)
                kept = len(setup.done)
            else:
                kept = keep_done(iter_journal(path, plan_sha256=fingerprint))
            console.print(f"resuming: {kept} update(s) already final in {path}")
        setup.journal = Journal.open(path, plan_sha256=fingerprint, resume=resume)
    except JournalError as error:
        # Its problems name the file already ("run.journal:1: …"): no second "journal PATH".
        print_problems(console, error, what=f"journal {path}")
        return None
    except OSError as error:
        print_error(console, f"cannot open journal {path}: {error.strerror}; nothing was sent")
        return None
    return setup
