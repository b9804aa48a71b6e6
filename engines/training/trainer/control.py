"""The run controller the page uses: start runs, pause, resume, stop, resume from any checkpoint, wait.

Single-process runs train in a background thread of the server; multi-process runs are a
``torchrun`` subprocess the page follows through the run's metrics file. Every command goes
through the run folder (``control.json``) and every state comes from it (``status.json``), so
any controller, including one created after a server restart, sees and steers the same runs.
Data preparation and training happen off the caller's thread; calls here return at once.

Calls made for a ``person`` (the page passes the signed-in user) record them as the owner of
the runs they start, and only the owner or an admin may pause, resume or stop a run; with
``RunLimits`` a start is refused (``LimitReached``) when it asks for more than the operator
allows or the person or the server already has as many runs going as allowed. Calls without a
person are the server's own (the command line, shutdown): no owner, no check.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

import engines
from engines.errors import NeurodeckError
from engines.io.policy import SourcePolicy
from engines.people import Person
from engines.training.config import TrainingConfig, parse_config
from engines.training.data.sources import load_run_data, prepare_run_data
from engines.training.data.windows import WindowDataset
from engines.training.errors import RunNotFound, RunStateError
from engines.training.limits import RunLimits
from engines.training.runs import (
    ACTIVE_STATES,
    RunFolder,
    RunRegistry,
    RunState,
    read_metrics,
    write_json_atomic,
)

__all__ = ["RunController", "start_folder_training"]

REPO_ROOT = Path(engines.__file__).resolve().parents[1]


def start_folder_training(
    folder: RunFolder,
    policy: SourcePolicy | None,
    resume_from: Path | None = None,
    mode: str = "thread",
    cancelled=None,
    progress=None,
) -> dict[str, Any]:
    """Prepare (or reload) the run's data and train it to the end in the calling thread; returns the final
    status."""
    from engines.training.trainer.loop import Trainer

    try:
        config = parse_config(folder.config())
        sessions = (
            load_run_data(folder)
            if (folder.data_dir / "manifest.json").exists()
            else prepare_run_data(folder, config.data, policy, progress, cancelled)
        )
        dataset = WindowDataset(sessions, config.data, config.training.seed)
        trainer = Trainer(
            config,
            folder,
            dataset,
            resume_from=resume_from,
            mode=mode,
            cancelled=cancelled,
            progress=progress,
        )
    except Exception as exc:  # the run ends failed with the reason the user needs
        message = str(exc) if isinstance(exc, NeurodeckError) else f"{type(exc).__name__}: {exc}"
        folder.update_status(state=RunState.FAILED.value, message=message, finished=time.time())
        return {"state": RunState.FAILED.value, "message": message}
    return trainer.run()


class RunController:
    """Start and steer runs under ``<workspace>/training/runs``; create one per server (or per session)."""

    def __init__(self, workspace: Path, policy: SourcePolicy | None = None) -> None:
        self.workspace = Path(workspace)
        self.policy = policy
        self.registry = RunRegistry(self.workspace)
        self._threads: dict[str, threading.Thread] = {}
        self._processes: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ starting
    def start(
        self,
        config: TrainingConfig,
        nproc: int = 1,
        person: Person | None = None,
        limits: RunLimits | None = None,
    ) -> str:
        """Create a run folder for ``config`` and start training it; returns the run id at once.

        ``nproc`` > 1 runs ``torchrun --nproc_per_node=nproc`` in a subprocess (gloo on CPU, nccl on GPU).
        ``person`` becomes the run's owner; ``limits`` (checked for ``person``) may refuse the start.
        """
        if nproc < 1:
            raise RunStateError("nproc must be at least 1.")
        with (
            self.registry.starting()
        ):  # for every process on the workspace: the check counts the run it allows
            if limits is not None:
                limits.check_request(config.training.steps, config.data.seq_len * config.data.bin_s, nproc)
                self._check_capacity(person, limits)
            folder = self.registry.new_run(config.name)
            folder.update_status(
                owner=person.name if person is not None else "", state=RunState.STARTING.value
            )
            write_json_atomic(folder.config_path, config.to_dict())  # the run is listed from here on, whole
            self._launch(folder, None, nproc)
        return folder.run_id

    def _check_capacity(self, person: Person | None, limits: RunLimits) -> None:
        limits.check_capacity(person or Person(""), self.registry.list_runs())

    def resume_from_checkpoint(
        self,
        run_id: str,
        step: int | None = None,
        nproc: int | None = None,
        person: Person | None = None,
        limits: RunLimits | None = None,
    ) -> str:
        """Continue a stopped, failed or interrupted run from checkpoint ``step`` (default: the newest); only
        its owner or an admin may, within ``limits`` like a new start."""
        folder = self.registry.get(run_id)
        if person is not None:
            person.require_manage(folder.owner, f"Run {run_id}")
        state = folder.effective_state()
        if state in ACTIVE_STATES:
            raise RunStateError(
                f"Run {run_id} is {state.value}; stop it before resuming it from a checkpoint."
            )
        checkpoints = folder.checkpoints()
        if not checkpoints:
            raise RunNotFound(f"Run {run_id} has no checkpoint to resume from; start it again instead.")
        chosen = checkpoints[-1] if step is None else next((c for c in checkpoints if c.step == step), None)
        if chosen is None:
            steps = ", ".join(str(c.step) for c in checkpoints)
            raise RunNotFound(f"Run {run_id} has no checkpoint at step {step}; it has steps {steps}.")
        world = int(folder.status().get("world_size", 1) or 1)
        with self.registry.starting():
            if limits is not None:
                config = parse_config(folder.config())
                limits.check_request(
                    config.training.steps, config.data.seq_len * config.data.bin_s, nproc or world
                )
                self._check_capacity(person, limits)
            self._launch(folder, chosen.path, nproc or world)
        return run_id

    def _launch(self, folder: RunFolder, resume_from: Path | None, nproc: int) -> None:
        me = psutil.Process()
        folder.update_status(
            state=RunState.STARTING.value,
            message="preparing data",
            pid=me.pid,
            pid_started=me.create_time(),
            host=socket.gethostname(),
            mode="thread" if nproc == 1 else "torchrun",
            world_size=nproc,
            started=time.time(),
            launched=time.time(),
        )
        target = self._thread_body if nproc == 1 else self._torchrun_body
        thread = threading.Thread(
            target=target, args=(folder, resume_from, nproc), daemon=True, name=f"training-{folder.run_id}"
        )
        with self._lock:
            self._threads[folder.run_id] = thread
        thread.start()

    def _thread_body(self, folder: RunFolder, resume_from: Path | None, nproc: int) -> None:
        start_folder_training(folder, self.policy, resume_from, mode="thread")

    def _torchrun_body(self, folder: RunFolder, resume_from: Path | None, nproc: int) -> None:
        if not (folder.data_dir / "manifest.json").exists():
            try:
                prepare_run_data(folder, parse_config(folder.config()).data, self.policy)
            except Exception as exc:  # the run ends failed with the reason the user needs
                message = str(exc) if isinstance(exc, NeurodeckError) else f"{type(exc).__name__}: {exc}"
                folder.update_status(state=RunState.FAILED.value, message=message, finished=time.time())
                return
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            "engines.training.cli",
            "train",
            "--resume",
            str(folder.path),
            "--workspace",
            str(self.workspace),
        ]
        if resume_from is not None:
            command += ["--checkpoint", resume_from.name]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
            "NEURODECK_RUN_LAUNCHED": str(folder.status().get("launched", time.time())),
        }
        with open(folder.path / "torchrun.log", "ab") as log:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            with self._lock:
                self._processes[folder.run_id] = process
            folder.update_status(
                pid=process.pid,
                pid_started=psutil.Process(process.pid).create_time(),
                message="starting torchrun",
            )
            code = process.wait()
        if code != 0 and folder.status().get("state") in [s.value for s in ACTIVE_STATES]:
            folder.update_status(
                state=RunState.FAILED.value,
                finished=time.time(),
                message=f"torchrun exited with code {code}; see torchrun.log in the run folder.",
            )

    # ------------------------------------------------------------ steering
    def _expect(
        self, run_id: str, allowed: tuple[RunState, ...], verb: str, person: Person | None
    ) -> RunFolder:
        folder = self.registry.get(run_id)
        if person is not None:
            person.require_manage(folder.owner, f"Run {run_id}")
        state = folder.effective_state()
        if state not in allowed:
            raise RunStateError(
                f"Run {run_id} is {state.value}; only a {' or '.join(s.value for s in allowed)} run "
                f"can be {verb}."
            )
        return folder

    def pause(self, run_id: str, person: Person | None = None) -> None:
        """Ask a running run to pause after its current step (it writes a checkpoint, then waits)."""
        self._expect(run_id, (RunState.RUNNING, RunState.STARTING), "paused", person).request("pause")

    def resume(self, run_id: str, person: Person | None = None) -> None:
        """Let a paused run continue."""
        self._expect(run_id, (RunState.PAUSED,), "resumed", person).request("resume")

    def stop(self, run_id: str, person: Person | None = None) -> None:
        """Ask a run to stop after its current step (it writes a final checkpoint)."""
        self._expect(run_id, ACTIVE_STATES, "stopped", person).request("stop")

    def wait(self, run_id: str, timeout: float | None = None) -> RunState:
        """Block until the run's thread or process ends (or ``timeout`` passes); returns its state."""
        with self._lock:
            thread = self._threads.get(run_id)
        if thread is not None:
            thread.join(timeout)
        return self.registry.get(run_id).effective_state()

    def wait_for(self, run_id: str, predicate, timeout: float = 60.0, poll_s: float = 0.1) -> bool:
        """Poll the run's status until ``predicate(status_dict)`` holds; False on timeout."""
        folder, deadline = self.registry.get(run_id), time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(folder.status()):
                return True
            time.sleep(poll_s)
        return False

    def read_metrics(self, run_id: str, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """New metric rows since ``offset`` (see ``runs.read_metrics``): what a live chart polls."""
        return read_metrics(self.registry.get(run_id).metrics_path, offset)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every run this controller started and wait for them (server shutdown)."""
        with self._lock:
            threads = dict(self._threads)
        for run_id in threads:
            try:
                self.stop(run_id)
            except (RunStateError, RunNotFound):
                pass
        deadline = time.monotonic() + timeout
        for run_id, thread in threads.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            process = self._processes.get(run_id)
            if process is not None and process.poll() is None:
                process.terminate()
