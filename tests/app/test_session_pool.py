"""Panel's callback pool, in order per session: one session's tasks never overlap and keep their order, while
different sessions run side by side (what a browser sending quick changes expects)."""

from __future__ import annotations

import threading
import time
from functools import partial

import panel as pn
import pytest
from bokeh.document import Document
from panel.io.state import state

from components.session_pool import SessionOrderedPool, order_callbacks_per_session


def _record(log: list, lock: threading.Lock, doc: Document, name: str, pause_s: float) -> str:
    with lock:
        log.append(("start", name))
    time.sleep(pause_s)
    with lock:
        log.append(("end", name))
    return name


def test_one_sessions_tasks_run_in_order_one_at_a_time():
    pool, log, lock, doc = SessionOrderedPool(4), [], threading.Lock(), Document()
    try:
        futures = [pool.submit(partial(_record, log, lock), doc, name, pause)
                   for name, pause in (("first", 0.3), ("second", 0.0), ("third", 0.1))]
        assert [f.result(10) for f in futures] == ["first", "second", "third"]
    finally:
        pool.shutdown(wait=True)
    assert log == [("start", "first"), ("end", "first"), ("start", "second"), ("end", "second"),
                   ("start", "third"), ("end", "third")]
    assert pool.sessions_waiting() == 0  # a drained session is forgotten


def test_different_sessions_and_tasks_without_a_session_run_side_by_side():
    pool, log, lock = SessionOrderedPool(4), [], threading.Lock()
    started = time.monotonic()
    try:
        futures = [pool.submit(partial(_record, log, lock), Document(), f"session {i}", 0.5) for i in range(3)]
        futures.append(pool.submit(time.sleep, 0.5))  # a periodic callback: no session
        for future in futures:
            future.result(10)
    finally:
        pool.shutdown(wait=True)
    assert time.monotonic() - started < 1.2  # not 2 s one after another


def test_a_failing_task_does_not_stop_the_sessions_next_one():
    pool, doc = SessionOrderedPool(2), Document()

    def fail(_doc: Document) -> None:
        raise ValueError("broken callback")

    try:
        failed, after = pool.submit(fail, doc), pool.submit(lambda _doc: "ran", doc)
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
