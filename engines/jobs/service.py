"""What pages use to ask for a job's result and follow it: request, state, retry, cancel.

A request names a kind and that kind's inputs, nothing else (no open file, no session), so
any engine's page, a CLI and another job can ask for the same result and share it:
identical requests are one job, and a done job's result folder is reused.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.jobs.backends import JobBackend
from engines.jobs.kinds import KindRegistry
from engines.jobs.model import Job, JobStatus
from engines.jobs.results import ResultStore
from engines.jobs.store import JobStore
from engines.limits import UsageLimiter, job_submissions_limit
from engines.people import Person

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
    """Request results by (kind, inputs) and follow them; one per server, shared by every session.

    Who acts: ``acting_as(person, jobs_per_minute)`` gives a session its own copy (same store and
    backend) that records ``person`` as the owner of the jobs it queues, limits how many new jobs
    they queue per minute, and lets them cancel or retry only their own jobs (admins: any). The
    server's own calls (the command line, engines that queue follow-up work) act as nobody in
    particular: no owner, no limit, no check.
    """

    def __init__(
        self,
        store: JobStore,
        results: ResultStore,
        backend: JobBackend,
        kinds: KindRegistry,
        limiter: UsageLimiter | None = None,
    ) -> None:
        self.store = store
        self.results = results
        self.backend = backend
        self.kinds = kinds
        self.limiter = limiter if limiter is not None else UsageLimiter(store.workspace)
        self.person: Person | None = None
        self.jobs_per_minute: int | None = None

    def acting_as(self, person: Person, jobs_per_minute: int | None = None) -> JobService:
        """This service as ``person`` sees it (see the class docstring); ``jobs_per_minute`` None: no
        limit."""
        acting = copy.copy(self)
        acting.person, acting.jobs_per_minute = person, jobs_per_minute
        return acting

    def request(self, kind: str, inputs: dict[str, Any]) -> JobState:
        """Queue the job (or find the identical one) and return its state; raises for unknown kinds or inputs,
        and ``LimitReached`` when the person already queued ``jobs_per_minute`` new jobs in the last minute
        (a request answered by an existing or finished job queues nothing, so it never counts)."""
        spec = self.kinds.get(kind)
        spec.check_inputs(inputs)
        existing = self.store.find_active(kind, inputs, spec.code_version)
        if existing is not None:
            return self.state(existing.id)
        if self.person is not None and self.jobs_per_minute is not None:
            self.limiter.take(self.person, job_submissions_limit(self.jobs_per_minute))
        job = self.backend.submit(kind, inputs)
        if self.person is not None:
            job = self.store.set_owner(job.id, self.person.name)
        return self.state(job.id)

    def state(self, job_id: int) -> JobState:
        """One or two SQLite reads."""
        job = self.store.get(job_id)
        result = (
            self.results.path_for(job.kind, job.input_hash, job.code_version)
            if job.status == JobStatus.DONE
            else None
        )
        position = self.store.queue_position(job_id) if job.status == JobStatus.PENDING else None
        return JobState(job=job, result_dir=result, queue_position=position)

    def _check_manage(self, job_id: int) -> None:
        if self.person is not None:
            job = self.store.get(job_id)
            self.person.require_manage(job.owner, f"Job {job_id} ({job.kind})")

    def retry(self, job_id: int) -> JobState:
        """Queue a failed or cancelled job again; ``NotAllowed`` unless it is the person's own (or an
        admin's)."""
        self._check_manage(job_id)
        return self.state(self.store.retry(job_id).id)

    def cancel(self, job_id: int) -> JobState:
        """A running job stops within about a second (its worker's next heartbeat); ``NotAllowed`` unless the
        job is the person's own (or they are an admin)."""
        self._check_manage(job_id)
        return self.state(self.store.cancel(job_id).id)
