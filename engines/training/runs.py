"""Run folders and the run registry: everything the page needs to list and follow runs, without torch.

A run lives in ``<workspace>/training/runs/<run id>/``::

    config.json        the validated TrainingConfig
    status.json        state, owner, pid, host, step, message (rewritten atomically)
    metrics.sqlite     train/val rows and events (resume, checkpoint, ...), appended (``metrics_store``);
                       a run from before it has ``metrics.jsonl`` instead, copied in on first read
    control.json       pause / resume / stop requests for the running process
    checkpoints/       step_00000100.pt + step_00000100.json (metadata), written atomically
    tensorboard/       event files mirroring the metrics
    data/              the converted sessions the run trains on (.npz) and their manifest
    evaluation.json    the last evaluation (decoding R^2, co-bps, baselines)

The folders are the truth; ``<workspace>/training/run_index.sqlite`` indexes them (``RunIndex``),
refreshed on every listing from the folders whose status or config changed since (a ``stat`` of
each), so a server restart loses nothing, every server process on the workspace sees every run,
and 1,000 runs list in well under a second; a run whose process is gone is
reported as ``interrupted`` however its status file ends (a run on another host, whose process
cannot be looked up from here, lives while its status file has a heartbeat younger than
``HEARTBEAT_S``). Starts take the workspace's start lock (``RunRegistry.starting``), so a limit
check counts the runs of every process and no other start slips in before the run is written.

A run's owner is the signed-in user who started it (``status.json``'s ``owner``; '' for runs
started before owners were recorded or from the command line: those belong to the admins).
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from engines._filesystem import atomic_write, build_lock
from engines.training.errors import RunNotFound, RunStateError
from engines.training.metrics_store import (
    LEGACY_NAME,
    STORE_NAME,
    current_trajectory,
    metric_series,
    read_rows,
    trajectory_rows,
)

__all__ = [
    "RunState",
    "RunFolder",
    "RunInfo",
    "CheckpointInfo",
    "RunRegistry",
    "read_metrics",
    "current_trajectory",
    "write_json_atomic",
    "runs_root",
    "ACTIVE_STATES",
    "HEARTBEAT_S",
]


class RunState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    EARLY_STOPPED = "early_stopped"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


ACTIVE_STATES = (RunState.STARTING, RunState.RUNNING, RunState.PAUSED)
HEARTBEAT_S = 120.0
"""A run on another host counts as alive while its status was rewritten this recently (its trainer does every
5 s)."""
START_WAIT_S = 30.0
"""How long a start waits for another process's start (each takes well under a second) before giving up."""


def runs_root(workspace: Path) -> Path:
    return Path(workspace) / "training" / "runs"


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write a run file's JSON (indented, unknown types as text) atomically: readers never see half a file."""
    atomic_write(path, json.dumps(payload, indent=1, default=str))


