"""The ``jobs.sqlite`` tables and the SQL statements several ``JobStore`` methods share.

Kept apart from ``store.py`` so the store reads as the queue's operations (submit, claim,
heartbeat, outcome) while the table layout and the statements that several of them run
inside their own transaction (finding an identical active request, re-queueing expired
leases, recording a worker) live in one place.
"""

from __future__ import annotations

import os
import socket
import sqlite3

__all__ = ["SCHEMA", "find_active_row", "requeue_expired", "touch_worker"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    inputs TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    code_version TEXT NOT NULL,
    source TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    error TEXT,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    worker_id TEXT,
    lease_s REAL,
    lease_expires REAL,
    result_key TEXT,
    summary TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_active_request
    ON jobs (kind, input_hash, code_version) WHERE status IN ('pending', 'running', 'done');
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, id);
CREATE INDEX IF NOT EXISTS jobs_by_finish ON jobs (status, finished);
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started REAL NOT NULL,
    last_seen REAL NOT NULL
);
"""

# A request in one of these states blocks an identical submit (the existing job is returned).
_ACTIVE = "('pending', 'running', 'done')"


def find_active_row(
    db: sqlite3.Connection, kind: str, input_hash: str, code_version: str
) -> sqlite3.Row | None:
    """The pending, running or done job for this exact request, as a row; None when there is none."""
    row: sqlite3.Row | None = db.execute(
        f"SELECT * FROM jobs WHERE kind = ? AND input_hash = ? AND code_version = ? AND status IN {_ACTIVE}",
        (kind, input_hash, code_version),
    ).fetchone()
    return row


def requeue_expired(db: sqlite3.Connection, now: float) -> int:
    """Put running jobs whose lease expired back in the queue (failed when out of attempts); how many."""
    cursor = db.execute(
        "UPDATE jobs SET "
        "error = 'worker ' || COALESCE(worker_id, '?') || ' stopped responding (its lease expired)', "
        "status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END, "
        "finished = CASE WHEN attempts >= max_attempts THEN ? ELSE NULL END, "
        "worker_id = NULL, lease_expires = NULL "
        "WHERE status = 'running' AND lease_expires < ?",
        (now, now),
    )
    return cursor.rowcount


def touch_worker(db: sqlite3.Connection, worker_id: str, now: float) -> None:
    """Record that a worker is alive now (registering it on its first call)."""
    db.execute(
        "INSERT INTO workers (worker_id, host, pid, started, last_seen) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (worker_id) DO UPDATE SET last_seen = excluded.last_seen",
        (worker_id, socket.gethostname(), os.getpid(), now, now),
    )
