"""Where jobs run: worker threads in this process, or a standalone worker process.

Every backend only *submits* to the ``JobStore`` and starts workers that claim from it, so
the store stays the one source of truth: a job submitted through any backend can be run by
any worker that sees the workspace, and the job list looks the same whichever ran it.
``DaskBackend`` (in ``engines.jobs.dask_backend``) follows the same protocol.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from engines.jobs.kinds import KindRegistry
from engines.jobs.model import Job
from engines.jobs.results import ResultStore
from engines.jobs.store import JobStore
from engines.jobs.worker import Worker

__all__ = ["JobBackend", "InProcessBackend", "run_worker_process"]

log = logging.getLogger(__name__)


@runtime_checkable
class JobBackend(Protocol):
    """What the server needs from a place that runs jobs."""

    def start(self) -> None:
        """Start the workers (or connect to them); jobs already queued start running."""

    def stop(self) -> None:
        """Stop taking jobs; running jobs are handed back to the queue or left to finish."""

    def submit(self, kind: str, inputs: dict[str, Any], max_attempts: int = 3) -> Job:
        """Queue a job of a registered kind at its registered code version (idempotent)."""

    def describe(self) -> dict[str, Any]:
        """A few facts for the jobs page: backend name, worker count, where it runs."""


class InProcessBackend:
    """``n_workers`` worker threads in this process: the server's default backend.

    Threads suit kinds that spend their time in I/O or in NumPy/HDF5 code that releases the
    GIL; CPU-bound pure-Python kinds are better run by standalone worker processes.
    """

    def __init__(
        self,
        store: JobStore,
        results: ResultStore,
        kinds: KindRegistry,
        n_workers: int = 2,
        lease_s: float = 30.0,
        poll_s: float = 0.5,
        heartbeat_s: float | None = None,
    ) -> None:
        self.store = store
        self.results = results
        self.kinds = kinds
        self.n_workers = n_workers
        self.workers = [
            Worker(store, results, kinds, lease_s=lease_s, poll_s=poll_s, heartbeat_s=heartbeat_s)
            for _ in range(n_workers)
        ]
        self._stop_event = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self._threads:
            return
        self._stop_event.clear()
        self._threads = [
            threading.Thread(
                target=worker.run_forever, args=(self._stop_event,), name=f"job-worker-{i}", daemon=True
            )
            for i, worker in enumerate(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the workers to stop and wait up to ``timeout_s`` for running kinds to notice.

        A kind that never calls ``ctx.report`` cannot be interrupted; its thread is left to
        finish (it is a daemon) and its job goes back to the queue when the lease runs out.
        """
        self._stop_event.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s is still running a job that ignores cancellation", thread.name)
        self._threads = []

    def submit(self, kind: str, inputs: dict[str, Any], max_attempts: int = 3) -> Job:
        return self.store.submit(kind, inputs, self.kinds.get(kind).code_version, max_attempts)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "in-process",
            "workers": self.n_workers,
            "running": sum(thread.is_alive() for thread in self._threads),
            "kinds": list(self.kinds.names()),
        }


def run_worker_process(
    workspace: Path,
    kinds: KindRegistry,
    stop_event: threading.Event | None = None,
    n_workers: int = 1,
    lease_s: float = 30.0,
    poll_s: float = 0.5,
    heartbeat_s: float | None = None,
) -> None:
    """Run workers on ``workspace`` until ``stop_event`` is set, SIGTERM arrives or Ctrl-C is pressed.

    What ``python run.py worker --workspace DIR`` calls. Any machine that sees the workspace
    folder can run it; running jobs are handed back to the queue on a clean stop, and a
    killed process's job is re-run by another worker once its lease expires. SQLite's WAL
    journal needs every process on one machine (not NFS); see ``JobStore``.
    """
    stop_event = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: stop_event.set())
    workspace = Path(workspace)
    backend = InProcessBackend(
        JobStore(workspace), ResultStore(workspace), kinds, n_workers, lease_s, poll_s, heartbeat_s
    )
    backend.start()
    log.info("%d worker(s) on %s for kinds %s", n_workers, workspace, ", ".join(kinds.names()))
    try:
        while not stop_event.wait(1.0):  # short waits keep the main thread responsive to signals
            pass
    finally:
        backend.stop()
