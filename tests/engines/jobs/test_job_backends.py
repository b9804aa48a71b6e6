"""Backends: in-process worker threads and a real Dask LocalCluster (worker processes), same store, same
results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.jobs import (
    BackendUnavailable,
    DaskBackend,
    InProcessBackend,
    JobBackend,
    JobStatus,
    JobStore,
    ResultStore,
    UnknownJobKind,
)
from tests.engines.jobs.kinds_for_tests import KINDS, done_count, result_entries, runs, wait_for


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


def test_a_restart_keeps_the_queue_and_new_workers_finish_it(workspace, markers):
    before = JobStore(workspace)
    ids = [before.submit("square", {"x": i, "marker_dir": str(markers)}, "v1").id for i in range(5)]
    del before  # the server stops before any worker ran

    store = JobStore(workspace)
    assert [job.id for job in store.list(status="pending", oldest_first=True)] == ids
    backend = InProcessBackend(store, ResultStore(workspace), KINDS, n_workers=2, poll_s=0.02)
    assert isinstance(backend, JobBackend)
    backend.start()
    try:
        wait_for(lambda: done_count(store) == 5, 10, "the queued jobs")
        assert backend.describe()["workers"] == 2 and backend.describe()["backend"] == "in-process"
    finally:
        backend.stop()
    assert all(runs(markers, f"square-{i}") == 1 for i in range(5))


def test_in_process_backend_submits_at_the_registered_code_version_and_rejects_unknown_kinds(workspace):
    store = JobStore(workspace)
    backend = InProcessBackend(store, ResultStore(workspace), KINDS, n_workers=1)
    job = backend.submit("square", {"x": 1})
    assert job.code_version == KINDS.get("square").code_version
    assert backend.submit("square", {"x": 1}).id == job.id
    with pytest.raises(UnknownJobKind, match="no job kind 'nope'.*known: explode, sleepy, square"):
        backend.submit("nope", {})


def test_dask_backend_runs_jobs_on_a_local_cluster_through_the_same_store(workspace, markers):
    from distributed import LocalCluster

    store = JobStore(workspace)
    results = ResultStore(workspace)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        backend = DaskBackend(store, results, KINDS, cluster.scheduler_address, lease_s=5, poll_s=0.05)
        assert isinstance(backend, JobBackend)
        backend.start()
        try:
            jobs = [backend.submit("square", {"x": i, "marker_dir": str(markers)}) for i in range(10)]
            failing = backend.submit("explode", {"marker_dir": str(markers)}, max_attempts=2)
            wait_for(
                lambda: done_count(store) == 10 and store.get(failing.id).is_finished, 40, "the Dask jobs"
            )
            assert backend.describe()["workers"] == 2
        finally:
            backend.stop()
    for job in jobs:
        done = store.get(job.id)
        assert (done.status, done.attempts) == (JobStatus.DONE, 1)
        assert done.worker_id.startswith("dask@tcp://")
        assert (
            np.load(results.path_for("square", job.input_hash, "v1") / "square.npy") == job.inputs["x"] ** 2
        )
    assert len(result_entries(workspace, "square")) == 10
    assert all(runs(markers, f"square-{i}") == 1 for i in range(10))
    failed = store.get(failing.id)
    assert (failed.status, failed.attempts, failed.error) == (
        JobStatus.FAILED,
        2,
        "ValueError: boom on purpose",
    )
    assert runs(markers, "explode") == 2


def test_dask_backend_says_when_the_scheduler_cannot_be_reached(workspace):
    backend = DaskBackend(
        JobStore(workspace), ResultStore(workspace), KINDS, "tcp://127.0.0.1:9", connect_timeout_s=1
    )
    with pytest.raises(BackendUnavailable, match="could not reach the Dask scheduler"):
        backend.start()
