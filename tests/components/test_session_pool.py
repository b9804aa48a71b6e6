"""Panel's callback pool, in order per widget: one widget's changes in a session never overlap and keep their
order,
while other widgets and sessions run side by side (what a browser sending quick changes expects)."""

from __future__ import annotations

import threading
import time

import panel as pn
import pytest
from bokeh.document import Document
from panel.io.state import state

from components.session_pool import SessionOrderedPool, order_callbacks_per_session


class _Widget:
    """Stands where Panel's widget is: the pool sees its ``_change_event(doc)`` tasks (the method Panel
    submits)."""

    def __init__(self, log: list, lock: threading.Lock) -> None:
        self.log, self.lock, self.pending = log, lock, []

    def _change_event(self, doc: Document) -> str:
        name, pause_s = self.pending.pop(0)
        with self.lock:
            self.log.append(("start", name))
        time.sleep(pause_s)
        with self.lock:
            self.log.append(("end", name))
        return name


def _changes(
    pool: SessionOrderedPool, widget: _Widget, doc: Document, changes: list[tuple[str, float]]
) -> list:
    futures = []
    for change in changes:
        widget.pending.append(change)
        futures.append(pool.submit(widget._change_event, doc))
    return futures


def test_one_widgets_changes_apply_in_order_one_at_a_time():
    pool, log, lock = SessionOrderedPool(4), [], threading.Lock()
    widget = _Widget(log, lock)
    try:
        futures = _changes(
            pool, widget, Document(), [("nitime", 0.3), ("nitime again", 0.0), ("session", 0.1)]
        )
        assert [f.result(10) for f in futures] == ["nitime", "nitime again", "session"]
    finally:
        pool.shutdown(wait=True)
    assert log == [
        ("start", "nitime"),
        ("end", "nitime"),
        ("start", "nitime again"),
        ("end", "nitime again"),
        ("start", "session"),
        ("end", "session"),
    ]
    assert pool.sessions_waiting() == 0  # a drained queue is forgotten


def test_other_widgets_sessions_and_tasks_run_side_by_side():
    pool, log, lock, doc = SessionOrderedPool(4), [], threading.Lock(), Document()
    started = time.monotonic()
    try:
        futures = [
            *_changes(pool, _Widget(log, lock), doc, [("tabs", 0.5)]),
            *_changes(pool, _Widget(log, lock), doc, [("address", 0.5)]),
            *_changes(pool, _Widget(log, lock), Document(), [("another session", 0.5)]),
            pool.submit(time.sleep, 0.5),
        ]  # a periodic callback
        for future in futures:
            future.result(10)
    finally:
        pool.shutdown(wait=True)
    assert time.monotonic() - started < 1.2  # not 2 s one after another


def test_a_failing_change_does_not_stop_the_widgets_next_one():
    pool, doc = SessionOrderedPool(2), Document()

    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        def _change_event(self, _doc: Document) -> str:
            self.calls += 1
            if self.calls == 1:
                raise ValueError("broken callback")
            return "ran"

    widget = Broken()
    try:
        failed, after = pool.submit(widget._change_event, doc), pool.submit(widget._change_event, doc)
        with pytest.raises(ValueError, match="broken callback"):
            failed.result(10)
        assert after.result(10) == "ran"
    finally:
        pool.shutdown(wait=True)


def test_the_server_uses_it_for_panels_callbacks():
    before = pn.config.nthreads, state._thread_pool
    try:
        order_callbacks_per_session(3)
        assert isinstance(state._thread_pool, SessionOrderedPool) and pn.config.nthreads == 3
        order_callbacks_per_session(3)  # again (a second server in one process): still ours, no error
        assert isinstance(state._thread_pool, SessionOrderedPool)
    finally:
        state._thread_pool.shutdown(wait=False)
        state._thread_pool = None
        pn.config.nthreads = before[0]
        state._thread_pool = before[1]
