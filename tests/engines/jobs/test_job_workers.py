"""Workers: running kinds, progress, cancel, retries, result reuse, and real worker processes that die."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from engines.jobs import JobStatus, JobStore, KindRegistry, ResultStore, Worker
from tests.engines.jobs.kinds_for_tests import (
    KINDS,
    done_count,
    result_entries,
    runs,
    square,
    start_worker_process,
    wait_for,
)


@pytest.fixture
def store(workspace: Path) -> JobStore:
    return JobStore(workspace)


@pytest.fixture
def results(workspace: Path) -> ResultStore:
    return ResultStore(workspace)


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


def test_worker_runs_a_job_and_publishes_its_result(store, results, markers):
    job = store.submit("square", {"x": 7, "marker_dir": str(markers)}, "v1")
    worker = Worker(store, results, KINDS, worker_id="w")
    assert worker.run_one() and not worker.run_one()
    done = store.get(job.id)
    assert (done.status, done.summary, done.progress, done.attempts) == (
        JobStatus.DONE,
        {"square": 49},
        1.0,
        1,
    )
    folder = results.path_for("square", job.input_hash, "v1")
    assert done.result_key == f"square/{job.input_hash}-v1" and folder == results.root / done.result_key
    assert np.load(folder / "square.npy") == 49
    assert results.manifest(folder)["job_id"] == job.id and results.manifest(folder)["worker_id"] == "w"


def test_identical_done_job_is_reused_without_running_again(store, results, markers):
    inputs = {"x": 3, "marker_dir": str(markers)}
    first = store.submit("square", inputs, "v1")
    worker = Worker(store, results, KINDS)
    worker.run_one()
    again = store.submit("square", inputs, "v1")
    assert again.id == first.id and again.status is JobStatus.DONE
    assert not worker.run_one()
    assert runs(markers, "square-3") == 1


def test_result_published_by_a_worker_that_died_before_recording_it_is_reused(store, results, markers):
    job = store.submit("square", {"x": 5, "marker_dir": str(markers)}, "v1")
    store.claim_next("ghost", ["square"], lease_s=0.1)  # the ghost publishes, then dies before complete()
    temp = results.start("square", job.input_hash, "v1", job.id)
    (temp / "square.npy").write_bytes(b"")
    results.publish(temp, "square", job.input_hash, "v1", {"summary": {"square": 25}})
    worker = Worker(store, results, KINDS, lease_s=5)
    wait_for(worker.run_one, 5, "the ghost's lease to expire")
    done = store.get(job.id)
    assert (done.status, done.summary, done.attempts) == (JobStatus.DONE, {"square": 25}, 2)
    assert runs(markers, "square-5") == 0


def test_failing_job_is_retried_up_to_max_attempts_then_failed_with_its_message(store, results, markers):
    job = store.submit("explode", {"marker_dir": str(markers)}, "v1", max_attempts=3)
    worker = Worker(store, results, KINDS)
    assert worker.run_one()
    retrying = store.get(job.id)
    assert retrying.status is JobStatus.PENDING and retrying.error == "ValueError: boom on purpose"
    assert worker.run_one() and worker.run_one() and not worker.run_one()
    failed = store.get(job.id)
    assert (failed.status, failed.attempts, failed.error) == (
        JobStatus.FAILED,
        3,
        "ValueError: boom on purpose",
    )
    assert runs(markers, "explode") == 3
    assert result_entries(Path(store.workspace), "explode") == []  # no temporary leftovers


def _returns_no_dict(inputs, ctx):
    return [1, 2]


def _returns_numpy(inputs, ctx):
    return {"mean": np.int64(3)}


def test_a_kind_with_a_bad_summary_fails_with_a_clear_reason(store, results):
    kinds = KindRegistry()
    kinds.register("listy", _returns_no_dict, "v1")
    kinds.register("numpyish", _returns_numpy, "v1")
    listy = store.submit("listy", {}, "v1", max_attempts=1)
    numpyish = store.submit("numpyish", {}, "v1", max_attempts=1)
    worker = Worker(store, results, kinds)
    worker.run_one()
    worker.run_one()
    assert "must return a dict summary, got list" in store.get(listy.id).error
    assert "plain JSON" in store.get(numpyish.id).error


def test_cancelling_a_running_job_stops_it_and_the_worker_goes_on(store, results, markers, workspace):
    slow = store.submit("sleepy", {"tag": "cancel", "steps": 200, "step_s": 0.02}, "v1")
    quick = store.submit("square", {"x": 2, "marker_dir": str(markers)}, "v1")
    worker = Worker(store, results, KINDS, lease_s=5, poll_s=0.02, heartbeat_s=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: store.get(slow.id).progress > 0, 10, "progress from the running job")
        running = store.get(slow.id)
        assert running.status is JobStatus.RUNNING and running.message.startswith("step ")
        assert store.workers()[0].current_job == slow.id
        store.cancel(slow.id)
        wait_for(lambda: store.get(quick.id).status is JobStatus.DONE, 10, "the next job")
    finally:
        stop.set()
        thread.join(10)
    cancelled = store.get(slow.id)
    assert cancelled.status is JobStatus.CANCELLED and cancelled.progress < 1
    assert result_entries(workspace, "sleepy") == []  # partial output discarded
    assert store.workers() == []  # a clean stop leaves the workers table


def test_stopping_a_worker_hands_its_running_job_back_without_counting_an_attempt(store, results, workspace):
    job = store.submit("sleepy", {"tag": "stop", "steps": 200, "step_s": 0.02}, "v1")
    worker = Worker(store, results, KINDS, lease_s=5, poll_s=0.02, heartbeat_s=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    wait_for(lambda: store.get(job.id).progress > 0, 10, "the job to start")
    stop.set()
    thread.join(10)
    back = store.get(job.id)
    assert (back.status, back.attempts, back.worker_id) == (JobStatus.PENDING, 0, None)
    assert result_entries(workspace, "sleepy") == []


def test_killed_worker_process_job_is_finished_by_another_worker_and_written_once(
    store, results, markers, workspace
):
    job = store.submit(
        "sleepy", {"tag": "kill", "steps": 40, "step_s": 0.05, "marker_dir": str(markers)}, "v1"
    )
    process = start_worker_process(workspace, lease_s=1.0)
    try:
        wait_for(lambda: store.get(job.id).progress > 0, 20, "the worker process to report progress")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        process.kill()
    assert store.get(job.id).status is JobStatus.RUNNING  # nobody knows yet
    assert [name for name in result_entries(workspace, "sleepy") if name.startswith(".tmp-")]  # crash debris

    rescuer = Worker(store, results, KINDS, worker_id="rescuer", lease_s=1.0, poll_s=0.05)
    wait_for(rescuer.run_one, 10, "the dead worker's lease to expire")
    done = store.get(job.id)
    assert (done.status, done.attempts, done.worker_id) == (JobStatus.DONE, 2, "rescuer")
    assert result_entries(workspace, "sleepy") == [f"{job.input_hash}-v1"]  # one result, no temp leftovers
    assert results.manifest(results.path_for("sleepy", job.input_hash, "v1"))["worker_id"] == "rescuer"
    assert runs(markers, "sleepy-kill") == 2


def test_two_worker_processes_run_200_jobs_each_exactly_once(store, markers, workspace):
    processes = [start_worker_process(workspace, lease_s=10.0) for _ in range(2)]
    try:
        wait_for(lambda: len(store.workers()) == 2, 20, "both worker processes to poll")
        for i in range(200):
            store.submit("square", {"x": i, "marker_dir": str(markers)}, "v1")
        wait_for(lambda: done_count(store) == 200, 40, "200 jobs done")
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)  # a clean stop
        for process in processes:
            assert process.wait(10) == 0
    assert all(runs(markers, f"square-{i}") == 1 for i in range(200))
    assert {job.status for job in store.list(limit=1000)} == {JobStatus.DONE}
    assert all(job.attempts == 1 for job in store.list(limit=1000))
    assert len(result_entries(workspace, "square")) == 200
    assert len({line for i in range(200) for line in (markers / f"square-{i}.log").read_text().split()}) == 2
    assert store.workers() == []


def test_kinds_defined_as_module_functions_pickle_by_name():
    import pickle

    assert pickle.loads(pickle.dumps(KINDS)).get("square").run is square
