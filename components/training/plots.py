"""HoloViews elements for the Training page, built from plain frames and dicts (no files, no widgets).

Metric frames are what ``RunFolder.metrics()`` returns: one row per logged step and split
(``split`` is "train" or "val"), with ``loss``, ``loss/<task>``, ``recon/<modality>``, ``lr``,
``tokens_per_s``, ``cpu_percent``, ``ram_gb`` and, on a GPU, ``gpu_mem_gb``; validation rows of
a scored step add ``r2/<input>`` ("all" or a modality) and ``co_bps``. Every builder returns an element
even for an empty frame, so a plot can exist before the first logged step.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import holoviews.plotting.bokeh  # noqa: F401  (the elements set Bokeh options, which need the backend loaded)
import numpy as np
import pandas as pd
from bokeh.palettes import Category20
from scipy.signal import lfilter

__all__ = [
    "TRAIN_COLOR",
    "VAL_COLOR",
    "smooth",
    "names_in",
    "comparison_overlay",
    "parallel_coordinates",
    "decoding_frame",
    "decoding_bars",
]

TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#d62728"
MAX_POINTS = 2000
"""Curves keep at most this many points (evenly spaced) so a long run redraws as fast as a short one."""
_STEP = hv.Dimension("step", label="step")


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: a debiased exponential moving average (weight 0 = raw, 0.99 = very smooth)."""
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(values) == 0:
        return values
    average = lfilter([1.0 - weight], [1.0, -weight], values)
    return average / (1.0 - weight ** np.arange(1, len(values) + 1))


def names_in(frame: pd.DataFrame, prefix: str) -> list[str]:
    """The names with a ``<prefix><name>`` column, in the order they were logged: tasks (``loss/``),
    scored inputs (``r2/``), modalities (``recon/``)."""
    return [c[len(prefix) :] for c in frame.columns if c.startswith(prefix)]


def _series(frame: pd.DataFrame, column: str, split: str | None) -> tuple[np.ndarray, np.ndarray]:
    if frame.empty or column not in frame.columns or "step" not in frame.columns:
        return np.zeros(0), np.zeros(0)
    rows = frame if split is None or "split" not in frame.columns else frame[frame["split"] == split]
    rows = rows[["step", column]].dropna()
    return rows["step"].to_numpy(dtype=np.float64), rows[column].to_numpy(dtype=np.float64)


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) <= MAX_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, MAX_POINTS).astype(int))
    return x[keep], y[keep]


def _curve(x: np.ndarray, y: np.ndarray, label: str, ylabel: str, **style: Any) -> hv.Curve:
    x, y = _thin(x, y)
    return hv.Curve((x, y), _STEP, hv.Dimension("value", label=ylabel), label=label).opts(**style)


def _finish(overlay: hv.Overlay, title: str, height: int, logy: bool = False) -> hv.Overlay:
    return overlay.opts(
        hv.opts.Curve(tools=["hover"], framewise=True, responsive=True, height=height, logy=logy),
        hv.opts.Scatter(framewise=True, responsive=True, height=height, logy=logy),
        hv.opts.Overlay(
            title=title,
            legend_position="bottom_left",
            framewise=True,
            responsive=True,
            height=height,
            show_grid=True,
            show_legend=len(overlay) > 1,
            legend_opts={"background_fill_alpha": 0.6},
        ),
    )


def comparison_overlay(
    frames: dict[str, pd.DataFrame], column: str, split: str, smoothing: float, height: int = 320
) -> hv.Overlay:
    """One curve per run (``{run label: metric frame}``) of ``column`` on ``split``, smoothed alike.

    Up to 20 runs each get their own colour (Category20, its ten dark hues first); past 10 runs the
    legend moves to the right of the plot, one run a line, so it never covers the curves.
    """
    dark_first = Category20[20][0::2] + Category20[20][1::2]
    layers = []
    for k, (label, frame) in enumerate(frames.items()):
        x, y = _series(frame, column, split)
        layers.append(
            _curve(
                x,
                smooth(y, smoothing) if split == "train" else y,
                label,
                column,
                color=dark_first[k % len(dark_first)],
                line_width=2,
            )
        )
    if not layers:
        layers = [_curve(np.zeros(0), np.zeros(0), "no run ticked", column)]
    title = f"{column} ({'validation' if split == 'val' else 'train'}) of the ticked runs"
    many = len(layers) > 10
    overlay = _finish(hv.Overlay(layers), title, max(height, 22 * len(layers) + 80) if many else height)
    return overlay.opts(hv.opts.Overlay(legend_position="right")) if many else overlay


