"""The Live tab's Bokeh figures: each a figure plus the data sources it draws, filled from a metric frame.

``Curves.fill(frame, smoothing)`` replaces the sources' columns in place, so a figure updates
without being rendered again. The builders here know which columns of a run's metric frame
(see ``plots.py``) each figure draws and how: train values smoothed, validation values as
points joined by a line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from bokeh.core.enums import LegendLocationType
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.models.annotations.legends import Legend, LegendItem  # bokeh.models re-exports them untyped
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from components.training.plots import TRAIN_COLOR, VAL_COLOR, _series, _thin, smooth

__all__ = ["Curves", "metric_curves", "group_curves", "series_curves"]

_SERIES_COLORS = ("#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


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


class Curves:
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


def metric_curves(column: str, title: str, height: int = 240) -> Curves:
    """Train values (raw, faint, and smoothed) and validation values (points joined) of one metric."""

    def fill(frame: pd.DataFrame, smoothing: float) -> dict[str, dict[str, np.ndarray]]:
        x, y = _series(frame, column, "train")
        return {
            "raw": _xy(x, y),
            "train": _xy(x, smooth(y, smoothing)),
            "val": _xy(*_series(frame, column, "val")),
        }

    curves = Curves(_figure(title, "loss", height), fill)
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


def group_curves(
    title: str,
    ylabel: str,
    prefix: str,
    names: Sequence[str],
    *,
    train: bool = True,
    legend: bool = True,
    height: int = 300,
) -> Curves:
    """Column ``<prefix><name>`` of every name in one figure, a colour per name: train smoothed (line) and
    validation (dashed, points); with ``train`` False only validation values, as a solid line with points.
    ``legend`` False: no legend (one curve the title names).

    One figure instead of one per name: each figure costs the server a Bokeh model tree, and the
    curves are easier to weigh against each other on shared axes. The legend names each name once
    (its train and validation glyphs share the entry) and clicking it mutes that name.
    """

    def fill(frame: pd.DataFrame, smoothing: float) -> dict[str, dict[str, np.ndarray]]:
        found = {}
        for name in names:
            if train:
                x, y = _series(frame, f"{prefix}{name}", "train")
                found[f"{name}/train"] = _xy(x, smooth(y, smoothing))
            found[f"{name}/val"] = _xy(*_series(frame, f"{prefix}{name}", "val"))
        return found

    curves = Curves(_figure(title, ylabel, height), fill)
    fig, items = curves.fig, []
    for k, name in enumerate(names):
        color = Category10_10[k % len(Category10_10)]
        val_source = curves.source(f"{name}/val")
        glyphs = [fig.scatter("step", "value", source=val_source, color=color, size=5)]
        if train:
            train_source = curves.source(f"{name}/train")
            glyphs.append(fig.line("step", "value", source=train_source, color=color, line_width=2))
            glyphs.append(
                fig.line("step", "value", source=val_source, color=color, line_width=1.5, line_dash="dashed")
            )
        else:
            glyphs.append(fig.line("step", "value", source=val_source, color=color, line_width=2))
        items.append((name, glyphs))
    if items and legend:
        _legend(fig, items, "right")
    return curves


def series_curves(title: str, ylabel: str, columns: dict[str, str], height: int = 200) -> Curves:
    """Train-row columns over steps, one labelled curve each (``{label: column}``)."""

    def fill(frame: pd.DataFrame, _smoothing: float) -> dict[str, dict[str, np.ndarray]]:
        return {label: _xy(*_series(frame, column, "train")) for label, column in columns.items()}

    curves = Curves(_figure(title, ylabel, height), fill)
    items = [
        (label, [curves.fig.line("step", "value", source=curves.source(label), color=color, line_width=2)])
        for (label, _column), color in zip(columns.items(), _SERIES_COLORS)
    ]
    if len(items) > 1:
        _legend(curves.fig, items, "top_left")
    return curves
