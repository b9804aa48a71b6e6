"""Steering one run: its header (state, step, progress), pause / resume / stop, and its checkpoints.

Each view watches the page's ``OpenRun``. The buttons call back into the page
(``on_command("pause" | "resume" | "stop")``, ``on_resume_from(step)``); which are enabled
follows the run's state. "Resume" on a run that
is not paused (stopped, failed, interrupted) continues it from its newest checkpoint.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from html import escape
from typing import Any

import pandas as pd
import panel as pn
import param

from components.safe_text import escape_text
from components.training.state import OpenRun
from engines.training.runs import CheckpointInfo, RunState

__all__ = ["RunHeader", "RunControls", "CheckpointList", "STATE_COLOURS"]

STATE_COLOURS = {
    "starting": "#6c757d",
    "running": "#1f77b4",
    "paused": "#e69f00",
    "completed": "#2e7d32",
    "early_stopped": "#2e7d32",
    "stopped": "#555555",
    "failed": "#c62828",
    "interrupted": "#ad1457",
}
_RESUMABLE = (
    RunState.PAUSED,
    RunState.STOPPED,
    RunState.FAILED,
    RunState.INTERRUPTED,
    RunState.EARLY_STOPPED,
)


# checkpoints: an interrupted run's message says whether it can be resumed
_SHOWN: tuple[str, ...] = (
    "run_id",
    "notice",
    "run_name",
    "state",
    "step",
    "total_steps",
    "points",
    "message",
    "status",
    "checkpoints",
)


def _run_message(state: RunState, message: str, has_checkpoint: bool) -> str:
    """The run's last message as HTML; an interrupted run's says how to go on."""
    if state == RunState.INTERRUPTED:
        message = "The process that ran this run is gone (the server restarted or crashed). " + (
            "Resume it from its newest checkpoint with Resume, or from any checkpoint in the Checkpoints tab."
            if has_checkpoint
            else "It wrote no checkpoint before it ended: start it again from the form."
        )
    colour = "#c62828" if state in (RunState.FAILED, RunState.INTERRUPTED) else "#555"
    return f"<span style='color:{colour}'>{escape(message)}</span>" if message else ""


class RunHeader(pn.viewable.Viewer):
    """Name, state badge, "Step k of n · state · p points", progress bar and the run's last message;
    follows the page's ``OpenRun``."""

    def __init__(self, run: OpenRun) -> None:
        super().__init__()
        self._run = run
        self._title = pn.pane.HTML("", margin=(5, 10, 0, 10))
        self._status = pn.pane.Markdown("", css_classes=["nd-training-status"], margin=(0, 10))
        self._progress = pn.indicators.Progress(
            value=0, max=1, width=260, bar_color="primary", margin=(10, 10), visible=False
        )
        self._message = pn.pane.HTML(
            "", css_classes=["nd-training-run-message"], margin=(0, 10), sizing_mode="stretch_width"
        )
        run.param.watch(lambda *_events: self._render(), list(_SHOWN))
        self._render()

    def _render(self) -> None:
        run = self._run
        if run.state is None:
            self._clear(run.notice)
            return
        state, status = run.state, run.status
        colour = STATE_COLOURS.get(state.value, "#555")
        self._title.object = (
            f"<span style='font-size:1.25em;font-weight:600'>{escape(run.run_name)}</span> "
            f"<span style='background:{colour};color:white;border-radius:4px;padding:1px 8px;"
            f"margin-left:8px'>{state.value}</span> <code style='margin-left:8px;color:#666'>"
            f"{escape(run.run_id)}</code>"
        )
        where = f"{status.get('device', '')} · {status.get('mode', '')}" + (
            f" × {status['world_size']}" if int(status.get("world_size", 1) or 1) > 1 else ""
        )
        params = f" · {int(status['parameters']):,} parameters" if status.get("parameters") else ""
        self._status.object = (
            f"Step {run.step} of {run.total_steps} · {state.value} · {run.points} points · "
            f"{escape_text(where.strip(' ·'))}{params}"
        )
        self._show_progress(run.step, max(1, run.total_steps))
        self._message.object = _run_message(state, run.message, bool(run.checkpoints))

    def _show_progress(self, step: int, total: int) -> None:
        if self._progress.max != total:
            self._progress.value = 0
            self._progress.max = total
        self._progress.value = min(step, total)
        self._progress.visible = True

    @property
    def text(self) -> str:
        """The status line ("Step k of n · state · p points · …"), '' when no run is open."""
        return self._status.object

    def _clear(self, text: str) -> None:
        self._title.object = f"<span style='font-size:1.1em;color:#555'>{escape(text)}</span>"
        self._status.object = ""
        self._message.object = ""
        self._progress.visible = False

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self._title, pn.Row(self._status, self._progress), self._message, sizing_mode="stretch_width"
        )


