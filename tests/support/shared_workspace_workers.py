"""What one server process does to a shared workspace, run in child processes by the multi-process tests.

Each function is started in its own process ('spawn', like a second server), waits at ``gate``
(so the processes really act at the same moment) and returns plain data for the test to check.
Imports are inside the functions: a child pays only for what it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def open_remote_nwb(workspace: Path, url: str, gate: Any) -> int:
    """Open ``url`` like the NWB page does; the number of objects in its index."""
    from engines.io.policy import SourcePolicy
    from engines.nwb.index_store import IndexStore
    from engines.nwb.nwbfile import open_nwb

    policy = SourcePolicy(
        workspace=workspace, allowed_roots=(workspace,), allow_private_urls=True, request_timeout_s=10.0
    )
    store = IndexStore(workspace)
    gate.wait(60)
    nwb = open_nwb(url, policy, store)
    try:
        return len(nwb.index.objects)
    finally:
        nwb.close()


def build_curation_demo(workspace: Path, gate: Any) -> list[str]:
    """Ask for a small curation demo as the page does; the progress messages this process saw."""
    from engines.curation.demo import DemoSpec, ensure_demo_analyzer
    from engines.curation.ground_truth import InjectedFaults

    spec = DemoSpec(
        duration_s=4.0,
        num_units=4,
        num_channels=4,
        seed=3,
        faults=InjectedFaults(amplitude_splits=0, temporal_splits=0, random_splits=1, duplicates=0),
    )
    messages: list[str] = []
    gate.wait(60)
    ensure_demo_analyzer(workspace, spec, progress=lambda _fraction, message: messages.append(message))
    return messages


def build_ngstate_demo(workspace: Path, gate: Any) -> list[int]:
    """Ask for the Neuroglancer demo volume; the segment ids read back from what this process was given."""
    import numpy as np
    from cloudvolume import CloudVolume

    from engines.ngstate.demo import ensure_demo_volume

    gate.wait(60)
    demo = ensure_demo_volume(workspace)
    labels = np.asarray(CloudVolume(f"file://{demo.segmentation}", progress=False)[:, :, :])
    return sorted(int(i) for i in np.unique(labels) if i)


def build_once(workspace: Path, marker: str, gate: Any) -> bool:
    """The pattern every builder follows under ``build_lock``; True when this process was the one that
    built."""
    import time

    from engines._filesystem import build_lock

    path = Path(workspace) / marker
    gate.wait(60)
    with build_lock(workspace, "test-build", wait_s=30):
        if path.exists():
            return False
        time.sleep(0.3)  # a build takes a while: the others arrive meanwhile
        path.write_text(str(time.time()))
        return True


def write_everything(workspace: Path, tag: str, count: int, gate: Any) -> dict[str, Any]:
    """``count`` chat turns, curation verdicts and saved views written as fast as one process can."""
    from engines.agent.store import ConversationStore
    from engines.curation.store import DecisionStore
    from engines.ngstate.demo import build_demo_state
    from engines.ngstate.store import StateStore
    from engines.people import Person

    person = Person(f"user-{tag}")
    chats, decisions, views = (
        ConversationStore(workspace),
        DecisionStore(workspace),
        StateStore(workspace, person),
    )
    state = build_demo_state("http://127.0.0.1:1/demo")
    gate.wait(60)
    conversation = chats.create("neuroglancer", owner=person.name)
    for turn in range(1, count + 1):
        chats.begin_turn(conversation, turn, f"{tag} says {turn}")
        chats.finish_turn(conversation, turn, f"answer {turn}", "answered", [], {})
        decisions.record_verdict(
            "shared-analyzer", turn, "accept", (turn, turn + 1), f"session-{tag}", person.name
        )
        views.save(f"{tag}-view-{turn}", state)
    return {"conversation": conversation}


def start_training_run(workspace: Path, gate: Any, done: Any) -> str:
    """Start a tiny run as the training page does, under a server limit of one run; 'started' or the refusal.

    Stays alive until every process has tried (``done``): a run counts as going while its process lives.
    """
    from engines.people import LimitReached, Person
    from engines.training.config import build_config
    from engines.training.limits import RunLimits
    from engines.training.trainer.control import RunController

    config = build_config(
        [{"kind": "synthetic", "n_bins": 200, "n_units": 4, "modalities": ["spikes"]}],
        model_size="tiny",
        steps=5,
    )
    limits = RunLimits(runs_per_user=5, runs_total=1, max_steps=100, max_window_s=100.0, max_processes=1)
    controller = RunController(workspace)
    gate.wait(60)
    try:
        controller.start(config, person=Person("someone"), limits=limits)
        outcome = "started"
    except LimitReached as exc:
        outcome = str(exc)
    done.wait(120)
    return outcome


def open_new_databases(folder: Path, rounds: int, gate: Any) -> int:
    """Open a new workspace database together with the other processes, ``rounds`` times; rows this process
    wrote."""
    from engines.workspace_db import WorkspaceDb

    written = 0
    for round_number in range(rounds):
        gate.wait(60)
        db = WorkspaceDb(
            folder / f"round-{round_number}.sqlite", "CREATE TABLE IF NOT EXISTS hits (pid INTEGER)"
        )
        with db.write() as connection:
            connection.execute("INSERT INTO hits VALUES (1)")
        written += 1
    return written
