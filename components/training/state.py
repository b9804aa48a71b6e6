"""The state every view of the Training page's open run shares: which run, and what its last read said.

The page's follower writes it (on the session's thread: ``BackgroundWork`` applies each read
there) and the views watch the parameters they show: the header, the steering buttons, the
checkpoint table, the live curves and the checkpoint choices of evaluation and
interpretation. No view is told what to show by the page, so a new view only watches this.
No Panel here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import param

from components.training.follow import RunFollower, RunSnapshot, live_step
from engines.training.runs import RunState

__all__ = ["OpenRun", "NO_RUN"]

NO_RUN = "Start a run with the form, or open one from the run list."


class OpenRun(param.Parameterized):
    """One per page session; ``state`` None means no read of a run is shown (none open, or opening)."""

    run_id = param.String(default="", doc="Id of the open run ('' = none).")
    notice = param.String(default=NO_RUN, doc="What the header says while no run's status is shown.")
    run_name = param.String(default="", doc="The run's name from its config.")
    state = param.ClassSelector(
        class_=RunState, default=None, allow_None=True, doc="Run state (None = no read shown)."
    )
    step = param.Integer(default=0, doc="The step the run has reached (status or newest metric row).")
    total_steps = param.Integer(default=0, doc="Steps the run is planned to take.")
    points = param.Integer(default=0, doc="Logged training points of the current trajectory.")
    message = param.String(default="", doc="The run's last message (status file).")
    status = param.Dict(default={}, doc="The run's status file (device, mode, world size, parameters).")
    checkpoints = param.List(default=[], doc="The run's complete checkpoints (CheckpointInfo), oldest first.")
    frame = param.DataFrame(default=pd.DataFrame(), doc="Metric rows of the run's current trajectory.")
    load = param.Dict(default={}, doc="CPU and memory load of the machine running it.")

    def checkpoint_steps(self) -> list[int]:
        return [c.step for c in self.checkpoints]

    def close(self, notice: str, run_id: str = "") -> None:
        """Show no run's status: ``notice`` says why ('Opening …', 'No run open.')."""
        self.param.update(
            run_id=run_id,
            notice=notice,
            run_name="",
            state=None,
            step=0,
            total_steps=0,
            points=0,
            message="",
            status={},
            checkpoints=[],
            frame=pd.DataFrame(),
            load={},
        )

    def adopt(self, snapshot: RunSnapshot, follower: RunFollower) -> None:
        """One read the follower adopted; the views see every change at once (one batch of events)."""
        status = snapshot.status
        changes: dict[str, Any] = {
            "run_id": follower.run_id,
            "run_name": snapshot.name,
            "state": snapshot.state,
            "step": live_step(status, follower.frame),
            "total_steps": snapshot.total_steps,
            "points": follower.points(),
            "message": str(status.get("message", "")),
            "status": status,
            "checkpoints": snapshot.checkpoints,
            "load": snapshot.load,
        }
        if snapshot.frame is not None:  # new metric rows: the curves redraw
            changes["frame"] = follower.frame
        self.param.update(**changes)
