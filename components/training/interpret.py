"""Interpretability of a run's latent units: tuning curves, selectivity, units most predictive of behaviour,
population geometry and a projection of the latent states coloured by condition.

"Interpret" calls ``on_interpret(step)``; the page computes ``engines.training.interpret.interpret_run``
off the session's thread and hands the result to ``show``. Nothing here reads files or loads models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the elements set Bokeh options, which need the backend loaded)
import numpy as np
import pandas as pd
import panel as pn

from components.safe_text import escape_text
from components.training.state import OpenRun

if TYPE_CHECKING:
    from engines.training.interpret import Interpretation

__all__ = ["InterpretationPanel", "conditions_of", "projection_points", "tuning_plot", "predictive_bars"]

NEWEST = "newest"
TOP_TUNED = 6


def conditions_of(result: Interpretation) -> tuple[np.ndarray | None, str]:
    """Per-bin condition labels the analyses used (stimulus ids, else quantiles of behaviour 0) and their
    name."""
    from engines.training.interpret import condition_labels

    if result.stimulus is not None and len(np.unique(result.stimulus[result.stimulus >= 0])) >= 2:
        return condition_labels(result.stimulus), "stimulus id"
    if result.behaviour is not None:
        return condition_labels(result.behaviour[:, 0]), "behaviour 0 (quantile)"
    return None, ""


def projection_points(result: Interpretation, height: int = 380) -> hv.Points:
    coords = np.asarray(result.projection.coords)
    labels, name = conditions_of(result)
    frame = pd.DataFrame(
        {
            "PC 1": coords[:, 0],
            "PC 2": coords[:, 1] if coords.shape[1] > 1 else 0.0,
            "order": labels if labels is not None else np.zeros(len(coords), int),
        }
    )
    frame = frame.sort_values("order", kind="stable")  # the legend lists conditions in order
    frame["condition"] = frame.pop("order").astype(str)
    variance = result.projection.explained_variance
    axes = (
        f" ({variance[0] * 100:.0f}% and {variance[1] * 100:.0f}% of the variance)"
        if variance is not None and len(variance) > 1
        else ""
    )
    return hv.Points(frame, ["PC 1", "PC 2"], "condition").opts(
        color="condition",
        cmap="Category10",
        size=4,
        alpha=0.7,
        tools=["hover"],
        responsive=True,
        height=height,
        legend_position="right",
        title=f"Latent states, {result.projection.method.upper()}{axes}, by {name or 'bin'}",
    )


def tuning_plot(result: Interpretation, height: int = 320) -> hv.Overlay:
    """Mean activity (± s.e.m.) per condition of the most selective units."""
    selectivity, means, sems = result.selectivity, result.tuning_mean, result.tuning_sem
    if selectivity is None or means is None or sems is None:
        raise ValueError("This interpretation has no tuning: it was computed without conditions.")
    units = list(selectivity["unit"].head(TOP_TUNED))
    layers = []
    palette = hv.Cycle.default_cycles["default_colors"]
    for k, unit in enumerate(units):
        x = np.arange(len(means.columns)).astype(float)
        y, e = means.loc[unit].to_numpy(float), sems.loc[unit].to_numpy(float)
        colour = palette[k % len(palette)]
        layers += [
            hv.Curve((x, y), "condition", "activity", label=f"unit {unit}").opts(line_width=2, color=colour),
            hv.ErrorBars((x, y, np.nan_to_num(e)), "condition", ["activity", "sem"]).opts(color=colour),
        ]
    ticks = [(k, str(c)) for k, c in enumerate(means.columns)]
    return hv.Overlay(layers).opts(
        hv.opts.Curve(xticks=ticks, tools=["hover"]),
        hv.opts.Overlay(
            title=f"Tuning curves of the {len(units)} most selective latent units",
            responsive=True,
            height=height,
            legend_position="right",
            show_grid=True,
        ),
    )


def predictive_bars(result: Interpretation, height: int = 260) -> list[hv.Bars]:
    """One bar chart per behaviour: its most informative latent units, most informative first."""
    if result.predictive is None:
        raise ValueError("This interpretation has no predictive units: it was computed without behaviour.")
    charts = []
    for target, rows in result.predictive.groupby("target", sort=False):
        rows = rows.sort_values("mutual_info_bits", ascending=False)
        frame = pd.DataFrame({"unit": [f"unit {u}" for u in rows["unit"]], "bits": rows["mutual_info_bits"]})
        charts.append(
            hv.Bars(frame, hv.Dimension("unit", values=list(frame["unit"])), "bits").opts(
                responsive=True,
                height=height,
                tools=["hover"],
                ylabel="mutual information (bits)",
                xrotation=45,
                color="#9467bd",
                title=f"Units most predictive of {target}",
                show_grid=True,
            )
        )
    return charts


def _geometry_text(result: Interpretation) -> str:
    geometry = result.geometry
    lines = [
        (
            f"**{escape_text(result.session_id)}**, {escape_text(result.split)} split, "
            f"{len(result.latents):,} bins × "
            f"{result.latents.shape[1]} latent units"
        )
    ]
    if geometry is not None:
        distances = geometry.distances.to_numpy()
        upper = distances[np.triu_indices_from(distances, k=1)]
        lines += [
            f"- **Participation ratio** (dimensionality): {geometry.participation_ratio:.2f}",
            (
                "- **Silhouette** of the conditions: "
                f"{'—' if geometry.silhouette is None else f'{geometry.silhouette:.3f}'}"
            ),
            (
                f"- **Distance between condition means**: mean {upper.mean():.3f}, "
                f"min {upper.min():.3f}, max {upper.max():.3f} ({len(geometry.distances)} conditions)"
                if len(upper)
                else "- One condition only: no distances"
            ),
        ]
    lines += [f"- *{note}*" for note in result.notes]
    return "\n".join(lines)


class InterpretationPanel(pn.viewable.Viewer):
    """Checkpoint choice, the Interpret button, and every analysis of the chosen checkpoint's latents."""

    def __init__(self, run: OpenRun, on_interpret: Callable[[int | None], None]) -> None:
        super().__init__()
        run.param.watch(lambda _e: self._set_checkpoints(run.checkpoint_steps()), "checkpoints")
        self._checkpoint = pn.widgets.Select(label="Checkpoint", options=[NEWEST], width=160)
        button = pn.widgets.Button(label="Interpret", button_type="primary", width=110, align="end")
        button.on_click(
            lambda _e: on_interpret(None if self._checkpoint.value == NEWEST else int(self._checkpoint.value))
        )
        self._controls = pn.Row(self._checkpoint, button)
        self._status = pn.pane.Markdown(
            "*Interpret* runs the model of a checkpoint over the test split and analyses its latent units "
            "(a few seconds for the demo).",
            css_classes=["nd-muted"],
            margin=(0, 10),
        )
        self._body = pn.Column(sizing_mode="stretch_width")

    def _set_checkpoints(self, steps: list[int]) -> None:
        """The open run's checkpoints to choose from, newest first; the choice kept while it exists."""
        options = [NEWEST, *[str(s) for s in reversed(steps)]]
        if options != self._checkpoint.options:
            value = self._checkpoint.value
            self._checkpoint.options = options
            self._checkpoint.value = value if value in options else NEWEST

    def working(self, text: str) -> None:
        self._status.object = text

    def clear(self) -> None:
        self._body[:] = []

    def show_result(self, result: Interpretation, step: int) -> None:
        """Render one interpretation (on the session's thread)."""
        self._status.object = f"Checkpoint step {step}."
        parts: list[pn.viewable.Viewable] = [
            pn.Row(
                pn.pane.Markdown(_geometry_text(result), width=420),
                pn.pane.HoloViews(projection_points(result), sizing_mode="stretch_width", linked_axes=False),
                sizing_mode="stretch_width",
            )
        ]
        if result.selectivity is not None:
            selectivity = result.selectivity.head(50).round({"selectivity": 3, "eta_squared": 3})
            selectivity["p_value"] = [f"{p:.2g}" for p in selectivity["p_value"]]
            parts += [
                pn.pane.HoloViews(tuning_plot(result), sizing_mode="stretch_width", linked_axes=False),
                pn.pane.Markdown(
                    "#### Selectivity of the latent units (d′ of the preferred condition)", margin=(0, 10)
                ),
                pn.widgets.Tabulator(
                    selectivity,
                    show_index=False,
                    disabled=True,
                    height=240,
                    sizing_mode="stretch_width",
                    layout="fit_columns",
                ),
            ]
        if result.predictive is not None and not result.predictive.empty:
            charts = [
                pn.pane.HoloViews(chart, sizing_mode="stretch_width", linked_axes=False)
                for chart in predictive_bars(result)
            ]
            parts += [
                pn.GridBox(*charts, ncols=2, sizing_mode="stretch_width"),
                pn.widgets.Tabulator(
                    result.predictive.round({"mutual_info_bits": 4}),
                    show_index=False,
                    disabled=True,
                    height=200,
                    sizing_mode="stretch_width",
                    layout="fit_columns",
                ),
            ]
        self._body[:] = parts

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._controls, self._status, self._body, sizing_mode="stretch_width")
