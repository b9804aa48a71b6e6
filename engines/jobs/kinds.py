"""The contract between the job system and the code that computes results.

A *job kind* is a name, a code version and a function ``run(inputs, ctx) -> summary``. The
function writes its files into ``ctx.output_dir``, calls ``ctx.report(fraction, message)`` as
it goes, and returns a small JSON-able summary. Raising any exception fails the attempt with
the exception's message; bump ``code_version`` whenever the output would change, so old
results are not reused.

For standalone worker processes and Dask, ``run`` must be a module-level function of an
importable module: registries travel between processes by pickling, which names functions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines._progress import Cancelled
from engines.jobs.errors import InvalidJobRequest, UnknownJobKind
from engines.jobs.model import Job, check_name

__all__ = ["JobKind", "KindRegistry", "JobContext", "RunFunction"]

RunFunction = Callable[[dict[str, Any], "JobContext"], dict[str, Any]]


@dataclass(frozen=True)
class JobKind:
    """A registered computation: what to call and which version of the code it is."""

    name: str
    run: RunFunction
    code_version: str
    description: str = ""
    inputs: tuple[str, ...] = ()
    """Names of the inputs a request must give (a kind needs no open file or session, only these)."""

    def __post_init__(self) -> None:
        check_name(self.name, "job kind")
        check_name(self.code_version, "code version")

    def check_inputs(self, inputs: dict[str, Any]) -> None:
        """Raise ``InvalidJobRequest`` naming what a request lacks, before anything is queued."""
        if not isinstance(inputs, dict):
            raise InvalidJobRequest(
                f"inputs of a {self.name!r} job must be a dict, got {type(inputs).__name__}"
            )
        missing = [name for name in self.inputs if name not in inputs]
        if missing:
            raise InvalidJobRequest(
                f"a {self.name!r} job needs the input(s) {', '.join(missing)}; "
                f"it takes {', '.join(self.inputs)}"
            )


class KindRegistry:
    """The job kinds a worker or backend can run, by name. Picklable when every ``run`` is importable."""

    def __init__(self, kinds: Iterable[JobKind] = ()) -> None:
        self._kinds: dict[str, JobKind] = {}
        for kind in kinds:
            self.add(kind)

    def add(self, kind: JobKind) -> JobKind:
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name!r} is already registered")
        self._kinds[kind.name] = kind
        return kind

    def register(
        self,
        name: str,
        run: RunFunction,
        code_version: str,
        description: str = "",
        inputs: tuple[str, ...] = (),
    ) -> JobKind:
        """Register ``run`` under ``name``; registering a name twice is a programming error."""
        return self.add(JobKind(name, run, code_version, description, tuple(inputs)))

    def get(self, name: str) -> JobKind:
        try:
            return self._kinds[name]
        except KeyError:
            known = ", ".join(sorted(self._kinds)) or "none"
            raise UnknownJobKind(
                f"no job kind {name!r} is registered here (known: {known}); "
                "start the workers with the module that defines it"
            ) from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds


class JobContext:
    """What a running kind sees: its job, where to write, how to report, whether to stop.

    ``report`` and ``cancelled`` cost a lock and no I/O, so call them often (every chunk or
    second); the worker's heartbeat thread sends the latest progress to the store.
    """

    def __init__(self, job: Job, output_dir: Path, worker_stopping: threading.Event) -> None:
        self.job = job
        self.output_dir = output_dir
        self._worker_stopping = worker_stopping
        self._job_cancelled = threading.Event()
        self._lock = threading.Lock()
        self._progress = 0.0
        self._message = ""

    def report(self, fraction: float, message: str = "") -> None:
        """Record progress (0..1, clamped) and raise ``Cancelled`` if the job should stop."""
        with self._lock:
            self._progress = min(1.0, max(0.0, float(fraction)))
            self._message = str(message)
        if self.cancelled():
            raise Cancelled(self.stop_reason())

    def cancelled(self) -> bool:
        """True once the job was cancelled, lost to another worker, or its worker is shutting down."""
        return self._job_cancelled.is_set() or self._worker_stopping.is_set()

    def revoked(self) -> bool:
        """True once the store said the job is no longer this worker's (cancelled or re-leased)."""
        return self._job_cancelled.is_set()

    def stop_reason(self) -> str:
        if self._job_cancelled.is_set():
            return f"job {self.job.id} was cancelled or taken over by another worker"
        return f"the worker is shutting down; job {self.job.id} goes back to the queue"

    def progress_snapshot(self) -> tuple[float, str]:
        """Latest (fraction, message); read by the worker's heartbeat thread."""
        with self._lock:
            return self._progress, self._message

    def mark_cancelled(self) -> None:
        """Called by the worker when the store says the job is no longer this worker's."""
        self._job_cancelled.set()
