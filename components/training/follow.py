"""Follow one training run for a live view: new metric rows, its status and checkpoints, once a second.

``RunFollower.read()`` runs off the session's thread and changes nothing; it reads only the
rows added to the run's metrics store since the last adopted read (``read_metrics``), plus
``status.json`` and the checkpoint folder's listing. ``adopt(snapshot)`` runs on the session's
thread and keeps a snapshot only if it continues from the offset held now, so overlapping
reads can never add a row twice. A ``resume`` event (the run went back to a checkpoint)
drops the later history: the frame is always the run's current trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from engines.training.runs import CheckpointInfo, RunFolder, RunState, current_trajectory, read_metrics
from engines.training.system import system_load

__all__ = ["RunSnapshot", "RunFollower", "live_step"]


@dataclass(frozen=True)
class RunSnapshot:
    """One read of a run: ``frame`` is None when no new metric rows arrived since ``start``."""

    run_id: str
    start: int
    end: int
    rows: list[dict[str, Any]]
    frame: pd.DataFrame | None
    status: dict[str, Any]
    state: RunState
    checkpoints: list[CheckpointInfo]
    name: str
    total_steps: int
    load: dict[str, Any] = field(default_factory=dict)


def live_step(status: dict[str, Any], frame: pd.DataFrame) -> int:
    """The step the run has reached: its status file is rewritten every few seconds, metric rows more
    often."""
    logged = int(frame["step"].max()) if not frame.empty and "step" in frame.columns else 0
    return max(int(status.get("step", 0) or 0), logged)


class RunFollower:
    """One run's live state on the page: all its metric rows so far and the frame of its current
    trajectory."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder
        self.offset = 0
        self.rows: list[dict[str, Any]] = []
        self.frame = pd.DataFrame()
        self.name: str | None = None
        self.planned_steps = 0

    @property
    def run_id(self) -> str:
        return self.folder.run_id

    def read(self, with_load: bool = True) -> RunSnapshot:
        """Off the session's thread: the new rows since the adopted offset, the status, the checkpoints.

        Costs one read of the appended bytes, two small JSON files and one directory listing.
        """
        start, known = self.offset, self.rows
        new, end = read_metrics(self.folder.metrics_path, start)
        rows = known + new if new else known
        frame = None
        if new or start == 0:
            frame = pd.DataFrame([r for r in current_trajectory(rows) if "event" not in r])
        status = self.folder.status()
        name, planned = self.name, self.planned_steps
        if name is None:  # the config never changes: read it once
            config = self.folder.config()
            name, planned = config.get("name") or self.run_id, int(config.get("training", {}).get("steps", 0))
        return RunSnapshot(
            run_id=self.run_id,
            start=start,
            end=end,
            rows=rows,
            frame=frame,
            status=status,
            state=self.folder.effective_state(status),
            checkpoints=self.folder.checkpoints(),
            name=name,
            total_steps=int(status.get("total_steps") or planned),
            load=system_load() if with_load else {},
        )

    def adopt(self, snapshot: RunSnapshot) -> bool:
        """On the session's thread: keep the snapshot's rows if it continues from this follower's offset."""
        if snapshot.run_id != self.run_id or snapshot.start != self.offset:
            return False
        self.offset, self.rows, self.name = snapshot.end, snapshot.rows, snapshot.name
        self.planned_steps = self.planned_steps or snapshot.total_steps
        if snapshot.frame is not None:
            self.frame = snapshot.frame
        return True

    def points(self) -> int:
        """Logged training points of the current trajectory (what the curves show)."""
        if self.frame.empty or "split" not in self.frame.columns:
            return 0
        return int((self.frame["split"] == "train").sum())