def read_metrics(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The metric rows and events of a run's store (``RunFolder.metrics_path``) after ``offset``, and the
    offset to continue from (a row id). Costs one query of the new rows, so the page polls it every second.
    """
    return read_rows(path, offset)


@dataclass(frozen=True)
class CheckpointInfo:
    step: int
    path: Path
    created: float
    metrics: dict[str, Any] = field(default_factory=dict)


def _process_alive(pid: int | None, started: float | None, host: str | None, updated: float | None) -> bool:
    if not pid:
        return False
    if host and host != socket.gethostname():
        return time.time() - float(updated or 0) < HEARTBEAT_S
    try:
        process = psutil.Process(int(pid))
        return started is None or abs(process.create_time() - float(started)) < 2.0
    except (psutil.Error, ValueError):
        return False


class RunFolder:
    """One run's folder: its files, read and written safely."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    config_path = property(lambda self: self.path / "config.json")
    status_path = property(lambda self: self.path / "status.json")
    metrics_path = property(lambda self: self.path / STORE_NAME)
    legacy_metrics_path = property(lambda self: self.path / LEGACY_NAME)
    control_path = property(lambda self: self.path / "control.json")
    checkpoint_dir = property(lambda self: self.path / "checkpoints")
    tensorboard_dir = property(lambda self: self.path / "tensorboard")
    data_dir = property(lambda self: self.path / "data")
    evaluation_path = property(lambda self: self.path / "evaluation.json")

    def exists(self) -> bool:
        return self.config_path.exists()

    @property
    def owner(self) -> str:
        """Who started the run ('' when nobody in particular did: see the module docstring)."""
        return str(self.status().get("owner", "") or "")

    def config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunNotFound(
                f"There is no run {self.run_id!r} (its config.json is missing). Pick a run from the list."
            ) from None

    def status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {"state": RunState.STARTING.value}

    def update_status(self, **changes: Any) -> dict[str, Any]:
        status = {**self.status(), **changes, "updated": time.time()}
        write_json_atomic(self.status_path, status)
        return status

    def mark_owner(self, mode: str, world_size: int = 1) -> None:
        """Record this process as the run's owner, so the registry can tell whether it still lives."""
        me = psutil.Process()
        self.update_status(
            pid=me.pid,
            pid_started=me.create_time(),
            host=socket.gethostname(),
            mode=mode,
            world_size=world_size,
        )

    def effective_state(self, status: dict[str, Any] | None = None) -> RunState:
        """The stored state, except a run whose owning process is gone is ``interrupted``."""
        status = status if status is not None else self.status()
        try:
            state = RunState(status.get("state", "starting"))
        except ValueError:
            return RunState.FAILED
        if state in ACTIVE_STATES and not _process_alive(
            status.get("pid"), status.get("pid_started"), status.get("host"), status.get("updated")
        ):
            if state == RunState.STARTING and time.time() - float(status.get("updated", 0)) < 30:
                return state  # a subprocess that has not written its pid yet
            return RunState.INTERRUPTED
        return state

    def request(self, command: str) -> None:
        """Ask the run's process to pause, resume or stop (it reads this file between steps)."""
        previous = self.read_control()
        write_json_atomic(
            self.control_path,
            {"command": command, "seq": int(previous.get("seq", 0)) + 1, "time": time.time()},
        )

    def read_control(self) -> dict[str, Any]:
        try:
            return json.loads(self.control_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def checkpoints(self) -> list[CheckpointInfo]:
        """Complete checkpoints (weights and metadata both present), oldest first."""
        found = []
        for meta in sorted(self.checkpoint_dir.glob("step_*.json")):
            weights = meta.with_suffix(".pt")
            if not weights.exists():
                continue
            try:
                info = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            found.append(
                CheckpointInfo(
                    step=int(info.get("step", 0)),
                    path=weights,
                    created=float(info.get("created", weights.stat().st_mtime)),
                    metrics=info.get("metrics", {}),
                )
            )
        return sorted(found, key=lambda c: c.step)

    def metrics(self) -> pd.DataFrame:
        """The current trajectory as a DataFrame (one row per logged step and split)."""
        return pd.DataFrame(trajectory_rows(self.metrics_path))

    def metric_series(self, split: str, metric: str) -> pd.DataFrame:
        """``step`` and ``value`` of one metric on ``split`` along the current trajectory (what a comparison
        draws)."""
        return metric_series(self.metrics_path, split, metric)

    def evaluation(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.evaluation_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None


@dataclass(frozen=True)
class RunInfo:
    """One row of the run list."""

    run_id: str
    name: str
    state: RunState
    step: int
    total_steps: int
    started: float | None
    updated: float | None
    message: str
    mode: str
    hyperparameters: dict[str, Any]
    final: dict[str, Any]
    path: Path
    owner: str = ""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "run"


class RunRegistry:
    """Runs under ``<workspace>/training/runs``; every call re-reads the folders (cheap: a few small files a
    run)."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = Path(workspace)
        self.root = runs_root(workspace)
        self._index: Any = None

    @contextmanager
    def starting(self, wait_s: float = START_WAIT_S) -> Iterator[None]:
        """Hold the workspace's start lock: a limit check and the start it allows happen as one, in every
        process."""
        with build_lock(self.workspace, "training-start", wait_s) as held:
            if not held:
                raise RunStateError(
                    f"Another run has been starting on this workspace for {wait_s:g} s; try again "
                    "in a moment."
                )
            yield

    def new_run(self, name: str | None = None) -> RunFolder:
        self.root.mkdir(parents=True, exist_ok=True)
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(name or 'run')}-{secrets.token_hex(2)}"
        path = self.root / run_id
        path.mkdir()
        return RunFolder(path)

    def get(self, run_id: str) -> RunFolder:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}", run_id or ""):
            raise RunNotFound(f"{run_id!r} is not a run id. Pick a run from the list.")
        folder = RunFolder(self.root / run_id)
        if not folder.exists():
            raise RunNotFound(f"There is no run {run_id!r} in this workspace. It may have been deleted.")
        return folder

    def _run_index(self) -> Any:
        """The workspace's ``RunIndex``, opened on the first listing (its file is created then)."""
        if self._index is None:
            from engines.training.run_index import RunIndex  # it builds on this module's RunFolder, RunInfo

            self._index = RunIndex(self.workspace)
        return self._index

    def list_runs(self, owner: str | None = None) -> list[RunInfo]:
        """Every run (``owner``: that person's only), newest first, from the workspace's run index.

        Costs a ``stat`` of two files per run and a read of the runs that changed since the last call.
        """
        return self._run_index().runs(owner)

    def runs_frame(self, owner: str | None = None) -> pd.DataFrame:
        """One row per run: id, name, owner, state, step, then ``final.*`` metrics and hyperparameters
        (sortable table), newest first; as cheap as ``list_runs``."""
        return self._run_index().frame(owner)
