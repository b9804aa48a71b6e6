"""Several server processes on one workspace: each thing is built once, and every write of every process
lands.

Each test starts real OS processes ('spawn', as a second server would be: nothing inherited) that
act at the same moment on one workspace folder, through the same engine calls the pages make.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from engines._filesystem import build_lock
from engines.agent.store import ConversationStore
from engines.curation.store import DecisionStore
from engines.io.policy import SourcePolicy
from engines.ngstate.store import StateStore
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from engines.training.runs import HEARTBEAT_S, RunRegistry, RunState
from tests.support import shared_workspace_workers as workers
from tests.support.range_server import RangeServer

FILE = "anm369963.nwb"


def _together(n: int, function, *args_per_process: tuple) -> list:
    """Run ``function(*args, gate)`` in ``n`` spawned processes that all start at the gate; their results."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        gate = manager.Barrier(n)
        with ProcessPoolExecutor(n, mp_context=context) as pool:
            futures = [pool.submit(function, *args, gate) for args in args_per_process]
            return [future.result(timeout=240) for future in futures]


def _requests_to_open(server: RangeServer, workspace: Path, url: str) -> int:
    server.log.clear()
    workspace.mkdir(exist_ok=True)
    policy = SourcePolicy(workspace=workspace, allowed_roots=(workspace,), allow_private_urls=True)
    open_nwb(url, policy, IndexStore(workspace)).close()
    return server.log.count


def test_processes_opening_a_new_workspace_at_once_all_get_its_database(tmp_path: Path):
    """Servers started together create the same databases: none may fail with "database is locked"."""
    processes, rounds = 4, 15
    written = _together(processes, workers.open_new_databases, *[(tmp_path, rounds)] * processes)
    assert written == [rounds] * processes
    for round_number in range(rounds):
        with sqlite3.connect(tmp_path / f"round-{round_number}.sqlite") as db:
            assert db.execute("SELECT COUNT(*) FROM hits").fetchone()[0] == processes
            assert db.execute("PRAGMA journal_mode").fetchone()[0] in ("wal", "delete")


def test_two_processes_opening_one_remote_file_at_once_index_it_once(tmp_path: Path, nwb_data_dir: Path):
    with RangeServer(nwb_data_dir, latency_s=0.05) as server:  # like an archive: the build takes a while
        url = server.url_for(FILE)
        first_open = _requests_to_open(server, tmp_path / "alone", url)
        reopen = _requests_to_open(server, tmp_path / "alone", url)
        assert reopen < first_open
        server.log.clear()
        shared = tmp_path / "shared"
        counts = _together(2, workers.open_remote_nwb, (shared, url), (shared, url))
        together = server.log.count
    assert counts[0] == counts[1] > 10
    # one process indexed the file (as a first open does), the other only validated it (as a reopen does)
    assert together == first_open + reopen, (
        f"{together} requests; one build costs {first_open}, a reopen {reopen}"
    )


def test_the_curation_demo_is_built_by_one_of_two_processes_asking_at_once(tmp_path: Path):
    seen = _together(2, workers.build_curation_demo, (tmp_path,), (tmp_path,))
    builders = [messages for messages in seen if "saving the recording" in messages]
    assert len(builders) == 1, seen
    assert all(messages[-1] == "demo ready" for messages in seen)
    assert (tmp_path / "curation" / "demo" / "truth.json").is_file()
    assert not list((tmp_path / "curation").glob(".demo-*"))  # no temporary folder left behind


def test_the_neuroglancer_demo_volume_asked_for_by_three_processes_at_once_is_whole_for_each(tmp_path: Path):
    segments = _together(3, workers.build_ngstate_demo, (tmp_path,), (tmp_path,), (tmp_path,))
    assert segments[0] == segments[1] == segments[2] == list(range(1, 25))
    assert not list((tmp_path / "ngstate").glob(".demo-building-*"))


def test_the_build_lock_lets_exactly_one_of_four_processes_build(tmp_path: Path):
    built = _together(4, workers.build_once, *[(tmp_path, "built.txt")] * 4)
    assert sorted(built) == [False, False, False, True]
    assert not list((tmp_path / "locks").iterdir())  # released locks leave no files behind


def test_a_waiter_gives_up_at_its_deadline_and_gets_the_lock_once_it_is_free(tmp_path: Path):
    held, release = threading.Event(), threading.Event()

    def hang() -> None:
        with build_lock(tmp_path, "slow", wait_s=1):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hang)
    holder.start()
    assert held.wait(10)
    started = time.monotonic()
    with build_lock(tmp_path, "slow", wait_s=0.3) as got:
        waited = time.monotonic() - started
    assert not got and 0.25 < waited < 3  # a hung builder delays others by the deadline, never forever
    release.set()
    holder.join(10)
    with build_lock(tmp_path, "slow", wait_s=1) as got:
        assert got


def test_a_run_on_another_host_is_going_while_its_heartbeat_is_fresh(tmp_path: Path):
    registry = RunRegistry(tmp_path)
    folder = registry.new_run("elsewhere")
    folder.config_path.write_text(json.dumps({"name": "elsewhere"}))
    folder.update_status(state="running", pid=12345, host="another-host-of-the-lab", owner="someone")
    assert (
        folder.effective_state() == RunState.RUNNING
    )  # counted by this host's limits, not shown as interrupted
    status = {**folder.status(), "updated": time.time() - HEARTBEAT_S - 5}
    folder.status_path.write_text(json.dumps(status))
    assert folder.effective_state() == RunState.INTERRUPTED  # that server died: its run ended with it


def test_chats_verdicts_and_views_written_by_two_processes_at_once_all_land(tmp_path: Path):
    count = 25
    ConversationStore(tmp_path), DecisionStore(tmp_path), StateStore(tmp_path)  # an existing workspace
    results = _together(2, workers.write_everything, (tmp_path, "a", count), (tmp_path, "b", count))
    chats = ConversationStore(tmp_path)
    for tag, result in zip("ab", results):
        saved = chats.load(result["conversation"])
        assert [turn.user for turn in saved.turns] == [f"{tag} says {n}" for n in range(1, count + 1)]
        assert all(turn.answer == f"answer {turn.turn}" for turn in saved.turns)
    history = DecisionStore(tmp_path).verdict_history("shared-analyzer")
    assert sorted((v.owner, v.group_id) for v in history) == sorted(
        (f"user-{tag}", n) for tag in "ab" for n in range(1, count + 1)
    )
    views = StateStore(tmp_path).list()
    assert sorted(v.name for v in views) == sorted(
        f"{tag}-view-{n}" for tag in "ab" for n in range(1, count + 1)
    )
    assert {v.owner for v in views} == {"user-a", "user-b"}


def test_a_server_limit_of_one_run_holds_across_three_processes_starting_at_once(tmp_path: Path):
    pytest.importorskip("torch")
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        gate, done = manager.Barrier(3), manager.Barrier(3)
        with ProcessPoolExecutor(3, mp_context=context) as pool:
            futures = [pool.submit(workers.start_training_run, tmp_path, gate, done) for _ in range(3)]
            outcomes = [future.result(timeout=240) for future in futures]
    assert outcomes.count("started") == 1, outcomes
    assert all("max_runs_total" in outcome for outcome in outcomes if outcome != "started")
    runs = RunRegistry(tmp_path).list_runs()
    assert [run.owner for run in runs] == ["someone"]
