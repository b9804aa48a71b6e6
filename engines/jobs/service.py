"""What pages use to ask for a job's result and follow it: request, state, retry, cancel.

A request names a kind and that kind's inputs, nothing else (no open file, no session), so
any engine's page, a CLI and another job can ask for the same result and share it:
identical requests are one job, and a done job's result folder is reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.jobs.backends import JobBackend
from engines.jobs.kinds import KindRegistry
from engines.jobs.model import Job, JobStatus
from engines.jobs.results import ResultStore
from engines.jobs.store import JobStore

__all__ = ["JobService", "JobState"]


@dataclass(frozen=True)
class JobState:
    """What a view needs to know about one requested result: its job and, once done, its folder."""

    job: Job
    result_dir: Path | None
    queue_position: int | None

    @property
    def done(self) -> bool:
        return self.job.status == JobStatus.DONE and self.result_dir is not None

    @property
    def failed(self) -> bool:
        return self.job.status in (JobStatus.FAILED, JobStatus.CANCELLED)

    @property
    def active(self) -> bool:
        return self.job.status in (JobStatus.PENDING, JobStatus.RUNNING)

    def describe(self) -> str:
        job = self.job
        if self.done:
            return "ready"
        if job.status == JobStatus.PENDING:
            where = f"position {self.queue_position} in the queue" if self.queue_position else "queued"
            return f"{job.kind}: {where}"
        if job.status == JobStatus.RUNNING:
            return f"{job.kind}: {job.progress * 100:.0f}% {job.message}".strip()
        return f"{job.kind} {job.status.value}: {job.error or 'no reason recorded'}"


class JobService:
    """Request results by (kind, inputs) and follow them; one per server, shared by every session."""

    def __init__(self, store: JobStore, results: ResultStore, backend: JobBackend, kinds: KindRegistry) -> None:
        self.store = store
        self.results = results
        self.backend = backend
        self.kinds = kinds

    def request(self, kind: str, inputs: dict[str, Any]) -> JobState:
        """Queue the job (or find the identical one) and return its state; raises for unknown kinds or inputs."""
        self.kinds.get(kind).check_inputs(inputs)
        return self.state(self.backend.submit(kind, inputs).id)

    def state(self, job_id: int) -> JobState:
        """One or two SQLite reads."""
        job = self.store.get(job_id)
        result = self.results.path_for(job.kind, job.input_hash, job.code_version) \
            if job.status == JobStatus.DONE else None
        position = self.store.queue_position(job_id) if job.status == JobStatus.PENDING else None
        return JobState(job=job, result_dir=result, queue_position=position)

    def retry(self, job_id: int) -> JobState:
        return self.state(self.store.retry(job_id).id)

    def cancel(self, job_id: int) -> JobState:
        """A running job stops within about a second (its worker's next heartbeat)."""
        return self.state(self.store.cancel(job_id).id)
