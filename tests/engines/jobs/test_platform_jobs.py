"""Job kinds from every engine, requests by inputs alone, and cancels that stop library calls within 2 s."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pynwb import NWBHDF5IO, NWBFile

from engines._progress import Cancelled
from engines.jobs import (
    ChildProcessFailed,
    InProcessBackend,
    InvalidJobRequest,
    JobContext,
    JobEnvironment,
    JobKind,
    JobStatus,
    JobStore,
    KindRegistry,
    ResultStore,
    all_job_kinds,
    run_in_child_process,
)
from engines.jobs.service import JobService
from engines.nwb.product_jobs import RASTERMAP, SPIKE_DENSITY
from tests.engines.jobs.kinds_for_tests import child_dies, child_raises, child_sleeps, child_value


def _context(workspace: Path, cancelled: threading.Event | None = None) -> JobContext:
    job = JobStore(workspace).submit("square", {"x": 1}, "v1")
    return JobContext(job, workspace, cancelled or threading.Event())


def test_the_catalogue_has_the_kinds_of_every_installed_engine(policy):
    kinds = all_job_kinds(JobEnvironment(source_policy=policy))
    assert {SPIKE_DENSITY, RASTERMAP, "preview-movie", "ephys-summary"} <= set(kinds.names())
    assert kinds.get(RASTERMAP).inputs == ("source", "path")


def test_an_engine_that_is_not_installed_contributes_nothing(policy):
    kinds = all_job_kinds(
        JobEnvironment(source_policy=policy),
        providers=("engines.nwb.product_jobs", "engines.not_built_yet.jobs"),
    )
    assert SPIKE_DENSITY in kinds


def test_a_request_needs_only_the_inputs_its_kind_declares(workspace):
    store, results = JobStore(workspace), ResultStore(workspace)
    kinds = KindRegistry([JobKind("needs", lambda inputs, ctx: {}, "1", inputs=("analyzer", "group"))])
    jobs = JobService(store, results, InProcessBackend(store, results, kinds, n_workers=0), kinds)
    with pytest.raises(InvalidJobRequest, match="needs the input\\(s\\) group"):
        jobs.request("needs", {"analyzer": "/a"})
    state = jobs.request("needs", {"analyzer": "/a", "group": 3})
    assert state.job.status == JobStatus.PENDING and state.queue_position == 1
    assert jobs.cancel(state.job.id).job.status == JobStatus.CANCELLED


def test_a_child_process_returns_its_value_and_reports_its_failures(workspace):
    ctx = _context(workspace)
    assert run_in_child_process(child_value, {"x": 21}, ctx, label="double") == 42
    with pytest.raises(ChildProcessFailed, match="ValueError: bad input"):
        run_in_child_process(child_raises, {"message": "bad input"}, ctx, label="raise")
    with pytest.raises(ChildProcessFailed, match="exit code 3"):
        run_in_child_process(child_dies, {}, ctx, label="die")


def test_a_cancel_kills_the_child_within_a_fraction_of_a_second(workspace):
    stop = threading.Event()
    ctx = _context(workspace, stop)
    threading.Timer(1.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_in_child_process(child_sleeps, {"seconds": 60}, ctx, label="sleep")
    assert time.monotonic() - started < 1.5 + 1.0
    assert multiprocessing.active_children() == []


def _many_units_file(path: Path, n_units: int = 600, seconds: float = 600.0) -> None:
    rng = np.random.default_rng(0)
    nwb = NWBFile("many units", "cancel-test", datetime(2024, 1, 1, tzinfo=UTC))
    for _ in range(n_units):
        rate = rng.uniform(1, 10)
        nwb.add_unit(spike_times=np.sort(rng.uniform(0, seconds, int(rate * seconds))))
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def test_a_running_rastermap_job_is_cancelled_within_two_seconds(policy, workspace):
    source = workspace / "many_units.nwb"
    _many_units_file(source)
    store, results = JobStore(workspace), ResultStore(workspace)
    kinds = all_job_kinds(JobEnvironment(source_policy=policy))
    backend = InProcessBackend(store, results, kinds, n_workers=1, poll_s=0.05)
    jobs = JobService(store, results, backend, kinds)
    backend.start()
    try:
        state = jobs.request(RASTERMAP, {"source": str(source), "path": "/units"})
        deadline = time.time() + 60
        while "Rastermap over" not in (job := store.get(state.job.id)).message and time.time() < deadline:
            time.sleep(0.1)  # running: the pyramid is built and the fit has started in its child process
        assert job.status == JobStatus.RUNNING and multiprocessing.active_children(), job
        time.sleep(1.0)
        cancelled_at = time.monotonic()
        jobs.cancel(job.id)
        while multiprocessing.active_children() and time.monotonic() - cancelled_at < 5:
            time.sleep(0.05)
        stopped_after = time.monotonic() - cancelled_at
        assert multiprocessing.active_children() == []
        assert stopped_after < 2.0, f"the fit went on for {stopped_after:.1f} s after the cancel"
        assert store.get(job.id).status == JobStatus.CANCELLED
        assert results.path_for(RASTERMAP, job.input_hash, job.code_version) is None  # nothing half-written
    finally:
        backend.stop()
