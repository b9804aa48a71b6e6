"""Reads off the session's thread: run on this session's own pool, apply on the session's thread, newest wins.

Panel runs a session's callbacks on a small pool shared by every user, and applies model
changes under the session's document lock. A remote read that stalls for its full timeout
inside a callback therefore holds a shared thread (and, before, the session lock), and other
users' clicks wait. ``BackgroundWork`` keeps callbacks short: the read runs on a pool of
this session's own, and its result is applied with ``pn.state.execute`` on the session's
thread. Each request has a key; a newer request under the same key supersedes the older,
whose result is dropped, so a stale picture never replaces a newer one.

Outside a served session (tests rendering views directly, notebooks) work runs inline.

Every change to a page made from a thread that is not the session's own goes through
``run_on_session_thread``. Panel would otherwise schedule each model update from the foreign
thread itself (``Document.add_next_tick_callback``); when another callback of the same session
holds the document at that moment, the scheduling event is collected in the document's held
events, a list the event loop empties at the same time, and now and then it is lost: the
server's model changes, the browser never hears of it, and the page shows an old picture
for good. The helper hands the callback to the server's event loop (tornado's thread-safe
``IOLoop.add_callback``) and schedules it there, under the session's document lock; a
session that has ended drops it.

Callbacks that arrive while the session's previous batch still waits for its turn join that
batch, and a batch runs under one ``hold(doc, freeze=True)``: Bokeh recomputes the document's
model graph once per batch instead of once per changed layout (each recompute walks every model
on the page; they were a fifth of what a visit cost the server), and the browser gets one patch.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import panel as pn
from panel.io.document import hold
from panel.io.state import set_curdoc

__all__ = ["BackgroundWork", "run_on_session_thread", "on_session_thread", "is_served", "session_ended"]

log = logging.getLogger(__name__)

T = TypeVar("T")


_SERVED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Documents seen serving a session, with their server's event loop: one whose session has since
ended (Bokeh clears ``session_context``) must not run callbacks on whatever thread asks."""

_BATCHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Each served document's ``_Batch`` of callbacks waiting for the session's thread."""
_BATCHES_LOCK = threading.Lock()


def is_served(doc: Any) -> bool:
    """True when ``doc`` is a live server session's document (not a notebook, not a test rendering)."""
    if doc is None or doc.session_context is None:
        return False
    if doc not in _SERVED:
        app_context = doc.session_context.server_context.application_context
        _SERVED[doc] = app_context.io_loop if app_context is not None else None
    return True


def session_ended(doc: Any) -> bool:
    """True when ``doc`` served a session that has ended (tab closed, network gone)."""
    return doc is not None and doc.session_context is None and doc in _SERVED


def run_on_session_thread(doc: Any, callback: Callable[[], object]) -> None:
    """Run ``callback`` on ``doc``'s session thread (under its lock), from any thread, in the order asked.

    Outside a server it runs now; once the session has ended it is dropped. What ``callback`` returns
    is ignored (so ``lambda: obj.param.update(...)`` fits).
    """
    if not is_served(doc):
        if not session_ended(doc):
            callback()
        return
    with _BATCHES_LOCK:
        batch = _BATCHES.get(doc)
        if batch is None:
            batch = _BATCHES[doc] = _Batch(doc)
    if not batch.add(callback):
        return  # joins a batch already on its way
    loop = _SERVED.get(doc)
    if loop is None:  # a server without an event loop of its own: Panel's scheduling is all there is
        _schedule(doc, batch.run)
    else:
        loop.add_callback(_schedule, doc, batch.run)


def on_session_thread(callback: Callable[..., None], doc: Any = None) -> Callable[..., None]:
    """``callback`` made to run on the session's thread whichever thread calls it (a periodic
    callback: Panel runs those on its pool). ``doc``: the current session's unless given."""
    doc = doc if doc is not None else pn.state.curdoc
    return lambda *args: run_on_session_thread(doc, lambda: callback(*args))


def _schedule(doc: Any, callback: Callable[[], None]) -> None:
    """On the event loop: queue ``callback`` as the session's next locked callback."""
    if doc.session_context is None:
        return
    try:
        with set_curdoc(doc):
            pn.state.execute(callback, schedule=True)
    except RuntimeError:  # the session ended between the check and the scheduling
        log.debug("session ended before a change could be applied")


class _Batch:
    """The callbacks waiting to run on one session's thread, in the order asked; ``run`` takes them all."""

    def __init__(self, doc: Any) -> None:
        self._doc = weakref.ref(doc)
        self._lock = threading.Lock()
        self._waiting: list[Callable[[], object]] = []

    def add(self, callback: Callable[[], object]) -> bool:
        """Queue ``callback``; True when it opens a new batch (the caller schedules ``run``)."""
        with self._lock:
            self._waiting.append(callback)
            return len(self._waiting) == 1

    def run(self) -> None:
        """On the session's thread: every waiting callback, under one hold (one recompute, one patch)."""
        with self._lock:
            callbacks, self._waiting = self._waiting, []
        doc = self._doc()
        if doc is None:
            return
        if (
            len(callbacks) == 1
        ):  # Bokeh's freeze always recomputes: a lone callback (a timer's poll) may change no layout
            _run_one(callbacks[0])
            return
        with hold(doc, freeze=True):
            for callback in callbacks:
                _run_one(callback)