def _send(on_command: Callable[[str], None], command: str, _event: param.parameterized.Event) -> None:
    """One command button's click; the command is bound per button (a closure would see the last one)."""
    on_command(command)


class RunControls(pn.viewable.Viewer):
    """Pause, Resume, Stop; enabled by state."""

    def __init__(self, run: OpenRun, on_command: Callable[[str], None]) -> None:
        super().__init__()
        self._run = run
        self._pause = pn.widgets.Button(label="Pause", button_type="warning", width=90, disabled=True)
        self._resume = pn.widgets.Button(label="Resume", button_type="success", width=90, disabled=True)
        self._stop = pn.widgets.Button(label="Stop", button_type="danger", width=90, disabled=True)
        for button, command in ((self._pause, "pause"), (self._resume, "resume"), (self._stop, "stop")):
            button.on_click(functools.partial(_send, on_command, command))
        self._row = pn.Row(self._pause, self._resume, self._stop, visible=False)
        run.param.watch(lambda *_events: self._enable(), ["state", "checkpoints"])

    def _enable(self) -> None:
        """Enable what the run's state allows (None: no run shown, the buttons are hidden)."""
        state, has_checkpoint = self._run.state, bool(self._run.checkpoints)
        self._row.visible = state is not None
        self._pause.disabled = state not in (RunState.RUNNING, RunState.STARTING)
        self._stop.disabled = state not in (RunState.RUNNING, RunState.STARTING, RunState.PAUSED)
        self._resume.disabled = not (state == RunState.PAUSED or (state in _RESUMABLE and has_checkpoint))
        self._resume.description = (
            "Continue the paused run" if state == RunState.PAUSED else "Continue from the newest checkpoint"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._row


def _rounded(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def checkpoint_rows(checkpoints: list[CheckpointInfo]) -> pd.DataFrame:
    rows = [
        {
            "step": c.step,
            "written": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c.created)),
            "why": c.metrics.get("reason", ""),
            "train loss": _rounded(c.metrics.get("train_loss")),
            "best val loss": _rounded(c.metrics.get("val_loss")),
            "file": c.path.name,
        }
        for c in reversed(checkpoints)
    ]
    return pd.DataFrame(rows, columns=["step", "written", "why", "train loss", "best val loss", "file"])


class CheckpointList(pn.viewable.Viewer):
    """The run's complete checkpoints, newest first; "resume from here" continues the run from one."""

    def __init__(self, run: OpenRun, on_resume_from: Callable[[int], None]) -> None:
        super().__init__()
        self._run = run
        self._on_resume_from = on_resume_from
        self._steps: list[int] = []
        self._table = pn.widgets.Tabulator(
            checkpoint_rows([]),
            show_index=False,
            disabled=True,
            height=260,
            sizing_mode="stretch_width",
            layout="fit_data_stretch",
            buttons={
                "resume": "<span title='Continue the run from this checkpoint'>▶ resume from here</span>"
            },
            css_classes=["nd-training-checkpoints"],
        )
        self._table.on_click(self._clicked)
        self._note = pn.pane.Markdown(
            "A run writes a checkpoint every *checkpoint every* steps, when paused, and when it stops. "
            "Resuming from an earlier checkpoint drops the later history of the curves. "
            "A running run must be stopped first.",
            css_classes=["nd-muted"],
            margin=(0, 10),
        )
        run.param.watch(lambda e: self._show(e.new), "checkpoints")

    @property
    def steps(self) -> list[int]:
        return list(self._steps)

    def _show(self, checkpoints: list[CheckpointInfo]) -> None:
        steps = [c.step for c in checkpoints]
        if steps != self._steps or len(self._table.value) != len(steps):
            self._steps = steps
            self._table.value = checkpoint_rows(checkpoints)

    def _clicked(self, event) -> None:
        if event.column == "resume" and event.row is not None and event.row < len(self._table.value):
            self._on_resume_from(int(self._table.value.iloc[event.row]["step"]))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._note, self._table, sizing_mode="stretch_width")
