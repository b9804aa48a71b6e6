"""Run jobs on an existing Dask distributed cluster, with the job store still the source of truth.

A dispatcher thread in this process sends every pending job of a registered kind to the
cluster as one Dask task. The task claims *that* job through the store, runs it with the
same ``Worker`` code as every other backend (leases, heartbeats, cancel, result folders)
and records the outcome in the store. Dask only decides where and when a job runs, so:

* a failed attempt goes back to pending and the dispatcher sends it again;
* a Dask worker that dies mid-job leaves a lease that expires; the job is re-queued and re-sent;
* jobs submitted by other processes into the same workspace are picked up too.

Dask workers must see the workspace at the same path and import the kinds' modules.
"""

from __future__ import annotations

import logging
import threading
import uuid
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engines.jobs.errors import BackendUnavailable
from engines.jobs.kinds import KindRegistry
from engines.jobs.model import Job, JobStatus
from engines.jobs.results import ResultStore
from engines.jobs.store import JobStore
from engines.jobs.worker import Worker, one_line_reason

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["DaskBackend", "run_job_on_dask"]

log = logging.getLogger(__name__)


def run_job_on_dask(
    workspace: str, kinds: KindRegistry, job_id: int, lease_s: float, heartbeat_s: float | None
) -> str:
    """The Dask task: claim job ``job_id`` through the store and run it; returns its status afterwards.

    Does nothing (and returns the current status) when the job is no longer pending, e.g.
    cancelled while queued in Dask or already taken by another worker.
    """
    from distributed import get_worker

    try:
        place = get_worker().address
    except ValueError:  # run outside a Dask worker (client.run_on_scheduler, tests)
        place = "local"
    folder = Path(workspace)
    worker = Worker(
        JobStore(folder),
        ResultStore(folder),
        kinds,
        worker_id=f"dask@{place}:{threading.get_ident()}",
        lease_s=lease_s,
        heartbeat_s=heartbeat_s,
    )
    return str(worker.run_job(job_id).status)


class DaskBackend:
    """Jobs run as tasks on the Dask cluster at ``address`` (``tcp://host:8786``, or a ``LocalCluster``)."""

    def __init__(
        self,
        store: JobStore,
        results: ResultStore,
        kinds: KindRegistry,
        address: Any,
        lease_s: float = 30.0,
        poll_s: float = 0.5,
        heartbeat_s: float | None = None,
        max_in_flight: int = 1000,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.store = store
        self.results = results
        self.kinds = kinds
        self.address = address
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.max_in_flight = max_in_flight
        self.connect_timeout_s = connect_timeout_s
        self._client: Client | None = None
        self._futures: dict[int, Future[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._dispatcher: threading.Thread | None = None

    def start(self) -> None:
        """Connect to the scheduler (raises ``BackendUnavailable``) and start dispatching pending jobs."""
        if self._client is not None:
            return
        from distributed import Client

        try:
            self._client = Client(  # type: ignore[no-untyped-call]  # unannotated in distributed
                self.address, timeout=self.connect_timeout_s, set_as_default=False
            )
        except (OSError, TimeoutError) as exc:
            raise BackendUnavailable(
                f"could not reach the Dask scheduler at {self.address}: {exc}. "
                "Check the address, or start one with `dask scheduler`."
            ) from exc
        self._stop.clear()
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="dask-job-dispatcher", daemon=True
        )
        self._dispatcher.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop dispatching and disconnect. Tasks already running on Dask finish and record their outcome."""
        self._stop.set()
        self._wake.set()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout_s)
            self._dispatcher = None
        with self._lock:
            self._futures.clear()
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]  # unannotated in distributed
            self._client = None

    def submit(self, kind: str, inputs: dict[str, Any], max_attempts: int = 3) -> Job:
        job = self.store.submit(kind, inputs, self.kinds.get(kind).code_version, max_attempts)
        self._wake.set()
        return job

    def describe(self) -> dict[str, Any]:
        client = self._client
        with self._lock:
            in_flight = len(self._futures)
        return {
            "backend": "dask",
            "address": str(self.address),
            "in_flight": in_flight,
            "workers": (
                len(client.nthreads())  # type: ignore[no-untyped-call]  # unannotated in distributed
                if client is not None
                else 0
            ),
            "dashboard": client.dashboard_link if client is not None else None,
            "kinds": list(self.kinds.names()),
        }

    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._dispatch_pending()
            except Exception:  # store or scheduler hiccup: try again next round
                log.exception("dispatching jobs to Dask at %s failed", self.address)
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _dispatch_pending(self) -> None:
        """Send each pending job of a registered kind that has no task in flight. Costs two store reads."""
        self.store.requeue_expired()
        client = self._client
        for job in self.store.list(status=JobStatus.PENDING, oldest_first=True, limit=self.max_in_flight):
            if self._stop.is_set() or client is None:
                return
            with self._lock:
                if job.kind not in self.kinds or job.id in self._futures:
                    continue
            future = client.submit(
                run_job_on_dask,
                str(self.store.workspace),
                self.kinds,
                job.id,
                self.lease_s,
                self.heartbeat_s,
                key=f"neurodeck-job-{job.id}-{uuid.uuid4().hex[:8]}",
                pure=False,
            )
            with self._lock:
                self._futures[job.id] = future
            done = partial(self._task_finished, job.id)
            future.add_done_callback(done)  # type: ignore[no-untyped-call]  # unannotated in distributed

    def _task_finished(self, job_id: int, future: Future[str]) -> None:
        """Forget the task; if Dask could not run it at all, fail the job so it is not re-sent forever."""
        with self._lock:
            if self._futures.get(job_id) is future:
                del self._futures[job_id]
        if future.status == "error":
            reason = one_line_reason(future.exception())  # type: ignore[no-untyped-call]  # unannotated in distributed
            log.error("Dask could not run job %s: %s", job_id, reason)
            self.store.reject(job_id, f"Dask could not run the job: {reason}")
        self._wake.set()