def _axis_values(values: pd.Series) -> tuple[np.ndarray, list[tuple[float, str]]]:
    """Values scaled to 0..1 and the tick labels of the axis (min/max for numbers, every category for
    text)."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        lo, hi = float(numeric.min()), float(numeric.max())
        span = hi - lo
        scaled = (numeric.to_numpy(dtype=float) - lo) / span if span > 0 else np.full(len(numeric), 0.5)
        return scaled, ([(0.0, f"{lo:.3g}"), (1.0, f"{hi:.3g}")] if span > 0 else [(0.5, f"{lo:.3g}")])
    categories = sorted(values.astype(str).unique())
    where = {c: (k / (len(categories) - 1) if len(categories) > 1 else 0.5) for k, c in enumerate(categories)}
    return np.array([where[v] for v in values.astype(str)]), [(where[c], c[:14]) for c in categories]


def parallel_coordinates(
    frame: pd.DataFrame, columns: list[str], metric: str, height: int = 360
) -> hv.Overlay:
    """One polyline per run across the hyperparameter axes and the metric axis (last), coloured by the metric.

    Every axis is scaled to 0..1 on its own (categories spread evenly); runs without a value of
    the metric are left out. HoloViews has no parallel-coordinates element: this draws one.
    """
    rows = frame.dropna(subset=[metric]) if metric in frame.columns else frame.iloc[0:0]
    axes = [c for c in columns if c in rows.columns and c != metric] + [metric]
    rows = rows.dropna(subset=axes)
    paths, ticks = [], []
    scaled = {}
    for position, column in enumerate(axes):
        scaled[column], labels = _axis_values(rows[column]) if len(rows) else (np.zeros(0), [])
        ticks += [(position, y, text) for y, text in labels]
    for k in range(len(rows)):
        paths.append(
            {
                "x": np.arange(len(axes), dtype=float),
                "y": np.array([scaled[c][k] for c in axes]),
                metric: float(rows[metric].iloc[k]),
                "run": str(rows["name"].iloc[k] if "name" in rows else k),
            }
        )
    lines = hv.Path(paths, kdims=["x", "y"], vdims=[metric, "run"]).opts(
        color=metric, cmap="viridis", colorbar=True, line_width=3, alpha=0.85, tools=["hover"]
    )
    axis_lines = hv.Path(
        [{"x": np.array([p, p], dtype=float), "y": np.array([0.0, 1.0])} for p in range(len(axes))]
    ).opts(color="#555555", line_width=1)
    names = hv.Labels(
        {"x": list(range(len(axes))), "y": [1.08] * len(axes), "text": [a.split(".")[-1] for a in axes]},
        ["x", "y"],
        "text",
    ).opts(text_font_size="9pt", text_color="#222222")
    values = hv.Labels(
        {"x": [t[0] + 0.04 for t in ticks], "y": [t[1] for t in ticks], "text": [t[2] for t in ticks]},
        ["x", "y"],
        "text",
    ).opts(text_font_size="8pt", text_color="#555555", text_align="left")
    return (axis_lines * lines * names * values).opts(
        hv.opts.Overlay(
            title=f"Hyperparameters against {metric} ({len(rows)} runs)",
            responsive=True,
            height=height,
            xaxis=None,
            yaxis=None,
            xlim=(-0.3, len(axes) - 0.5),
            ylim=(-0.08, 1.16),
            show_legend=False,
            toolbar="above",
        )
    )


_METHOD_COLOURS = {"model": "#1f77b4", "ridge": "#ff7f0e", "CEBRA": "#2ca02c"}


def decoding_frame(evaluation: dict[str, Any]) -> pd.DataFrame:
    """Rows per input ("all" and each modality): the model's held-out R^2 beside the ridge and CEBRA
    baselines."""
    model = evaluation.get("decoding_r2", {}) or {}
    baselines = evaluation.get("baselines", {}) or {}
    ridge = baselines.get("ridge_r2", {}) or {}
    cebra = {"all": baselines.get("cebra_r2"), **(baselines.get("cebra_r2_per_modality", {}) or {})}
    rows = []
    for name in dict.fromkeys([*model, *ridge]):
        rows.append(
            {
                "input": name,
                "model R²": model.get(name),
                "ridge R²": ridge.get(name),
                "CEBRA R²": cebra.get(name),
            }
        )
    return pd.DataFrame(rows, columns=["input", "model R²", "ridge R²", "CEBRA R²"])


def decoding_bars(evaluation: dict[str, Any], height: int = 300) -> hv.Bars:
    """Grouped bars: held-out decoding R^2 per input, model beside the baselines."""
    table = decoding_frame(evaluation)
    long = table.melt(id_vars="input", var_name="method", value_name="R²").dropna()
    long["method"] = long["method"].str.replace(" R²", "", regex=False)
    low = min(0.0, float(long["R²"].min()) if len(long) else 0.0)
    inputs = hv.Dimension("input", values=list(table["input"]))
    methods = hv.Dimension("method", values=list(_METHOD_COLOURS))
    return hv.Bars(long, [inputs, methods], "R²").opts(
        responsive=True,
        height=height,
        tools=["hover"],
        color=hv.dim("method").categorize(_METHOD_COLOURS),
        ylim=(max(low * 1.1, -1.0), 1.0),
        title="Held-out behaviour decoding R² per input (model, ridge, CEBRA)",
        show_grid=True,
        xrotation=0,
        multi_level=True,
        show_legend=False,
    )
