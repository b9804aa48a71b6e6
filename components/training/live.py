"""Live curves of one run: total and per-task losses (train and validation), learning rate, throughput, load.

Drawn with Bokeh figures whose data sources are updated in place: ``show(frame)`` replaces the
sources' columns, and the smoothing slider recomputes only the smoothed columns. HoloViews drew
the same curves, but rendering its overlays cost the server about a third of a second of CPU
each time a person opened a run, which with a lab on one server was the slowest click of the
app; Bokeh's own figures cost a fraction of that and update without re-rendering.

The figures are made on the first non-empty frame, so a Training tab that shows no run costs
next to nothing; the per-task losses share one figure (a curve per task), made again only when
the set of tasks changes (another run); learning rate, throughput and load are drawn only once
their card is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.core.enums import LegendLocationType
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.models.annotations.legends import Legend, LegendItem  # bokeh.models re-exports them untyped
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from components.training.plots import TRAIN_COLOR, VAL_COLOR, _series, _thin, smooth, tasks_in
from components.training.state import OpenRun

__all__ = ["LiveCurves", "describe_load"]

_HEALTH = (
    ("Learning rate", "lr", {"learning rate": "lr"}),
    ("Throughput", "tokens/s", {"tokens/s": "tokens_per_s"}),
    ("CPU load of the run", "%", {"CPU %": "cpu_percent"}),
    ("Memory of the run", "GB", {"RAM (GB)": "ram_gb", "GPU memory (GB)": "gpu_mem_gb"}),
)
_HEALTH_COLORS = ("#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def describe_load(load: dict[str, Any]) -> str:
    """One line for the server's load now: CPU, RAM and each GPU's memory."""
    if not load:
        return ""
    parts = [
        f"CPU {load['cpu_percent']:.0f}%",
        f"RAM {load['ram_used_gb']:.1f} of {load['ram_total_gb']:.1f} GB",
        f"this server {load['process_rss_gb']:.2f} GB",
    ]
    parts += [
        f"{gpu['name']}: {gpu['memory_used_gb']:.1f} of {gpu['memory_total_gb']:.1f} GB"
        for gpu in load.get("gpus", [])
    ]
    return "Server now: " + " · ".join(parts)


def _figure(title: str, ylabel: str, height: int) -> Any:
    fig = figure(
        title=title,
        height=height,
        sizing_mode="stretch_width",
        x_axis_label="step",
        y_axis_label=ylabel,
        tools="pan,wheel_zoom,box_zoom,reset,save",
    )
    fig.add_tools(HoverTool(tooltips=[("step", "@step{0,0}"), ("value", "@value{0.0000}")], mode="mouse"))
    return fig


def _legend(fig: Any, items: list[tuple[str, list]], place: LegendLocationType | Literal["right"]) -> None:
    """One legend entry per label (its glyphs drawn and muted together); clicking an entry mutes it.
    ``place``: a corner or edge inside the plot, or "right" for beside it."""
    legend = Legend(
        items=[LegendItem(label=label, renderers=renderers) for label, renderers in items],
        click_policy="mute",
        background_fill_alpha=0.6,
    )
    if place == "right":
        fig.add_layout(legend, "right")
    else:
        legend.location = place
        fig.add_layout(legend)


def _xy(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    x, y = _thin(x, y)
    return {"step": x, "value": y}


class _Curves:
    """One figure and its sources; ``fill(frame, smoothing)`` sets every source's columns from the frame."""

    def __init__(
        self, fig: Any, fill: Callable[[pd.DataFrame, float], dict[str, dict[str, np.ndarray]]]
    ) -> None:
        self.fig = fig
        self._fill = fill
        self.sources: dict[str, ColumnDataSource] = {}

    def source(self, name: str) -> ColumnDataSource:
        self.sources[name] = ColumnDataSource({"step": [], "value": []})
        return self.sources[name]

    def fill(self, frame: pd.DataFrame, smoothing: float) -> None:
        for name, data in self._fill(frame, smoothing).items():
            self.sources[name].data = data
        for legend in self.fig.legend:  # the legend names only what is drawn (no GPU memory on a CPU run)
            for item in legend.items:
                item.visible = any(len(r.data_source.data["step"]) for r in item.renderers)


