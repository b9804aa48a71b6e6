"""Panel's callback pool, in order per session: one session's clicks run one after another, sessions side by side.

With ``pn.config.nthreads`` Panel hands every browser event (a widget change, a click, the page's
on-load) to a shared ``ThreadPoolExecutor``. Two quick changes of one widget can then run at once
on two threads, and the older can finish last: choosing "nitime" and then "Session file" in the
training form left the form showing the nitime fields (found by
``tests/browser/test_session_threads.py``), the server's state no longer what the browser asked
for. A browser sends a session's events in order and expects them handled in order, so this pool
keeps a queue per session document and runs each queue on one pool thread at a time; different
sessions still run in parallel, so one user's slow click never waits for another's.

Panel passes the session's document as the first argument of every task it submits for a session
(``_change_event(doc)``, ``_process_bokeh_event(doc, event)``, ``_on_load(doc)``, and
``partial(_execute_on_thread, doc, callback)``); tasks without one (periodic callbacks) run as
before. Panel has no option for this, hence our own executor in its place.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import panel as pn
from bokeh.document import Document
from panel.io.state import state

__all__ = ["SessionOrderedPool", "order_callbacks_per_session"]


def _session_of(fn: Callable[..., Any], args: tuple) -> Document | None:
    """The session document a Panel task is for, if any (first argument, or inside a ``partial``)."""
    candidates = (*args[:1], *(fn.args[:1] if isinstance(fn, partial) else ()))
    return next((arg for arg in candidates if isinstance(arg, Document)), None)


class SessionOrderedPool(ThreadPoolExecutor):
    """A thread pool whose tasks for one session document run one at a time, in the order submitted."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "session-callbacks") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._queues: dict[Document, deque[tuple[Future, Callable[..., Any], tuple, dict]]] = {}
        self._queues_lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        doc = _session_of(fn, args)
        if doc is None:
            return super().submit(fn, *args, **kwargs)
        future: Future = Future()
        with self._queues_lock:
            queue = self._queues.setdefault(doc, deque())
            queue.append((future, fn, args, kwargs))
            first = len(queue) == 1
        if first:  # nobody is draining this session's queue: start a drain on the pool
            super().submit(self._drain, doc)
        return future

    def _drain(self, doc: Document) -> None:
        """Run ``doc``'s tasks in order until its queue is empty (then it is forgotten: no per-session leftovers)."""
        while True:
            with self._queues_lock:
                future, fn, args, kwargs = self._queues[doc][0]
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # the caller's future carries it (Panel logs it there)
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            with self._queues_lock:
                queue = self._queues[doc]
                queue.popleft()
                if not queue:
                    del self._queues[doc]
                    return

    def sessions_waiting(self) -> int:
        """Sessions with tasks queued or running now."""
        with self._queues_lock:
            return len(self._queues)


def order_callbacks_per_session(threads: int) -> None:
    """Run Panel's session callbacks on ``threads`` threads, in order per session (call before serving)."""
    for _ in range(2):  # Panel refuses to change nthreads while its pool runs; setting it may start a plain one
        if state._thread_pool is not None:
            state._thread_pool.shutdown(wait=False)
            state._thread_pool = None
        if pn.config.nthreads != threads:
            pn.config.nthreads = threads  # Panel's own switch to threaded callbacks
    state._thread_pool = SessionOrderedPool(max_workers=threads)
