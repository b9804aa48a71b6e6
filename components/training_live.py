"""Live curves of one run: total and per-task losses (train and validation), learning rate, throughput, load.

Each plot is a ``DynamicMap`` fed by one ``Pipe`` holding the run's metric frame: ``show(frame)``
sends the new frame and Bokeh updates the plots in place. The plots are rebuilt only when the
set of tasks changes (another run); the smoothing slider re-renders through a stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import holoviews as hv
import pandas as pd
import panel as pn
import param

from components.training_plots import metric_curves, series_curves, tasks_in

__all__ = ["LiveCurves", "describe_load"]


def describe_load(load: dict[str, Any]) -> str:
    """One line for the server's load now: CPU, RAM and each GPU's memory."""
    if not load:
        return ""
    parts = [f"CPU {load['cpu_percent']:.0f}%", f"RAM {load['ram_used_gb']:.1f} of {load['ram_total_gb']:.1f} GB",
             f"this server {load['process_rss_gb']:.2f} GB"]
    parts += [f"{gpu['name']}: {gpu['memory_used_gb']:.1f} of {gpu['memory_total_gb']:.1f} GB"
              for gpu in load.get("gpus", [])]
    return "Server now: " + " · ".join(parts)


class LiveCurves(pn.viewable.Viewer):
    """``show(frame)`` with a run's metric frame; ``smoothing`` is the train curves' EMA weight."""

    smoothing = param.Number(default=0.6, bounds=(0.0, 0.99), step=0.01, doc="Smoothing of the train curves.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._pipe = hv.streams.Pipe(data=pd.DataFrame())
        self._smoothing = hv.streams.Params(self, ["smoothing"])
        self._tasks: tuple[str, ...] | None = None
        self._task_plots = pn.GridBox(ncols=2, sizing_mode="stretch_width", css_classes=["nd-training-tasks"])
        self._load = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._empty = pn.pane.Markdown("No metrics to show yet: a run logs its first points after *log every* "
                                       "steps, once its data is prepared.", css_classes=["nd-muted"], margin=(0, 10))
        self._fixed = pn.GridBox(
            self._plot(lambda f, s: metric_curves(f, "loss", s, "Total loss (weighted sum of the tasks)")),
            self._plot(lambda f, s: series_curves(f, {"learning rate": "lr"}, "Learning rate", "lr")),
            self._plot(lambda f, s: series_curves(f, {"tokens/s": "tokens_per_s"}, "Throughput", "tokens/s")),
            self._plot(lambda f, s: series_curves(f, {"CPU %": "cpu_percent"}, "CPU load of the run", "%")),
            ncols=2, sizing_mode="stretch_width")
        self._memory = self._plot(lambda f, s: series_curves(
            f, {"RAM (GB)": "ram_gb", "GPU memory (GB)": "gpu_mem_gb"}, "Memory of the run", "GB"))
        self._set_tasks(())

    def _plot(self, draw: Callable[[pd.DataFrame, float], hv.Overlay]) -> pn.pane.HoloViews:
        dmap = hv.DynamicMap(lambda data, smoothing: draw(data, smoothing), streams=[self._pipe, self._smoothing])
        return pn.pane.HoloViews(dmap, sizing_mode="stretch_width", linked_axes=False)

    def _set_tasks(self, tasks: tuple[str, ...]) -> None:
        if tasks == self._tasks:
            return
        self._tasks = tasks
        self._task_plots[:] = [self._plot(lambda f, s, t=task: metric_curves(f, f"loss/{t}", s, f"Task: {t}"))
                               for task in tasks]

    def show(self, frame: pd.DataFrame) -> None:
        """Draw ``frame`` (a run's current trajectory); on the session's thread."""
        self._set_tasks(tuple(tasks_in(frame)))
        self._empty.visible = frame.empty
        self._pipe.send(frame)

    def show_load(self, load: dict[str, Any]) -> None:
        self._load.object = describe_load(load)

    def __panel__(self) -> pn.viewable.Viewable:
        slider = pn.widgets.FloatSlider.from_param(self.param.smoothing, name="Smoothing", width=260)
        return pn.Column(pn.Row(slider, self._load, sizing_mode="stretch_width"), self._empty, self._fixed,
                         pn.pane.Markdown("#### Per task (train: raw and smoothed; validation: points)",
                                          margin=(0, 10)),
                         self._task_plots, self._memory, sizing_mode="stretch_width")
