"""`EmulatorError`: the emulator itself failed (a bug or a broken environment), not the API.

Raised from `Emulator.stop()` (and so from `with`/`async with`) when the server met an error
after it had started: an exception in a request handler (answered 500
`ServiceFailureException`, so the client sees an AWS-shaped error) or in the server's own
thread. Without it such an error would vanish in the background thread and a test would pass
against an emulator that misbehaved.
"""

from __future__ import annotations

__all__ = ["EmulatorError"]


class EmulatorError(RuntimeError):
    """The emulator failed while serving; `__cause__` is the first error it met."""
