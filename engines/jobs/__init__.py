"""The job system: a persistent queue of heavy precomputations, workers that run them, result folders.

Compute code registers *job kinds* (``KindRegistry.register(name, run, code_version)``); the
server submits jobs through a ``JobBackend``; workers anywhere that see the workspace claim
jobs from the ``JobStore`` (``<workspace>/jobs.sqlite``) and publish results into the
``ResultStore`` (``<workspace>/results/``). Importing this package does not import Dask.
"""

from engines._filesystem import is_network_filesystem
from engines.jobs.backends import InProcessBackend, JobBackend, run_worker_process
from engines.jobs.catalog import KIND_PROVIDERS, JobEnvironment, all_job_kinds
from engines.jobs.child_process import ChildProcessFailed, run_in_child_process
from engines.jobs.dask_backend import DaskBackend
from engines.jobs.errors import (
    BackendUnavailable,
    InvalidJobRequest,
    JobNotFound,
    UnknownJobKind,
)
from engines.jobs.kinds import JobContext, JobKind, KindRegistry
from engines.jobs.model import Job, JobStatus, WorkerInfo
from engines.jobs.results import ResultStore
from engines.jobs.store import JobStore
from engines.jobs.worker import Worker

__all__ = [
    "BackendUnavailable",
    "ChildProcessFailed",
    "JobEnvironment",
    "KIND_PROVIDERS",
    "all_job_kinds",
    "is_network_filesystem",
    "run_in_child_process",
    "DaskBackend",
    "InProcessBackend",
    "InvalidJobRequest",
    "Job",
    "JobBackend",
    "JobContext",
    "JobKind",
    "JobNotFound",
    "JobStatus",
    "JobStore",
    "KindRegistry",
    "ResultStore",
    "UnknownJobKind",
    "Worker",
    "WorkerInfo",
    "run_worker_process",
]
