"""Panel's callback pool, in order per widget: one widget's changes in a session apply in the order sent.

With ``pn.config.nthreads`` Panel hands every browser event (a widget change, a click, the page's
on-load) to a shared ``ThreadPoolExecutor``. Two quick changes of one widget can then run at once
on two threads, and the older can finish last: choosing "nitime" and then "Session file" in the
training form left the form showing the nitime fields (found by
``tests/browser/test_session_threads.py``), the server's state no longer what the browser asked
for. A browser sends a widget's changes in order and expects them applied in order, so this pool
keeps a queue per (session, widget) and runs each queue on one pool thread at a time; everything
else still runs in parallel, so one user's slow click never waits for another's.

Panel passes the session's document as the first argument of the tasks that apply a browser's property
changes (``_change_event(doc)``, ``_schedule_change(doc, comm)``); only those are ordered. Panel has no option
for this, hence our own executor in its place.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import panel as pn
from bokeh.document import Document
from panel.io.state import state

__all__ = ["SessionOrderedPool", "order_callbacks_per_session"]


_ORDERED = ("_change_event", "_schedule_change")
"""Panel's tasks that apply property changes sent by the browser to one widget or pane (its new value)."""


def _session_of(fn: Callable[..., Any], args: tuple) -> tuple[Document, int] | None:
    """(session document, widget) of a Panel task that applies a browser's changes to one widget, else None.

    Only one widget's own changes are ordered: changes of different widgets, clicks, the page's load and
    scheduled callbacks run as soon as a thread is free, as before (ordering a whole session's tasks held a
    tab switch behind the address bar's own change, and pages stopped following their tabs)."""
    if getattr(fn, "__name__", "") not in _ORDERED or not args or not isinstance(args[0], Document):
        return None
    return args[0], id(getattr(fn, "__self__", None))


class SessionOrderedPool(ThreadPoolExecutor):
    """A thread pool whose tasks for one widget of one session run one at a time, in the order submitted."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "session-callbacks") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._queues: dict[tuple[Document, int], deque[tuple[Future, Callable[..., Any], tuple, dict]]] = {}
        self._queues_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        key = _session_of(fn, args)
        if key is None:
            return super().submit(fn, *args, **kwargs)
        future: Future = Future()
        with self._queues_lock:
            queue = self._queues.setdefault(key, deque())
            queue.append((future, fn, args, kwargs))
            first = len(queue) == 1
        if first:  # nobody is draining this session's queue: start a drain on the pool
            super().submit(self._drain, key)
        return future

    def _drain(self, key: tuple[Document, int]) -> None:
        """Run one widget's tasks in order until its queue is empty (then it is forgotten: nothing left
        over)."""
        while True:
            with self._queues_lock:
                future, fn, args, kwargs = self._queues[key][0]
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # the caller's future carries it (Panel logs it there)
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            with self._queues_lock:
                queue = self._queues[key]
                queue.popleft()
                if not queue:
                    del self._queues[key]
                    return

    def sessions_waiting(self) -> int:
        """Widgets (of any session) with changes queued or being applied now."""
        with self._queues_lock:
            return len(self._queues)


def order_callbacks_per_session(threads: int) -> None:
    """Run Panel's session callbacks on ``threads`` threads, each widget's changes in order (call before
    serving)."""
    for _ in range(
        2
    ):  # Panel refuses to change nthreads while its pool runs; setting it may start a plain one
        if state._thread_pool is not None:
            state._thread_pool.shutdown(wait=False)
            state._thread_pool = None
        if pn.config.nthreads != threads:
            # Panel's own switch to threaded callbacks; pn.config's __setattr__ stores it in _nthreads
            pn.config.nthreads = threads  # type: ignore[misc]  # Panel types nthreads as a read-only property
    pool = SessionOrderedPool(max_workers=threads)
    state._thread_pool = pool  # type: ignore[assignment]  # Panel declares it `= None`, unannotated