def _run_one(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:  # one failing change must not drop the others of its batch
        log.exception("a change on the session's thread failed")


class BackgroundWork:
    """One per session (or per page): ``run(key, work, apply, failed)``; stopped with the session."""

    def __init__(self, max_workers: int = 4, name: str = "session") -> None:
        self._doc = pn.state.curdoc
        self._executor = (
            ThreadPoolExecutor(max_workers, thread_name_prefix=f"reads-{name}")
            if is_served(self._doc)
            else None
        )
        self._latest: dict[str, int] = {}
        self._polling: set[str] = set()  # keys whose poll has not been shown or dropped yet
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._closed = False
        self._on_close: list[Callable[[], None]] = []
        if self._executor is not None:
            pn.state.on_session_destroyed(lambda _ctx: self.close())

    @property
    def inline(self) -> bool:
        """True outside a served session: work runs at once on the caller's thread."""
        return self._executor is None

    def run(
        self,
        key: str,
        work: Callable[[], T],
        apply: Callable[[T], None],
        failed: Callable[[BaseException], None] | None = None,
        discard: Callable[[T], None] | None = None,
    ) -> None:
        """Run ``work()`` off the session's thread, then ``apply(result)`` (or ``failed(error)``) on it.

        Only the newest request per ``key`` is applied; a superseded result goes to
        ``discard`` (to release what it holds). ``work`` must not touch widgets on screen; it
        may build new, unattached Panel/HoloViews objects.
        """
        self._start(key, work, _Handlers(apply, failed, discard))

    def poll(
        self,
        key: str,
        work: Callable[[], T],
        apply: Callable[[T], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """``run`` for a periodic re-read: skipped while the previous read under ``key`` is still on its way.

        A timer that asked again before the last answer was shown superseded that answer, and under
        load (reads and deliveries slower than the timer) every answer was replaced before it was
        shown: the page never updated. Here each read is shown before the next is asked for.
        """
        with self._lock:
            if key in self._polling:
                return
            self._polling.add(key)

        def settled() -> None:
            with self._lock:
                self._polling.discard(key)

        self._start(key, work, _Handlers(apply, failed, None, settled))

    def cancel(self, key: str) -> None:
        """Drop whatever result is pending under ``key`` (the work itself finishes unobserved)."""
        with self._lock:
            self._latest[key] = next(self._counter)

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the session ends (stop timers, unwatch, release files)."""
        self._on_close.append(callback)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for callback in self._on_close:
            try:
                callback()
            except Exception:  # one failing clean-up must not skip the others
                log.exception("clean-up at session end failed")
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # --- internals -------------------------------------------------------------------------------
    def _in_session(self, work: Callable[[], T]) -> Any:
        """Work sees this session as current (for periodic callbacks or session hooks it registers)."""
        with set_curdoc(self._doc):
            return _call(work)

    def _current(self, key: str, ticket: int) -> bool:
        with self._lock:
            return not self._closed and self._latest.get(key) == ticket

    def _start(self, key: str, work: Callable[[], T], handlers: _Handlers) -> None:
        with self._lock:
            if self._closed:
                return
            ticket = self._latest[key] = next(self._counter)
        if self._executor is None:
            self._finish(key, ticket, _call(work), handlers)
            return
        future = self._executor.submit(self._in_session, work)
        future.add_done_callback(lambda done: self._deliver(key, ticket, done, handlers))

    def _deliver(self, key: str, ticket: int, future: Future, handlers: _Handlers) -> None:
        if future.cancelled():
            return
        outcome = future.result()
        if not self._current(key, ticket):
            handlers.drop(outcome)
            return
        run_on_session_thread(self._doc, lambda: self._finish(key, ticket, outcome, handlers))

    def _finish(self, key: str, ticket: int, outcome: tuple[bool, Any], handlers: _Handlers) -> None:
        if not self._current(key, ticket):
            handlers.drop(outcome)
            return
        ok, value = outcome
        try:
            if ok:
                handlers.apply(value)
            elif handlers.failed is not None:
                handlers.failed(value)
            else:
                log.error("background work %s failed", key, exc_info=value)
        except Exception:
            log.exception("applying background work %s failed", key)
        finally:
            handlers.settle()


@dataclass(frozen=True)
class _Handlers:
    """What to do with one request's outcome: shown (``apply``/``failed``), or superseded (``discard``, for a
    result that holds something to release); ``settled`` runs once either way."""

    apply: Callable[[Any], None]
    failed: Callable[[BaseException], None] | None = None
    discard: Callable[[Any], None] | None = None
    settled: Callable[[], None] | None = None

    def drop(self, outcome: tuple[bool, Any]) -> None:
        try:
            if outcome[0] and self.discard is not None:
                self.discard(outcome[1])
        except Exception:
            log.exception("releasing a superseded result failed")
        finally:
            self.settle()

    def settle(self) -> None:
        if self.settled is not None:
            self.settled()


def _call(work: Callable[[], T]) -> tuple[bool, Any]:
    try:
        return True, work()
    except Exception as exc:  # delivered to ``failed`` on the session's thread
        return False, exc
