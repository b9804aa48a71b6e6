"""Live curves of one run: total and per-task losses (train and validation), the light evaluation's
decoding R² per input and co-bps, each modality's reconstruction loss, throughput, learning rate and load.

Drawn with Bokeh figures whose data sources are updated in place (``curves.py``): ``show(frame)``
replaces the sources' columns, and the smoothing slider recomputes only the smoothed columns.
HoloViews drew the same curves, but rendering its overlays cost the server about a third of a
second of CPU each time a person opened a run, which with a lab on one server was the slowest
click of the app; Bokeh's own figures cost a fraction of that and update without re-rendering.

The figures are made on the first non-empty frame, so a Training tab that shows no run costs
next to nothing. A figure of a group of curves (tasks, scored inputs, co-bps, modalities) shares
one figure per group, is made only once the frame has such a column (the first evaluation comes
after *evaluate every* steps), made again only when the group changes (another run), and hidden
while the run has none; learning rate and load are drawn only once their card is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import panel as pn
import param

from components.training.curves import Curves, group_curves, metric_curves, series_curves
from components.training.plots import names_in
from components.training.state import OpenRun

__all__ = ["LiveCurves", "describe_load"]

_HEALTH = (
    ("Learning rate", "lr", {"learning rate": "lr"}),
    ("CPU load of the run", "%", {"CPU %": "cpu_percent"}),
    ("Memory of the run", "GB", {"RAM (GB)": "ram_gb", "GPU memory (GB)": "gpu_mem_gb"}),
)
_TRAIN_VAL = "lines: train, smoothed; dashed with points: validation"


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


def _co_bps(frame: pd.DataFrame) -> tuple[str, ...]:
    return ("co_bps",) if "co_bps" in frame.columns else ()


@dataclass
class _Group:
    """One figure of a group of curves: ``names(frame)`` says which the run has, ``build(names)`` draws
    them; ``pane`` (CSS class ``nd-training-<css>``) keeps its place in the layout when another run
    brings another group."""

    css: str
    names: Callable[[pd.DataFrame], tuple[str, ...]]
    build: Callable[[tuple[str, ...]], Curves]
    shown: tuple[str, ...] = ()
    curves: Curves | None = None
    pane: pn.pane.Bokeh = field(init=False)

    def __post_init__(self) -> None:
        self.pane = pn.pane.Bokeh(
            None, sizing_mode="stretch_width", visible=False, css_classes=[f"nd-training-{self.css}"]
        )


def _groups() -> list[_Group]:
    """Per-task losses, decoding R² per input, co-bps, per-modality losses: in the order laid out."""
    return [
        _Group(
            "task-loss",
            lambda f: tuple(names_in(f, "loss/")),
            lambda n: group_curves(f"Loss per task ({_TRAIN_VAL})", "loss", "loss/", n),
        ),
        _Group(
            "r2",
            lambda f: tuple(names_in(f, "r2/")),
            lambda n: group_curves(
                "Decoding R² on validation data (all inputs; each alone)", "R²", "r2/", n, train=False
            ),
        ),
        _Group(
            "co-bps",
            _co_bps,
            lambda n: group_curves(
                "co-bps of held-out units (validation)", "bits/spike", "", n, train=False, legend=False
            ),
        ),
        _Group(
            "modality-loss",
            lambda f: tuple(names_in(f, "recon/")),
            lambda n: group_curves(
                "Reconstruction loss per modality (dashed with points: validation)", "loss", "recon/", n
            ),
        ),
    ]


class LiveCurves(pn.viewable.Viewer):
    """The open run's metric frame and machine load, redrawn when its ``OpenRun`` changes them;
    ``smoothing`` is the train curves' EMA weight."""

    smoothing = param.Number(default=0.6, bounds=(0.0, 0.99), step=0.01, doc="Smoothing of the train curves.")

    def __init__(self, run: OpenRun, **params) -> None:
        super().__init__(**params)
        self._frame = pd.DataFrame()
        self._curves: list[Curves] = []  # every figure drawn, each filled from the frame
        self._groups = _groups()
        self._load = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._empty = pn.pane.Markdown(
            "No metrics to show yet: a run logs its first points after *log every* "
            "steps, once its data is prepared.",
            css_classes=["nd-muted"],
            margin=(0, 10),
        )
        # Filled by _build on the first non-empty frame; empty until then.
        self._losses = pn.Column(sizing_mode="stretch_width")
        self._built = False
        self._health = pn.Card(
            title="Learning rate, CPU and memory of the run",
            collapsed=True,
            sizing_mode="stretch_width",
            css_classes=["nd-training-health"],
        )
        self._health.param.watch(self._open_health, "collapsed")
        run.param.watch(lambda e: self.show_frame(e.new), "frame")
        run.param.watch(lambda e: self.show_load(e.new), "load")

    def _pane(self, curves: Curves) -> pn.pane.Bokeh:
        curves.fill(self._frame, self.smoothing)
        self._curves.append(curves)
        return pn.pane.Bokeh(curves.fig, sizing_mode="stretch_width")

    def _build(self) -> None:
        """The figures' places, once per view, drawn from the frame already held."""
        self._built = True
        tasks, r2, co_bps, modalities = (group.pane for group in self._groups)
        throughput = series_curves("Throughput", "tokens/s", {"tokens/s": "tokens_per_s"}, height=300)
        self._losses[:] = [
            self._pane(metric_curves("loss", "Total loss (weighted sum of the tasks)")),
            tasks,
            pn.Row(r2, co_bps, sizing_mode="stretch_width"),
            pn.Row(modalities, self._pane(throughput), sizing_mode="stretch_width"),
            self._health,
        ]
        self._show_groups()

    def _show_groups(self) -> None:
        """Each group's figure for the names the frame has: made again when they change, hidden when none."""
        for group in self._groups:
            names = group.names(self._frame)
            if names == group.shown:
                continue
            if group.curves is not None:
                self._curves.remove(group.curves)
                group.curves = None
            group.shown = names
            if names:
                group.curves = curves = group.build(names)
                curves.fill(self._frame, self.smoothing)
                self._curves.append(curves)
                group.pane.object = curves.fig
            group.pane.visible = bool(names)

    def _open_health(self, event: param.parameterized.Event) -> None:
        """Learning rate and load are drawn when their card is first opened, not on every open run."""
        if event.new or len(self._health):
            return
        self._health[:] = [
            pn.GridBox(
                *(self._pane(series_curves(title, ylabel, columns)) for title, ylabel, columns in _HEALTH),
                ncols=2,
                sizing_mode="stretch_width",
            )
        ]

    @param.depends("smoothing", watch=True)
    def _on_smoothing(self) -> None:
        for curves in self._curves:
            curves.fill(self._frame, self.smoothing)

    def show_frame(self, frame: pd.DataFrame) -> None:
        """Draw ``frame`` (a run's current trajectory); on the session's thread."""
        self._empty.visible = frame.empty
        self._frame = frame
        if not self._built:
            if not frame.empty:
                self._build()
            return
        for curves in self._curves:
            curves.fill(frame, self.smoothing)
        self._show_groups()

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
