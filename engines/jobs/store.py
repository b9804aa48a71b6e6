"""The job queue, kept in ``<workspace>/jobs.sqlite``: the single source of truth for every backend.

Every call opens a connection, runs one short transaction and closes it, so a ``JobStore``
is safe to share between threads and processes. On a local disk the journal is WAL
(``synchronous=NORMAL``: about a millisecond a call); on a network filesystem (NFS, SMB,
Lustre, ...), where workers on several machines share the workspace, it is SQLite's rollback
journal, which relies on the filesystem's POSIX locks (slower, but safe across hosts). Writes
take SQLite's write lock up front (``BEGIN IMMEDIATE``), which is what makes ``claim_next``
atomic: two workers can never claim the same job.

Leases: a claimed job belongs to its worker until ``lease_expires``; the worker extends it
with ``heartbeat``. A worker that dies stops extending it, and the next ``claim_next`` (or
``requeue_expired``) puts the job back in the queue, counting the attempt.
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engines._owners import add_owner_column
from engines.jobs import queue_sql
from engines.jobs.errors import InvalidJobRequest, JobNotFound
from engines.jobs.model import (
    Job,
    JobStatus,
    WorkerInfo,
    canonical_json,
    check_name,
    hash_inputs,
)
from engines.workspace_db import WorkspaceDb

__all__ = ["JobStore"]

IDLE_HEARTBEAT_S = 5.0
"""An idle worker's heartbeat is written at most this often (its lease, 30 s by default, says when it is
gone)."""


class JobStore:
    """Persistent job queue with leases, retries and idempotent submits (see module docstring)."""

    def __init__(self, workspace: Path) -> None:
        workspace = Path(workspace)
        workspace.mkdir(parents=True, exist_ok=True)
        self.workspace = workspace
        self.path = workspace / "jobs.sqlite"
        self._db = WorkspaceDb(self.path, queue_sql.SCHEMA)
        self._last_touch: dict[str, float] = {}  # worker id -> when its idle poll last wrote its heartbeat
        self._poll_connection = threading.local()  # each polling thread's own read connection
        with self._db.write() as db:
            add_owner_column(db, "jobs")

    @property
    def journal_mode(self) -> str:
        return self._db.journal_mode

    @staticmethod
    def _job(db: sqlite3.Connection, job_id: int) -> Job:
        row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id} in this workspace; refresh the job list")
        return Job.from_row(row)

    # -- submitting and reading --------------------------------------------------------------

    def submit(self, kind: str, inputs: dict[str, Any], code_version: str, max_attempts: int = 3) -> Job:
        """Queue a job, or return the identical pending/running/done one (so done work is never redone).

        A failed or cancelled identical job does not block: a new job is queued.
        """
        check_name(kind, "job kind")
        check_name(code_version, "code version")
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise InvalidJobRequest(f"max_attempts must be a whole number >= 1, got {max_attempts!r}")
        input_hash = hash_inputs(inputs)
        source = inputs.get("source") if isinstance(inputs.get("source"), str) else None
        with self._db.write() as db:
            row = queue_sql.find_active_row(db, kind, input_hash, code_version)
            if row is not None:
                return Job.from_row(row)
            cursor = db.execute(
                "INSERT INTO jobs (kind, inputs, input_hash, code_version, source, status, max_attempts, "
                "created) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (
                    kind,
                    canonical_json(inputs, "job inputs"),
                    input_hash,
                    code_version,
                    source,
                    max_attempts,
                    time.time(),
                ),
            )
            if cursor.lastrowid is None:  # sqlite3 sets it after every INSERT; None would be a driver bug
                raise RuntimeError("SQLite did not report the id of the job it just queued")
            return self._job(db, cursor.lastrowid)

    def find_active(self, kind: str, inputs: dict[str, Any], code_version: str) -> Job | None:
        """The pending, running or done job an identical request would be answered with (None: it would queue
        one)."""
        with self._db.read() as db:
            row = queue_sql.find_active_row(db, kind, hash_inputs(inputs), code_version)
        return None if row is None else Job.from_row(row)

    def set_owner(self, job_id: int, owner: str) -> Job:
        """Record who asked for a job, unless someone already is its owner (the first asker keeps it)."""
        with self._db.write() as db:
            db.execute("UPDATE jobs SET owner = ? WHERE id = ? AND owner = ''", (owner, job_id))
            return self._job(db, job_id)

    def get(self, job_id: int) -> Job:
        """The job as stored now; raises ``JobNotFound``."""
        with self._db.read() as db:
            return self._job(db, job_id)

    def list(
        self,
        status: JobStatus | str | None = None,
        kind: str | None = None,
        source: str | None = None,
        limit: int = 500,
        oldest_first: bool = False,
    ) -> list[Job]:
        """Jobs matching every filter given, newest first unless ``oldest_first`` (queue order)."""
        clauses, params = [], []
        for column, value in (("status", status), ("kind", kind), ("source", source)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(str(value))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ASC" if oldest_first else "DESC"
        with self._db.read() as db:
            rows = db.execute(
                f"SELECT * FROM jobs {where} ORDER BY id {order} LIMIT ?", (*params, limit)
            ).fetchall()
        return [Job.from_row(row) for row in rows]

    def is_done(self, kind: str, inputs: dict[str, Any], code_version: str) -> bool:
        """Whether this exact request already finished successfully (its result can be reused)."""
        with self._db.read() as db:
            row = db.execute(
                "SELECT 1 FROM jobs WHERE kind = ? AND input_hash = ? AND code_version = ? "
                "AND status = 'done'",
                (kind, hash_inputs(inputs), code_version),
            ).fetchone()
        return row is not None

    def counts(self) -> dict[JobStatus, int]:
        """How many jobs are in each status (every status present, zero if none)."""
        with self._db.read() as db:
            rows = db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        found = {JobStatus(status): count for status, count in rows}
        return {status: found.get(status, 0) for status in JobStatus}

    def queue_position(self, job_id: int) -> int | None:
        """1 for the next job to be claimed; None when the job is not waiting."""
        with self._db.read() as db:
            job = self._job(db, job_id)
            if job.status is not JobStatus.PENDING:
                return None
            (ahead,) = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE status = 'pending' AND id < ?", (job_id,)
            ).fetchone()
        return int(ahead) + 1

    def throughput(
        self, bucket_s: float = 60.0, since: float | None = None
    ) -> builtins.list[tuple[float, int]]:
        """Jobs done per time bucket, as (bucket start, count) in time order, empty buckets left out."""
        if bucket_s <= 0:
            raise InvalidJobRequest(f"bucket_s must be positive, got {bucket_s}")
        with self._db.read() as db:
            rows = db.execute(
                "SELECT CAST(finished / ? AS INTEGER) AS bucket, COUNT(*) FROM jobs "
                "WHERE status = 'done' AND finished >= ? GROUP BY bucket ORDER BY bucket",
                (bucket_s, since if since is not None else 0.0),
            ).fetchall()
        return [(bucket * bucket_s, count) for bucket, count in rows]

    # -- workers: claiming, heartbeats, outcomes ---------------------------------------------

    def claim_next(self, worker_id: str, kinds: Iterable[str], lease_s: float) -> Job | None:
        """Atomically take the oldest pending job of one of ``kinds``; None when there is none.

        Also puts jobs with expired leases back in the queue first, so a dead worker's job is
        picked up by whoever polls next.
        """
        kinds = tuple(kinds)
        if not kinds:
            return None
        now = time.time()
        marks = ",".join("?" * len(kinds))
        if now - self._last_touch.get(worker_id, 0.0) < IDLE_HEARTBEAT_S and not self._claimable(
            kinds, marks, now
        ):
            return (
                None  # an idle poll only reads: a write per worker per poll was a steady cost of every server
            )
        self._last_touch[worker_id] = now
        with self._db.write() as db:
            queue_sql.requeue_expired(db, now)
            queue_sql.touch_worker(db, worker_id, now)
            row = db.execute(
                f"SELECT id FROM jobs WHERE status = 'pending' AND kind IN ({marks}) ORDER BY id LIMIT 1",
                kinds,
            ).fetchone()
            return None if row is None else self._take(db, row["id"], worker_id, lease_s, now)

    def _claimable(self, kinds: tuple[str, ...], marks: str, now: float) -> bool:
        """A pending job of one of ``kinds``, or a running job whose lease expired (to put back in the queue).

        Read on a connection kept by the polling thread: opening one per poll cost more than the query.
        """
        db = getattr(self._poll_connection, "db", None)
        if db is None:
            db = self._poll_connection.db = self._db.connect()
        return bool(
            db.execute(
                f"SELECT EXISTS (SELECT 1 FROM jobs WHERE (status = 'pending' AND kind IN ({marks})) "
                "OR (status = 'running' AND lease_expires < ?))",
                (*kinds, now),
            ).fetchone()[0]
        )

    def claim(self, job_id: int, worker_id: str, lease_s: float) -> Job | None:
        """Take this job if it is pending (how a Dask task runs the job it was sent for); None otherwise."""
        now = time.time()
        with self._db.write() as db:
            queue_sql.requeue_expired(db, now)
            queue_sql.touch_worker(db, worker_id, now)
            if self._job(db, job_id).status is not JobStatus.PENDING:
                return None
            return self._take(db, job_id, worker_id, lease_s, now)

    def _take(self, db: sqlite3.Connection, job_id: int, worker_id: str, lease_s: float, now: float) -> Job:
        db.execute(
            "UPDATE jobs SET status = 'running', worker_id = ?, attempts = attempts + 1, started = ?, "
            "lease_s = ?, lease_expires = ?, progress = 0, message = '' WHERE id = ?",
            (worker_id, now, lease_s, now + lease_s, job_id),
        )
        return self._job(db, job_id)

    def heartbeat(
        self, job_id: int, worker_id: str, progress: float | None = None, message: str | None = None
    ) -> bool:
        """Extend the lease and record progress; False when the worker no longer holds the job
        (cancelled, or re-leased after its lease expired): the worker must then stop it."""
        now = time.time()
        with self._db.write() as db:
            queue_sql.touch_worker(db, worker_id, now)
            cursor = db.execute(
                "UPDATE jobs SET lease_expires = ? + lease_s, progress = COALESCE(?, progress), "
                "message = COALESCE(?, message) WHERE id = ? AND worker_id = ? AND status = 'running'",
                (now, progress, message, job_id, worker_id),
            )
        return cursor.rowcount == 1

    def complete(self, job_id: int, worker_id: str, result_key: str, summary: dict[str, Any]) -> bool:
        """Mark the job done with its result; False (and nothing changed) if the worker lost the job."""
        summary_json = canonical_json(summary, "job summary")
        with self._db.write() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = 'done', finished = ?, progress = 1, result_key = ?, summary = ?, "
                "error = NULL, lease_expires = NULL WHERE id = ? AND worker_id = ? AND status = 'running'",
                (time.time(), result_key, summary_json, job_id, worker_id),
            )
        return cursor.rowcount == 1

    def fail(self, job_id: int, worker_id: str, error: str) -> bool:
        """Record a failed attempt: back to pending while attempts remain, else failed for good.

        False (and nothing changed) if the worker lost the job.
        """
        with self._db.write() as db:
            cursor = db.execute(
                "UPDATE jobs SET error = ?, lease_expires = NULL, "
                "status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END, "
                "finished = CASE WHEN attempts >= max_attempts THEN ? ELSE NULL END, "
                "worker_id = CASE WHEN attempts >= max_attempts THEN worker_id ELSE NULL END "
                "WHERE id = ? AND worker_id = ? AND status = 'running'",
                (error, time.time(), job_id, worker_id),
            )
        return cursor.rowcount == 1

    def release(self, job_id: int, worker_id: str) -> bool:
        """Give a job back to the queue without counting the attempt (its worker is shutting down)."""
        with self._db.write() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = 'pending', attempts = attempts - 1, worker_id = NULL, "
                "lease_expires = NULL, progress = 0, message = '' "
                "WHERE id = ? AND worker_id = ? AND status = 'running'",
                (job_id, worker_id),
            )
        return cursor.rowcount == 1

    def reject(self, job_id: int, error: str) -> Job:
        """Fail a pending job without running it (no worker can load its code); other states are left as
        is."""
        with self._db.write() as db:
            db.execute(
                "UPDATE jobs SET status = 'failed', error = ?, finished = ? "
                "WHERE id = ? AND status = 'pending'",
                (error, time.time(), job_id),
            )
            return self._job(db, job_id)

    # -- people: cancel and retry ------------------------------------------------------------

    def cancel(self, job_id: int) -> Job:
        """Cancel a pending or running job (a running one stops at its worker's next heartbeat).

        Finished jobs are returned unchanged, so cancelling twice is harmless.
        """
        with self._db.write() as db:
            db.execute(
                "UPDATE jobs SET status = 'cancelled', finished = ?, lease_expires = NULL "
                "WHERE id = ? AND status IN ('pending', 'running')",
                (time.time(), job_id),
            )
            return self._job(db, job_id)

    def retry(self, job_id: int) -> Job:
        """Queue a failed or cancelled job again with fresh attempts.

        If an identical request was submitted meanwhile, that job is returned instead; jobs that
        are pending, running or done are returned unchanged.
        """
        with self._db.write() as db:
            job = self._job(db, job_id)
            if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
                return job
            row = queue_sql.find_active_row(db, job.kind, job.input_hash, job.code_version)
            if row is not None:
                return Job.from_row(row)
            db.execute(
                "UPDATE jobs SET status = 'pending', attempts = 0, error = NULL, progress = 0, message = '', "
                "started = NULL, finished = NULL, worker_id = NULL, lease_expires = NULL WHERE id = ?",
                (job_id,),
            )
            return self._job(db, job_id)

    # -- leases and the workers table --------------------------------------------------------

    def requeue_expired(self) -> int:
        """Put running jobs whose lease expired back in the queue (or fail them if out of attempts).

        Returns how many jobs were touched. ``claim_next`` does this too, so an explicit call is
        only needed where nobody claims (the Dask dispatcher).
        """
        with self._db.write() as db:
            return queue_sql.requeue_expired(db, time.time())

    def workers(self) -> builtins.list[WorkerInfo]:
        """Workers that polled or heartbeated, with the job each is running now (if any)."""
        with self._db.read() as db:
            rows = db.execute(
                "SELECT w.*, (SELECT j.id FROM jobs j "
                "WHERE j.worker_id = w.worker_id AND j.status = 'running' "
                "ORDER BY j.id LIMIT 1) AS current_job FROM workers w ORDER BY w.worker_id"
            ).fetchall()
        return [
            WorkerInfo(
                row["worker_id"],
                row["host"],
                row["pid"],
                row["started"],
                row["last_seen"],
                row["current_job"],
            )
            for row in rows
        ]

    def forget_worker(self, worker_id: str) -> None:
        """Drop a worker from the workers table (it stopped cleanly)."""
        with self._db.write() as db:
            db.execute("DELETE FROM workers WHERE worker_id = ?", (worker_id,))
