"""Progress callbacks and cancellation signals, shared by every long curation step."""

from __future__ import annotations

import threading
from collections.abc import Callable

from engines.curation.errors import CurationCancelled

__all__ = ["Progress", "Cancel", "is_cancelled", "check", "sub_progress", "no_progress"]

Progress = Callable[[float, str], None]
"""``progress(fraction, message)``; fraction in 0..1. A job's ``ctx.report`` fits (it raises on cancel)."""

Cancel = threading.Event | Callable[[], bool] | None
"""A ``threading.Event`` or a callable returning True once the user asked to stop; None never cancels."""


def no_progress(_fraction: float, _message: str) -> None:
    """The default progress callback: report nothing."""


def is_cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def check(cancel: Cancel, what: str) -> None:
    """Raise ``CurationCancelled`` naming the step that stopped, once cancel is set."""
    if is_cancelled(cancel):
        raise CurationCancelled(f"{what} was cancelled; finished parts are kept, run it again to continue.")


def sub_progress(progress: Progress, start: float, end: float) -> Progress:
    """A callback that maps 0..1 onto ``start..end`` of ``progress`` (for steps inside steps)."""

    def report(fraction: float, message: str) -> None:
        progress(start + (end - start) * min(1.0, max(0.0, fraction)), message)

    return report
