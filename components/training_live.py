"""Live curves of one run: total and per-task losses (train and validation), learning rate, throughput, load.

Each plot is a ``DynamicMap`` fed by one ``Pipe`` holding the run's metric frame: ``show(frame)``
sends the new frame and Bokeh updates the plots in place. The plots are built on the first
non-empty frame, so a Training tab that shows no run costs next to nothing; the per-task losses
share one figure (a curve per task) whose plot is replaced only when the set of tasks changes
(another run), and the learning rate, throughput and load are drawn only once their card is
opened. The smoothing slider re-renders through a stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from components.training_plots import _curve, _finish, _series, metric_curves, series_curves, smooth, tasks_in

__all__ = ["LiveCurves", "describe_load", "task_curves"]


def describe_load(load: dict[str, Any]) -> str:
    """One line for the server's load now: CPU, RAM and each GPU's memory."""
    if not load:
        return ""
    parts = [f"CPU {load['cpu_percent']:.0f}%", f"RAM {load['ram_used_gb']:.1f} of {load['ram_total_gb']:.1f} GB",
             f"this server {load['process_rss_gb']:.2f} GB"]
    parts += [f"{gpu['name']}: {gpu['memory_used_gb']:.1f} of {gpu['memory_total_gb']:.1f} GB"
              for gpu in load.get("gpus", [])]
    return "Server now: " + " · ".join(parts)


def task_curves(frame: pd.DataFrame, tasks: tuple[str, ...], smoothing: float, height: int = 300) -> hv.Overlay:
    """Every task's loss in one figure, a colour per task: train smoothed (line), validation (dashed, points).

    One figure instead of one per task: each figure costs the server a Bokeh model tree, and the
    tasks are easier to weigh against each other on shared axes. The legend names each task once
    (its train and validation glyphs share the label) and clicking it mutes that task.
    """
    palette = hv.Cycle.default_cycles["default_colors"]
    layers: list[hv.Element] = []
    for k, task in enumerate(tasks):
        color, column = palette[k % len(palette)], f"loss/{task}"
        x, y = _series(frame, column, "train")
        vx, vy = _series(frame, column, "val")
        layers += [_curve(x, smooth(y, smoothing), task, "loss", color=color, line_width=2),
                   _curve(vx, vy, task, "loss", color=color, line_width=1.5, line_dash="dashed"),
                   hv.Scatter((vx, vy), "step", hv.Dimension("value", label="loss"), label=task).opts(
                       color=color, size=5)]
    if not layers:
        layers = [_curve(np.zeros(0), np.zeros(0), "no task logged yet", "loss")]
    overlay = _finish(hv.Overlay(layers), "Loss per task (lines: train, smoothed; dashed with points: validation)",
                      height)
    return overlay.opts(hv.opts.Overlay(legend_position="right", show_legend=True))


class LiveCurves(pn.viewable.Viewer):
    """``show(frame)`` with a run's metric frame; ``smoothing`` is the train curves' EMA weight."""

    smoothing = param.Number(default=0.6, bounds=(0.0, 0.99), step=0.01, doc="Smoothing of the train curves.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._pipe = hv.streams.Pipe(data=pd.DataFrame())
        self._smoothing = hv.streams.Params(self, ["smoothing"])
        self._tasks: tuple[str, ...] | None = None
        self._load = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._empty = pn.pane.Markdown("No metrics to show yet: a run logs its first points after *log every* "
                                       "steps, once its data is prepared.", css_classes=["nd-muted"], margin=(0, 10))
        # Filled by _build on the first non-empty frame; empty until then.
        self._losses = pn.Column(sizing_mode="stretch_width")
        self._task_plot: pn.pane.HoloViews | None = None
        self._health = pn.Card(title="Learning rate, throughput, CPU and memory of the run", collapsed=True,
                               sizing_mode="stretch_width", css_classes=["nd-training-health"])
        self._health.param.watch(self._open_health, "collapsed")

    def _dmap(self, draw: Callable[[pd.DataFrame, float], hv.Overlay]) -> hv.DynamicMap:
        return hv.DynamicMap(lambda data, smoothing: draw(data, smoothing), streams=[self._pipe, self._smoothing])

    def _plot(self, draw: Callable[[pd.DataFrame, float], hv.Overlay]) -> pn.pane.HoloViews:
        return pn.pane.HoloViews(self._dmap(draw), sizing_mode="stretch_width", linked_axes=False)

    def _build(self, tasks: tuple[str, ...]) -> None:
        """The loss plots, once per view; the pipe already holds the first frame, so each renders once."""
        self._tasks = tasks
        self._task_plot = self._plot(lambda f, s: task_curves(f, tasks, s))
        self._losses[:] = [
            self._plot(lambda f, s: metric_curves(f, "loss", s, "Total loss (weighted sum of the tasks)")),
            self._task_plot, self._health]

    def _open_health(self, event: param.parameterized.Event) -> None:
        """Learning rate, throughput and load are drawn when their card is first opened, not on every open run."""
        if event.new or len(self._health):
            return
        self._health[:] = [pn.GridBox(
            self._plot(lambda f, s: series_curves(f, {"learning rate": "lr"}, "Learning rate", "lr")),
            self._plot(lambda f, s: series_curves(f, {"tokens/s": "tokens_per_s"}, "Throughput", "tokens/s")),
            self._plot(lambda f, s: series_curves(f, {"CPU %": "cpu_percent"}, "CPU load of the run", "%")),
            self._plot(lambda f, s: series_curves(f, {"RAM (GB)": "ram_gb", "GPU memory (GB)": "gpu_mem_gb"},
                                                  "Memory of the run", "GB")),
            ncols=2, sizing_mode="stretch_width")]

    def _set_tasks(self, tasks: tuple[str, ...]) -> None:
        """Another run with other tasks: a new figure in the same pane (a dynamic plot keeps its first layers)."""
        if tasks != self._tasks:
            self._tasks = tasks
            self._task_plot.object = self._dmap(lambda f, s: task_curves(f, tasks, s))

    def show(self, frame: pd.DataFrame) -> None:
        """Draw ``frame`` (a run's current trajectory); on the session's thread."""
        self._empty.visible = frame.empty
        tasks = tuple(tasks_in(frame))
        self._pipe.send(frame)
        if self._task_plot is None:
            if not frame.empty:
                self._build(tasks)
        elif tasks:
            self._set_tasks(tasks)

    def show_load(self, load: dict[str, Any]) -> None:
        self._load.object = describe_load(load)

    def __panel__(self) -> pn.viewable.Viewable:
        slider = pn.widgets.FloatSlider.from_param(self.param.smoothing, name="Smoothing", width=260)
        return pn.Column(pn.Row(slider, self._load, sizing_mode="stretch_width"), self._empty, self._losses,
                         sizing_mode="stretch_width")
