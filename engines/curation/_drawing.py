"""Off-screen matplotlib drawing of one group's images (Agg canvas, no pyplot, no global state).

Each function builds its own ``Figure`` and returns PNG bytes, so threads can draw at the
same time. The correlogram grid is one Axes with one polygon collection for all n x n cells
(not n x n Axes), which keeps a 5-unit group as fast as a pair.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

__all__ = ["UNIT_COLORS", "draw_correlogram_grid", "draw_amplitudes", "draw_templates"]

UNIT_COLORS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)


def _color(i: int) -> str:
    return UNIT_COLORS[i % len(UNIT_COLORS)]


def _png(fig: Figure, dpi: int) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def _stairs_polygon(counts: np.ndarray, x0: float, y0: float, width: float, height: float) -> np.ndarray:
    top = max(float(counts.max()), 1.0)
    xs = x0 + np.linspace(0.0, width, len(counts) + 1)
    ys = y0 + height * counts / top
    x = np.repeat(xs, 2)[1:-1]
    y = np.repeat(ys, 2)
    return np.column_stack([np.concatenate([[x[0]], x, [x[-1]]]), np.concatenate([[y0], y, [y0]])])


def draw_correlogram_grid(
    counts: np.ndarray,
    bins_ms: np.ndarray,
    unit_ids: Sequence[object],
    refractory_ms: float = 1.5,
    dpi: int = 100,
    cell_in: float = 1.35,
) -> bytes:
    """The n x n auto-/cross-correlogram grid: diagonal cells are ACGs (unit colour), others CCGs.

    Each cell has its own vertical scale (the peak count is printed in its corner); the grey
    band marks ±``refractory_ms`` and the dashed line lag 0.
    """
    n = len(unit_ids)
    size = max(2.6, cell_in * n + 0.6)
    fig = Figure(figsize=(size, size))
    ax = fig.add_axes((0.12, 0.04, 0.86, 0.86))
    width, height = 0.9, 0.8
    lo, hi = float(bins_ms[0]), float(bins_ms[-1])
    polygons, colors, bands, zero_lines = [], [], [], []
    for i in range(n):
        for j in range(n):
            x0, y0 = j, n - 1 - i
            polygons.append(_stairs_polygon(np.asarray(counts[i, j], np.float64), x0, y0, width, height))
            colors.append(_color(i) if i == j else "#444444")
            left = x0 + width * (-refractory_ms - lo) / (hi - lo)
            right = x0 + width * (refractory_ms - lo) / (hi - lo)
            bands.append([(left, y0), (right, y0), (right, y0 + height), (left, y0 + height)])
            ax.text(
                x0 + width,
                y0 + height,
                f"{int(np.max(counts[i, j]))}",
                ha="right",
                va="top",
                fontsize=6,
                color="#666666",
            )
            mid = x0 + width * (0.0 - lo) / (hi - lo)
            zero_lines.append([(mid, y0), (mid, y0 + height)])
    ax.add_collection(PolyCollection(bands, facecolors="#e8e8e8", edgecolors="none", zorder=0))
    ax.add_collection(
        PolyCollection(polygons, facecolors=colors, edgecolors=colors, linewidths=0.4, zorder=1)
    )
    ax.add_collection(LineCollection(zero_lines, colors="#999999", linewidths=0.5, linestyles="--", zorder=2))
    _label_rows_and_columns(ax, unit_ids, width, height)
    ax.set_xlim(-0.05, n)
    ax.set_ylim(-0.05, n + 0.15)
    ax.axis("off")
    fig.suptitle(
        f"Correlograms (lags {lo:.0f} to {hi:.0f} ms; grey band ±{refractory_ms:g} ms)", fontsize=8, y=0.995
    )
    return _png(fig, dpi)


def _label_rows_and_columns(ax: Axes, unit_ids: Sequence[object], width: float, height: float) -> None:
    """Name each column above the grid and each row to its left, in the unit's colour."""
    n = len(unit_ids)
    for k, unit in enumerate(unit_ids):
        ax.text(
            k + width / 2, n - 0.05, f"unit {unit}", ha="center", va="bottom", fontsize=8, color=_color(k)
        )
        ax.text(
            -0.06,
            n - 1 - k + height / 2,
            f"unit {unit}",
            ha="right",
            va="center",
            fontsize=8,
            color=_color(k),
            rotation=90,
        )


