"""A worker: claims jobs from the store, runs their kind, publishes the result, records the outcome.

While a kind runs, a heartbeat thread sends its progress to the store every ``heartbeat_s``
and extends the lease. When the store answers that the job is no longer this worker's
(cancelled, or re-leased after the lease ran out) the job's context is marked cancelled and
the kind's next ``ctx.report`` raises ``Cancelled``. Any other exception from a kind fails
that attempt with a one-line reason; the worker goes on with the next job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from types import TracebackType
from typing import Any

from engines._progress import Cancelled
from engines.jobs.errors import InvalidJobRequest
from engines.jobs.kinds import JobContext, JobKind, KindRegistry
from engines.jobs.model import Job, canonical_json
from engines.jobs.results import ResultStore
from engines.jobs.store import JobStore

__all__ = ["Worker", "new_worker_id", "one_line_reason"]

log = logging.getLogger(__name__)

_MAX_ERROR_CHARS = 500


def new_worker_id(prefix: str = "worker") -> str:
    """A worker id that says where the worker runs: ``prefix@host:pid:random``."""
    return f"{prefix}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def one_line_reason(exc: BaseException) -> str:
    """``Type: first line of the message``, cut to a length a job table can show."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


class Worker:
    """Runs jobs of the registered kinds, one at a time, through a ``JobStore`` and ``ResultStore``."""

    def __init__(
        self,
        store: JobStore,
        results: ResultStore,
        kinds: KindRegistry,
        worker_id: str | None = None,
        lease_s: float = 30.0,
        poll_s: float = 0.5,
        heartbeat_s: float | None = None,
    ) -> None:
        self.store = store
        self.results = results
        self.kinds = kinds
        self.worker_id = worker_id or new_worker_id()
        self.lease_s = lease_s
        self.poll_s = poll_s
        # Often enough that a lease survives two missed beats and a cancel is noticed within a second.
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else min(lease_s / 3, 1.0)
        self._stopping = threading.Event()

    def run_forever(self, stop_event: threading.Event) -> None:
        """Claim and run jobs until ``stop_event`` is set; a running job is then handed back to the queue."""
        self._stopping = stop_event
        try:
            while not stop_event.is_set():
                try:
                    ran = self.run_one()
                except Exception:  # the store itself failed (disk full, locked too long): wait and go on
                    log.exception("worker %s could not claim a job", self.worker_id)
                    ran = False
                if not ran:
                    stop_event.wait(self.poll_s)
        finally:
            self.store.forget_worker(self.worker_id)

    def run_one(self) -> bool:
        """Claim the oldest pending job of a registered kind and run it; False if the queue had none."""
        job = self.store.claim_next(self.worker_id, self.kinds.names(), self.lease_s)
        if job is None:
            return False
        self._run(job)
        return True

    def run_job(self, job_id: int) -> Job:
        """Claim and run this one job if it is pending (the Dask path); returns the job as stored after."""
        job = self.store.get(job_id)
        self.kinds.get(job.kind)  # an unknown kind must not be claimed: raises UnknownJobKind
        claimed = self.store.claim(job_id, self.worker_id, self.lease_s)
        if claimed is not None:
            self._run(claimed)
        return self.store.get(job_id)

    def _run(self, job: Job) -> None:
        kind = self.kinds.get(job.kind)
        result_key = self.results.key(job.kind, job.input_hash, job.code_version)
        existing = self.results.path_for(job.kind, job.input_hash, job.code_version)
        if existing is not None:  # an earlier job already made this result: reuse it, run nothing
            self.store.complete(
                job.id, self.worker_id, result_key, self.results.manifest(existing)["summary"]
            )
            return
        output_dir = self.results.start(job.kind, job.input_hash, job.code_version, job.id)
        ctx = JobContext(job, output_dir, self._stopping)
        try:
            with _Heartbeat(self, job.id, ctx):
                summary = self._attempt(kind, job, ctx)
        except BaseException:  # KeyboardInterrupt/SystemExit inside the kind: hand the job back, then stop
            self.results.discard(output_dir)
            self.store.release(job.id, self.worker_id)
            raise
        if summary is None:
            self.results.discard(output_dir)
        else:
            self.store.complete(job.id, self.worker_id, result_key, summary)

    def _attempt(self, kind: JobKind, job: Job, ctx: JobContext) -> dict[str, Any] | None:
        """Run the kind and publish its folder; None after recording a cancel, hand-back or failure."""
        try:
            summary = kind.run(job.inputs, ctx)
            if ctx.revoked():  # finished anyway, but the job is no longer ours: do not publish
                raise Cancelled(ctx.stop_reason())
            if not isinstance(summary, dict):
                raise InvalidJobRequest(
                    f"job kind {job.kind!r} must return a dict summary, got {type(summary).__name__}"
                )
            canonical_json(summary, f"the summary returned by job kind {job.kind!r}")
            self.results.publish(
                ctx.output_dir,
                job.kind,
                job.input_hash,
                job.code_version,
                {"inputs": job.inputs, "summary": summary, "job_id": job.id, "worker_id": self.worker_id},
            )
            return summary
        except Exception as exc:
            if ctx.cancelled():  # Cancelled, or whatever the kind raised while being stopped
                if self._stopping.is_set():
                    self.store.release(job.id, self.worker_id)
                log.info("job %s stopped: %s", job.id, ctx.stop_reason())
                return None
            log.warning("job %s (%s) attempt %s failed", job.id, job.kind, job.attempts, exc_info=True)
            self.store.fail(job.id, self.worker_id, one_line_reason(exc))
            return None


class _Heartbeat:
    """Background thread that extends the job's lease and sends progress while the kind runs."""

    def __init__(self, worker: Worker, job_id: int, ctx: JobContext) -> None:
        self._worker = worker
        self._job_id = job_id
        self._ctx = ctx
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-job-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        worker = self._worker
        while not self._done.wait(worker.heartbeat_s):
            progress, message = self._ctx.progress_snapshot()
            try:
                still_ours = worker.store.heartbeat(self._job_id, worker.worker_id, progress, message)
            except Exception:  # a missed beat is survivable: the lease is three beats long
                log.exception("heartbeat for job %s failed", self._job_id)
                continue
            if not still_ours:
                self._ctx.mark_cancelled()
                return
