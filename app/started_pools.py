"""The server's shared thread pools, with all their threads started before the first session.

Two pools serve every session of a process: Panel's callback pool (``components.session_pool``,
``--num-threads``) and asyncio's default executor, where Panel runs a chat's send callback
(``asyncio.to_thread``) and tornado looks up host names. A ``ThreadPoolExecutor`` starts a thread
only when a task finds none idle, so the server's thread count crept up with the most people ever
active at once, up to the pools' sizes, and stayed there: the load benchmark counted those threads
as leaked after each busier step. Started in full at start-up, the pools make the thread count
independent of past load. They must be started in the process that uses them, after Bokeh's
``--num-procs`` fork (threads do not survive a fork).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["start_pools", "start_every_thread", "DEFAULT_EXECUTOR_THREADS"]

log = logging.getLogger(__name__)

DEFAULT_EXECUTOR_THREADS = min(32, (os.cpu_count() or 1) + 4)
"""Python's own size for asyncio's default executor."""


def start_every_thread(executor: ThreadPoolExecutor) -> None:
    """Make ``executor`` start all its threads now (each task holds its thread until all are up)."""
    threads = executor._max_workers  # the size given at construction; no public accessor
    everyone = threading.Barrier(threads + 1)
    for _ in range(threads):
        executor.submit(everyone.wait, 10)
    try:
        everyone.wait(10)
    except threading.BrokenBarrierError:  # a slow start only means the pool grows later, as it did before
        log.warning("not every thread of %s started within 10 s", executor)


def start_pools(
    loop: asyncio.AbstractEventLoop,
    callbacks: ThreadPoolExecutor | None,
    default_threads: int = DEFAULT_EXECUTOR_THREADS,
) -> ThreadPoolExecutor:
    """On the server's loop, in the serving process: start Panel's callback pool (``callbacks``) and give
    ``loop`` a default executor of ``default_threads``, all threads running; returns that executor."""
    if callbacks is not None:
        start_every_thread(callbacks)
    default = ThreadPoolExecutor(default_threads, thread_name_prefix="asyncio")
    start_every_thread(default)
    loop.set_default_executor(default)
    return default