def _metric_curves(column: str, title: str, height: int = 240) -> _Curves:
    """Train values (raw, faint, and smoothed) and validation values (points joined) of one metric."""

    def fill(frame: pd.DataFrame, smoothing: float) -> dict[str, dict[str, np.ndarray]]:
        x, y = _series(frame, column, "train")
        return {
            "raw": _xy(x, y),
            "train": _xy(x, smooth(y, smoothing)),
            "val": _xy(*_series(frame, column, "val")),
        }

    curves = _Curves(_figure(title, "loss", height), fill)
    fig = curves.fig
    raw = fig.line("step", "value", source=curves.source("raw"), color=TRAIN_COLOR, alpha=0.25, line_width=1)
    train = fig.line("step", "value", source=curves.source("train"), color=TRAIN_COLOR, line_width=2)
    val_source = curves.source("val")
    val = [
        fig.line("step", "value", source=val_source, color=VAL_COLOR, line_width=2),
        fig.scatter("step", "value", source=val_source, color=VAL_COLOR, size=5),
    ]
    _legend(fig, [("train (raw)", [raw]), ("train", [train]), ("validation", val)], "top_right")
    return curves


def _task_curves(tasks: tuple[str, ...], height: int = 300) -> _Curves:
    """Every task's loss in one figure, a colour per task: train smoothed (line), validation (dashed, points).

    One figure instead of one per task: each figure costs the server a Bokeh model tree, and the
    tasks are easier to weigh against each other on shared axes. The legend names each task once
    (its train and validation glyphs share the entry) and clicking it mutes that task.
    """

    def fill(frame: pd.DataFrame, smoothing: float) -> dict[str, dict[str, np.ndarray]]:
        found = {}
        for task in tasks:
            x, y = _series(frame, f"loss/{task}", "train")
            found[f"{task}/train"] = _xy(x, smooth(y, smoothing))
            found[f"{task}/val"] = _xy(*_series(frame, f"loss/{task}", "val"))
        return found

    curves = _Curves(
        _figure("Loss per task (lines: train, smoothed; dashed with points: validation)", "loss", height),
        fill,
    )
    fig, items = curves.fig, []
    for k, task in enumerate(tasks):
        color = Category10_10[k % len(Category10_10)]
        val_source = curves.source(f"{task}/val")
        items.append(
            (
                task,
                [
                    fig.line(
                        "step", "value", source=curves.source(f"{task}/train"), color=color, line_width=2
                    ),
                    fig.line(
                        "step", "value", source=val_source, color=color, line_width=1.5, line_dash="dashed"
                    ),
                    fig.scatter("step", "value", source=val_source, color=color, size=5),
                ],
            )
        )
    if items:
        _legend(fig, items, "right")
    return curves


def _series_curves(title: str, ylabel: str, columns: dict[str, str], height: int = 200) -> _Curves:
    """Train-row columns over steps, one labelled curve each (``{label: column}``)."""

    def fill(frame: pd.DataFrame, _smoothing: float) -> dict[str, dict[str, np.ndarray]]:
        return {label: _xy(*_series(frame, column, "train")) for label, column in columns.items()}

    curves = _Curves(_figure(title, ylabel, height), fill)
    items = [
        (label, [curves.fig.line("step", "value", source=curves.source(label), color=color, line_width=2)])
        for (label, _column), color in zip(columns.items(), _HEALTH_COLORS)
    ]
    if len(items) > 1:
        _legend(curves.fig, items, "top_left")
    return curves


