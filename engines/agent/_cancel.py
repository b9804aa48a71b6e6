"""A cancellation signal is a ``threading.Event`` or a callable returning True once cancelled (or None)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["CancelSignal", "is_cancelled", "wait_or_cancel"]

CancelSignal = threading.Event | Callable[[], bool] | None

_POLL_S = 0.05


def is_cancelled(cancel: CancelSignal) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def wait_or_cancel(cancel: CancelSignal, seconds: float) -> bool:
    """Sleep ``seconds`` unless cancelled first; True when cancelled."""
    if isinstance(cancel, threading.Event):
        return cancel.wait(seconds)
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if is_cancelled(cancel):
            return True
        time.sleep(min(_POLL_S, left))
    return is_cancelled(cancel)