def _ticks(low: float, high: float, count: int = 4) -> np.ndarray:
    """A few round tick positions (fixed ticks: matplotlib's automatic ones dominate drawing time)."""
    span = max(high - low, 1e-9)
    step = 10 ** np.floor(np.log10(span / count))
    step *= min((m for m in (1, 2, 5, 10) if span / (step * m) <= count + 1), default=10)
    return np.arange(np.ceil(low / step) * step, high + step * 1e-6, step)


def draw_amplitudes(
    times_s: Sequence[np.ndarray],
    amplitudes: Sequence[np.ndarray],
    unit_ids: Sequence[object],
    duration_s: float,
    dpi: int = 100,
    max_points: int = 4000,
    seed: int = 0,
) -> bytes:
    """Spike amplitude over time (one colour per unit) with each unit's amplitude histogram at the right.

    The vertical range covers the 0.5-99.5 percentiles of all amplitudes (outliers are clipped).
    """
    label_rows = (len(unit_ids) + 3) // 4
    top = 0.86 - 0.05 * (label_rows - 1)
    fig = Figure(figsize=(6.4, 2.8 + 0.15 * (label_rows - 1)))
    ax = fig.add_axes((0.09, 0.16, 0.68, top - 0.16))
    hist_ax = fig.add_axes((0.79, 0.16, 0.19, top - 0.16))
    rng = np.random.default_rng(seed)
    finite = [a[np.isfinite(a)] for a in amplitudes if len(a)]
    values = np.concatenate(finite) if finite else np.zeros(1)
    low, high = (float(v) for v in np.percentile(values, [0.5, 99.5]))
    pad = 0.05 * max(high - low, 1.0)
    low, high = low - pad, high + pad
    edges = np.linspace(low, high, 60)
    peak = 1
    for k, (t, a) in enumerate(zip(times_s, amplitudes)):
        keep = np.sort(rng.choice(len(t), max_points, replace=False)) if len(t) > max_points else slice(None)
        ax.plot(t[keep], a[keep], ".", ms=1.6, alpha=0.55, color=_color(k))
        counts, _ = np.histogram(a, edges)
        peak = max(peak, int(counts.max(initial=0)))
        hist_ax.stairs(counts, edges, orientation="horizontal", color=_color(k), lw=1.0)
    for axis in (ax, hist_ax):
        axis.set_ylim(low, high)
        axis.tick_params(labelsize=6)
    ax.set_xlim(0, max(duration_s, 1e-3))
    ax.set_xticks(_ticks(0, duration_s))
    ax.set_yticks(_ticks(low, high))
    hist_ax.set_yticks([])
    hist_ax.set_xlim(0, peak * 1.05)
    hist_ax.set_xticks(_ticks(0, peak, 2))
    ax.set_xlabel("time (s)", fontsize=7)
    ax.set_ylabel("amplitude (µV)", fontsize=7)
    hist_ax.set_xlabel("spikes", fontsize=7)
    for k, (unit, t) in enumerate(zip(unit_ids, times_s)):
        fig.text(
            0.09 + 0.22 * (k % 4),
            top + 0.02 + 0.05 * (label_rows - 1 - k // 4),
            f"● unit {unit} ({len(t)} spikes)",
            color=_color(k),
            fontsize=7,
        )
    fig.suptitle("Spike amplitudes over time, with histograms", fontsize=8, y=0.99, va="top")
    return _png(fig, dpi)


def draw_templates(
    templates: Sequence[np.ndarray],
    channel_labels: Sequence[object],
    unit_ids: Sequence[object],
    dpi: int = 100,
) -> bytes:
    """Average waveforms of each unit on the group's main channels, side by side, overlaid per unit."""
    n_samples = templates[0].shape[0]
    n_channels = templates[0].shape[1]
    fig = Figure(figsize=(max(3.2, 0.55 * n_channels + 1.0), 2.4))
    ax = fig.add_axes((0.08, 0.12, 0.9, 0.72))
    gap = max(2, n_samples // 6)
    for k, (template, unit) in enumerate(zip(templates, unit_ids)):
        for c in range(n_channels):
            x = np.arange(n_samples) + c * (n_samples + gap)
            ax.plot(x, template[:, c], color=_color(k), lw=1.0, label=f"unit {unit}" if c == 0 else None)
    ticks = [c * (n_samples + gap) + n_samples / 2 for c in range(n_channels)]
    ax.set_xticks(ticks, [str(label) for label in channel_labels], fontsize=6)
    ax.tick_params(axis="y", labelsize=6)
    ax.set_ylabel("µV", fontsize=7)
    ax.legend(fontsize=6, frameon=False, loc="lower right")
    fig.suptitle("Templates on the group's main channels", fontsize=8, y=0.99)
    return _png(fig, dpi)
