"""What a job is: its status, its stored record, and the hash that makes identical requests one job.

A request is identified by (kind, input hash, code version): the same kind run on the same
inputs by the same code gives the same result, so it is computed once and reused.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engines.jobs.errors import InvalidJobRequest

__all__ = ["JobStatus", "Job", "WorkerInfo", "canonical_json", "hash_inputs", "check_name"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


class JobStatus(StrEnum):
    """Life of a job: pending -> running -> done | failed | cancelled (failed attempts go back to pending)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATUSES = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class Job:
    """One row of the job store, as read at one moment (re-read with ``JobStore.get`` to refresh)."""

    id: int
    kind: str
    inputs: dict[str, Any]
    input_hash: str
    code_version: str
    status: JobStatus
    attempts: int
    max_attempts: int
    error: str | None
    progress: float
    message: str
    created: float
    started: float | None
    finished: float | None
    worker_id: str | None
    lease_expires: float | None
    result_key: str | None
    summary: dict[str, Any] | None
    owner: str = ""
    """Who asked for it first (``Person.name``); '' for jobs queued before owners were recorded, or by the
    server itself: only admins may cancel or retry those."""

    @property
    def source(self) -> str | None:
        """The NWB source (path or URL) named in the inputs, if any; used to filter the job list."""
        value = self.inputs.get("source")
        return value if isinstance(value, str) else None

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        return cls(
            id=row["id"],
            kind=row["kind"],
            inputs=json.loads(row["inputs"]),
            input_hash=row["input_hash"],
            code_version=row["code_version"],
            status=JobStatus(row["status"]),
            attempts=row["attempts"],
            max_attempts=row["max_attempts"],
            error=row["error"],
            progress=row["progress"],
            message=row["message"],
            created=row["created"],
            started=row["started"],
            finished=row["finished"],
            worker_id=row["worker_id"],
            lease_expires=row["lease_expires"],
            result_key=row["result_key"],
            summary=json.loads(row["summary"]) if row["summary"] is not None else None,
            owner=row["owner"] if "owner" in row.keys() else "",
        )


@dataclass(frozen=True)
class WorkerInfo:
    """A worker as the store last saw it; ``last_seen`` older than its lease means it is probably gone."""

    worker_id: str
    host: str
    pid: int
    started: float
    last_seen: float
    current_job: int | None


def canonical_json(value: Any, what: str) -> str:
    """The one JSON spelling of ``value`` (sorted keys, no spaces), so equal inputs hash equally.

    Raises ``InvalidJobRequest`` when ``value`` holds something JSON cannot store
    (numpy scalars, paths, NaN); costs one ``json.dumps``.
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidJobRequest(
            f"{what} must be plain JSON (dicts with string keys, lists, str, int, float, bool, None): {exc}. "
            "Convert paths to str and numpy values to Python numbers."
        ) from exc


def hash_inputs(inputs: dict[str, Any]) -> str:
    """32 hex digits of SHA-256 over the canonical JSON of ``inputs``: the result folder's name."""
    if not isinstance(inputs, dict):
        raise InvalidJobRequest(f"job inputs must be a dict, got {type(inputs).__name__}")
    return hashlib.sha256(canonical_json(inputs, "job inputs").encode()).hexdigest()[:32]


def check_name(value: str, what: str) -> str:
    """Return ``value`` if it is safe as a folder name part (kind names and code versions become paths)."""
    if not isinstance(value, str) or not _SAFE_NAME.match(value):
        raise InvalidJobRequest(
            f"{what} {value!r} must be 1-64 characters of letters, digits, '.', '_', '+' or '-', "
            "starting with a letter or digit"
        )
    return value
