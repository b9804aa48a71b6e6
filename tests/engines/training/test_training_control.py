"""The run controller the page drives: start in a background thread, pause, resume, stop, resume from a
checkpoint, a torchrun subprocess followed through its files, and a registry rebuilt from the run folders."""

from __future__ import annotations

import json
import time

import psutil
import pytest
from conftest import tiny_config

from engines.training.errors import RunNotFound, RunStateError
from engines.training.runs import RunFolder, RunRegistry, RunState, current_trajectory, read_metrics
from engines.training.trainer.control import RunController


def _train_steps(folder: RunFolder) -> list[int]:
    rows = current_trajectory(read_metrics(folder.metrics_path)[0])
    return [int(r["step"]) for r in rows if r.get("split") == "train"]


def _state(controller: RunController, run_id: str) -> str:
    return controller.registry.get(run_id).effective_state().value


def test_pause_resume_and_stop_a_run_in_a_background_thread(workspace, policy):
    controller = RunController(workspace, policy)
    run_id = controller.start(tiny_config(100_000, training={"log_every": 1, "checkpoint_every": 1000}))
    folder = controller.registry.get(run_id)
    assert controller.wait_for(
        run_id, lambda s: s.get("step", 0) >= 3 and s["state"] == "running", timeout=120
    )
    controller.pause(run_id)
    assert controller.wait_for(run_id, lambda s: s["state"] == "paused", timeout=60)
    paused_at = folder.status()["step"]
    assert folder.checkpoints()[-1].step == paused_at  # pausing writes a checkpoint to resume from
    time.sleep(0.5)
    assert max(_train_steps(folder)) <= paused_at and folder.status()["step"] == paused_at
    with pytest.raises(RunStateError, match="only a running or starting run can be paused"):
        controller.pause(run_id)
    controller.resume(run_id)
    assert controller.wait_for(
        run_id, lambda s: s["state"] == "running" and s["step"] > paused_at + 2, timeout=60
    )
    controller.stop(run_id)
    assert controller.wait(run_id, timeout=60) == RunState.STOPPED
    stopped_at = folder.status()["step"]
    assert folder.checkpoints()[-1].step == stopped_at and "stopped at step" in folder.status()["message"]
    events = [r["event"] for r in read_metrics(folder.metrics_path)[0] if "event" in r]
    assert events[0] == "start" and "paused" in events and "continued" in events and events[-1] == "stopped"


def test_a_stopped_run_resumes_from_a_chosen_checkpoint_and_drops_the_later_history(workspace, policy):
    controller = RunController(workspace, policy)
    run_id = controller.start(tiny_config(30, training={"checkpoint_every": 10, "keep_checkpoints": 5}))
    assert controller.wait(run_id, timeout=120) == RunState.COMPLETED
    folder = controller.registry.get(run_id)
    with pytest.raises(RunNotFound, match="no checkpoint at step 15; it has steps 10, 20, 30"):
        controller.resume_from_checkpoint(run_id, step=15)
    controller.resume_from_checkpoint(run_id, step=10)
    assert controller.wait(run_id, timeout=120) == RunState.COMPLETED
    steps = _train_steps(folder)
    assert steps == [5, 10, 15, 20, 25, 30]  # the trajectory after step 10 is the resumed one, once
    resumes = [r for r in read_metrics(folder.metrics_path)[0] if r.get("event") == "resume"]
    assert resumes[-1]["checkpoint"] == "step_00000010.pt"


def test_the_registry_is_rebuilt_from_folders_and_dead_runs_are_interrupted(workspace, policy):
    controller = RunController(workspace, policy)
    run_id = controller.start(tiny_config(10, name="first run"))
    controller.wait(run_id, timeout=120)
    ghost = RunRegistry(workspace).new_run("ghost")
    ghost.config_path.write_text(json.dumps(tiny_config(10).to_dict()))
    dead = psutil.Popen(["true"])
    dead.wait()
    ghost.update_status(state="running", pid=dead.pid, pid_started=time.time(), host=None, step=4)
    fresh = RunRegistry(workspace)  # a new server: nothing in memory
    runs = {r.run_id: r for r in fresh.list_runs()}
    assert runs[run_id].state == RunState.COMPLETED and runs[run_id].name == "first run"
    assert runs[ghost.run_id].state == RunState.INTERRUPTED
    frame = fresh.runs_frame()
    assert {"run_id", "state", "model.d_model", "optim.lr", "final.best_val_loss"} <= set(frame.columns)
    with pytest.raises(RunStateError, match="interrupted; only a paused run can be resumed"):
        RunController(workspace, policy).resume(ghost.run_id)
    with pytest.raises(RunNotFound, match="not a run id"):
        fresh.get("../etc")


def test_a_multi_process_run_is_a_torchrun_subprocess_followed_through_its_files(workspace, policy):
    controller = RunController(workspace, policy)
    run_id = controller.start(
        tiny_config(8, training={"eval_every": 4, "checkpoint_every": 4, "log_every": 2}), nproc=2
    )
    folder = controller.registry.get(run_id)
    assert controller.wait(run_id, timeout=240) == RunState.COMPLETED, (
        folder.path / "torchrun.log"
    ).read_text()[-2000:]
    status = folder.status()
    assert status["mode"] == "torchrun" and status["world_size"] == 2
    rows, offset = controller.read_metrics(run_id)
    assert [r["step"] for r in rows if r.get("split") == "train"] == [2, 4, 6, 8]  # rank 0 logs, once
    assert [c.step for c in folder.checkpoints()] == [4, 8]
    assert controller.read_metrics(run_id, offset) == ([], offset)