class LiveCurves(pn.viewable.Viewer):
    """The open run's metric frame and machine load, redrawn when its ``OpenRun`` changes them;
    ``smoothing`` is the train curves' EMA weight."""

    smoothing = param.Number(default=0.6, bounds=(0.0, 0.99), step=0.01, doc="Smoothing of the train curves.")

    def __init__(self, run: OpenRun, **params) -> None:
        super().__init__(**params)
        self._frame = pd.DataFrame()
        self._tasks: tuple[str, ...] | None = None
        self._curves: list[_Curves] = []  # every figure drawn, each filled from the frame
        self._load = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._empty = pn.pane.Markdown(
            "No metrics to show yet: a run logs its first points after *log every* "
            "steps, once its data is prepared.",
            css_classes=["nd-muted"],
            margin=(0, 10),
        )
        # Filled by _build on the first non-empty frame; empty until then.
        self._losses = pn.Column(sizing_mode="stretch_width")
        self._task_pane: pn.pane.Bokeh | None = None
        self._health = pn.Card(
            title="Learning rate, throughput, CPU and memory of the run",
            collapsed=True,
            sizing_mode="stretch_width",
            css_classes=["nd-training-health"],
        )
        self._health.param.watch(self._open_health, "collapsed")
        run.param.watch(lambda e: self.show_frame(e.new), "frame")
        run.param.watch(lambda e: self.show_load(e.new), "load")

    def _pane(self, curves: _Curves) -> pn.pane.Bokeh:
        curves.fill(self._frame, self.smoothing)
        self._curves.append(curves)
        return pn.pane.Bokeh(curves.fig, sizing_mode="stretch_width")

    def _build(self, tasks: tuple[str, ...]) -> None:
        """The loss figures, once per view, drawn from the frame already held."""
        self._tasks = tasks
        self._task_pane = self._pane(_task_curves(tasks))
        self._losses[:] = [
            self._pane(_metric_curves("loss", "Total loss (weighted sum of the tasks)")),
            self._task_pane,
            self._health,
        ]

    def _open_health(self, event: param.parameterized.Event) -> None:
        """Learning rate, throughput and load are drawn when their card is first opened, not on every open
        run."""
        if event.new or len(self._health):
            return
        self._health[:] = [
            pn.GridBox(
                *(self._pane(_series_curves(title, ylabel, columns)) for title, ylabel, columns in _HEALTH),
                ncols=2,
                sizing_mode="stretch_width",
            )
        ]

    def _set_tasks(self, pane: pn.pane.Bokeh, tasks: tuple[str, ...]) -> None:
        """Another run with other tasks: a new per-task figure in the same ``pane``."""
        self._tasks = tasks
        self._curves = [c for c in self._curves if c.fig is not pane.object]
        curves = _task_curves(tasks)
        curves.fill(self._frame, self.smoothing)
        self._curves.append(curves)
        pane.object = curves.fig

    @param.depends("smoothing", watch=True)
    def _on_smoothing(self) -> None:
        for curves in self._curves:
            curves.fill(self._frame, self.smoothing)

    def show_frame(self, frame: pd.DataFrame) -> None:
        """Draw ``frame`` (a run's current trajectory); on the session's thread."""
        self._empty.visible = frame.empty
        self._frame = frame
        tasks = tuple(tasks_in(frame))
        pane = self._task_pane
        if pane is None:
            if not frame.empty:
                self._build(tasks)
            return
        for curves in self._curves:
            curves.fill(frame, self.smoothing)
        if tasks and tasks != self._tasks:
            self._set_tasks(pane, tasks)

    def show_load(self, load: dict[str, Any]) -> None:
        self._load.object = describe_load(load)

    def __panel__(self) -> pn.viewable.Viewable:
        slider = pn.widgets.FloatSlider.from_param(self.param.smoothing, name="Smoothing", width=260)
        return pn.Column(
            pn.Row(slider, self._load, sizing_mode="stretch_width"),
            self._empty,
            self._losses,
            sizing_mode="stretch_width",
        )
