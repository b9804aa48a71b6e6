"""Progress callbacks and cancellation, one home for every long engine step.

Every long step (a job kind, a curation run, a volume read, a training epoch, an agent
reply) takes ``progress(fraction, message)`` and a ``cancel`` signal, and stops by raising
``Cancelled``: one exception, so the job system, the curation store and the chat all tell
"the user stopped it" apart from "it failed" the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engines.errors import NeurodeckError

__all__ = [
    "Progress",
    "Cancel",
    "Cancelled",
    "no_progress",
    "sub_progress",
    "is_cancelled",
    "raise_if_cancelled",
    "wait_or_cancel",
]

Progress = Callable[[float, str], None]
"""``progress(fraction, message)``, fraction 0..1; a job's ``ctx.report`` fits (it raises ``Cancelled``)."""

Cancel = threading.Event | Callable[[], bool] | None
"""A ``threading.Event`` or a callable returning True once the user asked to stop; None never cancels."""

_POLL_S = 0.05


class Cancelled(NeurodeckError, RuntimeError):
    """The user (or a shutting-down worker) stopped a long step; what was finished is kept."""


def no_progress(_fraction: float, _message: str) -> None:
    """The default progress callback: report nothing."""


def sub_progress(progress: Progress, start: float, end: float) -> Progress:
    """A callback that maps 0..1 onto ``start..end`` of ``progress`` (for steps inside steps)."""

    def report(fraction: float, message: str) -> None:
        progress(start + (end - start) * min(1.0, max(0.0, fraction)), message)

    return report


def is_cancelled(cancel: Cancel) -> bool:
    """True once ``cancel`` is set (an Event) or returns True (a callable)."""
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def raise_if_cancelled(cancel: Cancel, what: str) -> None:
    """Raise ``Cancelled`` naming the step that stopped, once ``cancel`` is set."""
    if is_cancelled(cancel):
        raise Cancelled(f"{what} was cancelled; finished parts are kept, run it again to continue.")


def wait_or_cancel(cancel: Cancel, seconds: float) -> bool:
    """Sleep ``seconds`` unless cancelled first; True when cancelled."""
    if isinstance(cancel, threading.Event):
        return cancel.wait(seconds)
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if is_cancelled(cancel):
            return True
        time.sleep(min(_POLL_S, left))
    return is_cancelled(cancel)
