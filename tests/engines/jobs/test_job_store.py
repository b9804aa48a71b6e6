"""JobStore: idempotent submits, atomic claims, leases, retries, cancel, and the numbers the jobs page
shows."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engines.errors import NeurodeckError
from engines.jobs import InvalidJobRequest, JobNotFound, JobStatus, JobStore, ResultStore


@pytest.fixture
def store(workspace: Path) -> JobStore:
    return JobStore(workspace)


def test_identical_submit_returns_the_same_job_and_failed_or_cancelled_ones_can_be_resubmitted(store):
    first = store.submit("square", {"x": 3, "source": "a.nwb"}, "v1")
    again = store.submit("square", {"source": "a.nwb", "x": 3}, "v1")  # key order does not matter
    assert again.id == first.id and first.status is JobStatus.PENDING
    assert store.submit("square", {"x": 3, "source": "a.nwb"}, "v2").id != first.id  # new code, new job
    assert store.submit("square", {"x": 4, "source": "a.nwb"}, "v1").id != first.id

    assert store.cancel(first.id).status is JobStatus.CANCELLED
    fresh = store.submit("square", {"x": 3, "source": "a.nwb"}, "v1")
    assert fresh.id != first.id and fresh.status is JobStatus.PENDING
    # Retrying the cancelled one while an identical job is queued hands back the queued one.
    assert store.retry(first.id).id == fresh.id


def test_done_job_is_reused_and_reported_by_is_done(store):
    job = store.submit("square", {"x": 1}, "v1")
    assert not store.is_done("square", {"x": 1}, "v1")
    claimed = store.claim_next("w1", ["square"], lease_s=10)
    assert claimed.id == job.id and claimed.attempts == 1 and claimed.worker_id == "w1"
    assert store.complete(job.id, "w1", "square/key", {"square": 1})
    assert store.is_done("square", {"x": 1}, "v1")
    again = store.submit("square", {"x": 1}, "v1")
    assert again.id == job.id and again.status is JobStatus.DONE and again.summary == {"square": 1}
    assert store.claim_next("w1", ["square"], lease_s=10) is None


def test_bad_requests_raise_typed_errors_that_say_what_to_do(store):
    with pytest.raises(InvalidJobRequest, match="plain JSON"):
        store.submit("square", {"path": Path("/x")}, "v1")
    with pytest.raises(InvalidJobRequest, match="job kind"):
        store.submit("../escape", {}, "v1")
    with pytest.raises(InvalidJobRequest, match="code version"):
        store.submit("square", {}, "v 1")
    with pytest.raises(InvalidJobRequest, match="max_attempts"):
        store.submit("square", {}, "v1", max_attempts=0)
    with pytest.raises(JobNotFound) as caught:
        store.get(12345)
    assert isinstance(caught.value, NeurodeckError) and isinstance(caught.value, KeyError)
    assert str(caught.value).startswith("no job 12345")


def test_claims_are_atomic_across_threads(store):
    ids = {store.submit("square", {"x": i}, "v1").id for i in range(60)}
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all(worker_id: str) -> None:
        while (job := store.claim_next(worker_id, ["square"], lease_s=30)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)
    assert store.counts()[JobStatus.RUNNING] == 60


def test_expired_lease_is_requeued_and_the_old_worker_is_told_it_lost_the_job(store):
    job = store.submit("square", {"x": 2}, "v1", max_attempts=2)
    assert store.claim_next("ghost", ["square"], lease_s=0.1).id == job.id
    time.sleep(0.15)
    taken = store.claim_next("w2", ["square"], lease_s=10)
    assert taken.id == job.id and taken.attempts == 2 and "ghost stopped responding" in (taken.error or "")
    assert not store.heartbeat(job.id, "ghost", 0.5, "late")
    assert not store.complete(job.id, "ghost", "k", {})
    assert not store.fail(job.id, "ghost", "late failure")
    assert store.heartbeat(job.id, "w2", 0.5, "halfway")
    assert (store.get(job.id).progress, store.get(job.id).message) == (0.5, "halfway")
    assert store.complete(job.id, "w2", "k", {"ok": True})


def test_expired_lease_without_attempts_left_fails_the_job(store):
    job = store.submit("square", {"x": 2}, "v1", max_attempts=1)
    store.claim_next("ghost", ["square"], lease_s=0.05)
    time.sleep(0.1)
    assert store.requeue_expired() == 1
    failed = store.get(job.id)
    assert failed.status is JobStatus.FAILED and "lease expired" in failed.error and failed.finished


def test_fail_retries_until_max_attempts_then_retry_starts_over(store):
    job = store.submit("explode", {}, "v1", max_attempts=2)
    store.claim_next("w", ["explode"], 10)
    assert store.fail(job.id, "w", "ValueError: first")
    assert store.get(job.id).status is JobStatus.PENDING and store.get(job.id).error == "ValueError: first"
    store.claim_next("w", ["explode"], 10)
    assert store.fail(job.id, "w", "ValueError: second")
    failed = store.get(job.id)
    assert (failed.status, failed.attempts, failed.error) == (JobStatus.FAILED, 2, "ValueError: second")
    retried = store.retry(job.id)
    assert (retried.status, retried.attempts, retried.error) == (JobStatus.PENDING, 0, None)


def test_release_hands_the_job_back_without_counting_the_attempt(store):
    job = store.submit("square", {"x": 9}, "v1")
    store.claim_next("w", ["square"], 10)
    assert store.release(job.id, "w")
    back = store.get(job.id)
    assert (back.status, back.attempts, back.worker_id) == (JobStatus.PENDING, 0, None)


def test_cancel_pending_and_running_jobs_and_cancel_twice_is_harmless(store):
    pending = store.submit("square", {"x": 1}, "v1")
    running = store.submit("square", {"x": 2}, "v1")
    store.claim(running.id, "w", 10)
    assert store.cancel(pending.id).status is JobStatus.CANCELLED
    assert store.cancel(running.id).status is JobStatus.CANCELLED
    assert not store.heartbeat(running.id, "w", 0.1, "")  # the worker learns at its next heartbeat
    assert store.cancel(running.id).status is JobStatus.CANCELLED
    assert store.claim(pending.id, "w", 10) is None


def test_queue_position_list_filters_counts_workers_and_throughput(store):
    jobs = [store.submit("square", {"x": i, "source": f"s{i % 2}.nwb"}, "v1") for i in range(4)]
    other = store.submit("sleepy", {"tag": "t", "source": "s0.nwb"}, "v1")
    assert [store.queue_position(job.id) for job in jobs] == [1, 2, 3, 4]
    assert store.queue_position(other.id) == 5

    store.claim_next("w1", ["square"], 10)
    assert store.queue_position(jobs[0].id) is None and store.queue_position(jobs[1].id) == 1
    assert [w.worker_id for w in store.workers()] == ["w1"]
    assert store.workers()[0].current_job == jobs[0].id
    store.complete(jobs[0].id, "w1", "k", {})
    assert store.workers()[0].current_job is None

    assert [j.id for j in store.list(kind="square")] == [j.id for j in reversed(jobs)]
    assert [j.id for j in store.list(source="s0.nwb", oldest_first=True)] == [
        jobs[0].id,
        jobs[2].id,
        other.id,
    ]
    assert [j.id for j in store.list(status="done")] == [jobs[0].id]
    assert len(store.list(limit=2)) == 2
    assert store.counts() == {
        JobStatus.PENDING: 4,
        JobStatus.RUNNING: 0,
        JobStatus.DONE: 1,
        JobStatus.FAILED: 0,
        JobStatus.CANCELLED: 0,
    }

    ((bucket, count),) = store.throughput(bucket_s=3600)
    assert count == 1 and bucket <= store.get(jobs[0].id).finished < bucket + 3600
    store.forget_worker("w1")
    assert store.workers() == []


def test_reopened_store_keeps_the_queue(workspace):
    first = JobStore(workspace)
    ids = [first.submit("square", {"x": i}, "v1").id for i in range(3)]
    del first
    reopened = JobStore(workspace)
    assert [job.id for job in reopened.list(status="pending", oldest_first=True)] == ids


def test_result_store_publishes_once_and_discards_the_loser(workspace):
    results = ResultStore(workspace)
    assert results.path_for("square", "abc", "v1") is None
    winner = results.start("square", "abc", "v1", job_id=1)
    (winner / "data.txt").write_text("first")
    final = results.publish(winner, "square", "abc", "v1", {"summary": {"n": 1}})
    loser = results.start("square", "abc", "v1", job_id=2)
    (loser / "data.txt").write_text("second")
    assert results.publish(loser, "square", "abc", "v1", {"summary": {"n": 2}}) == final
    assert results.path_for("square", "abc", "v1") == final
    assert (final / "data.txt").read_text() == "first" and results.manifest(final)["summary"] == {"n": 1}
    assert sorted(p.name for p in final.parent.iterdir()) == ["abc-v1"]


def test_starting_an_attempt_sweeps_temporary_folders_of_crashed_attempts(workspace):
    results = ResultStore(workspace)
    crashed = results.start("square", "abc", "v1", job_id=1)
    (crashed / "half.bin").write_bytes(b"\0" * 10)
    fresh = results.start("square", "abc", "v1", job_id=1)
    assert not crashed.exists() and fresh.exists()


def test_network_filesystems_get_the_rollback_journal(tmp_path):
    from engines._filesystem import filesystem_type, is_network_filesystem

    mounts = (
        "/dev/vda1 / ext4 rw 0 0\n"
        "server:/export/lab /mnt/lab nfs4 rw,relatime 0 0\n"
        "//nas/share /mnt/my\\040share cifs rw 0 0\n"
    )
    assert filesystem_type(Path("/mnt/lab/workspace"), mounts) == "nfs4"
    assert is_network_filesystem(Path("/mnt/lab/workspace/jobs"), mounts)
    assert is_network_filesystem(Path("/mnt/my share/ws"), mounts)
    assert not is_network_filesystem(Path("/mnt/labs"), mounts)  # a sibling, not inside the mount
    assert not is_network_filesystem(Path("/home/me"), mounts)
    assert JobStore(tmp_path).journal_mode == ("DELETE" if is_network_filesystem(tmp_path) else "WAL")


def test_an_idle_worker_polls_without_writing_and_still_takes_new_and_abandoned_jobs_at_once(
    store, workspace
):
    import sqlite3

    watcher = sqlite3.connect(workspace / "jobs.sqlite")
    writes = lambda: watcher.execute("PRAGMA data_version").fetchone()[0]  # noqa: E731  (grows with others' commits)
    assert store.claim_next("w1", ["square"], lease_s=10) is None  # the first poll says the worker is there
    assert [w.worker_id for w in store.workers()] == ["w1"]
    before = writes()
    for _ in range(20):
        assert store.claim_next("w1", ["square"], lease_s=10) is None
    assert writes() == before  # twenty idle polls, no write
    job = store.submit("square", {"x": 2}, "v1")
    assert (
        store.claim_next("w1", ["square"], lease_s=0.05).id == job.id
    )  # a new job is taken on the next poll
    time.sleep(0.1)  # w1 stopped answering: its lease expired
    assert store.claim_next("w2", ["square"], lease_s=10).id == job.id
    assert store.claim_next("w2", ["square"], lease_s=10) is None
