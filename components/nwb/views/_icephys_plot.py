"""Drawing for the icephys view: responses above, stimuli below, on one shared time axis.

Sweeps of different units (a current-clamp response in volts beside a voltage-clamp one in
amperes) get a panel per unit, so no axis mixes them; volts and amperes are drawn in the
prefix that suits them (mV, pA). Long sweeps are min/max decimated to a few thousand points
per curve, keeping every peak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import holoviews as hv
import numpy as np
import pandas as pd
from bokeh.palettes import Category10_10

from engines.nwb.extract.decimate import min_max_envelope
from engines.nwb.extract.icephys import SweepAverage, SweepData, SweepList

__all__ = ["draw_sweeps", "draw_averages", "sweep_rows", "layout_height", "LEGEND_LIMIT"]

_POINTS = 4000
LEGEND_LIMIT = 12
"""More curves than this: no legend (it would hide the plot)."""


_SI = {"volts": "V", "volt": "V", "v": "V", "amperes": "A", "ampere": "A", "amps": "A", "a": "A"}
_PREFIXES = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"))
_X = "time from sweep start (s)"


@dataclass
class _Line:
    """One curve to draw (and, for averages, its ± SD band)."""

    label: str
    color: str
    t: np.ndarray
    values: np.ndarray
    sd: np.ndarray | None = None
    legend: bool = True


def _xy(t: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(values) <= _POINTS:
        return t, values
    t, out = min_max_envelope(t, values[:, None], _POINTS // 2)
    return t, out[:, 0]


def _scale(unit: str, lines: list[_Line]) -> tuple[float, str]:
    """Volts and amperes in the prefix that suits their size (-70 mV, 100 pA, not 1e-10 amperes)."""
    base = _SI.get(unit.strip().lower())
    if base is None:
        return 1.0, unit if unit not in ("NA", "N/A") else ""
    top = max((float(np.nanmax(np.abs(line.values))) for line in lines if line.values.size), default=0.0)
    top = top if np.isfinite(top) else 0.0
    factor, prefix = next(((f, p) for f, p in _PREFIXES if top >= f), _PREFIXES[-1])
    return 1.0 / factor, prefix + base


def _overlay(kind: str, unit: str, lines: list[_Line], height: int) -> hv.Overlay:
    factor, shown_unit = _scale(unit, lines)
    y = f"{kind} ({shown_unit})" if shown_unit else kind
    elements: list[hv.Element] = []
    for line in lines:
        if line.sd is not None:
            step = max(1, len(line.t) // _POINTS)  # the band is thinned; the mean line keeps its peaks
            band = (line.t[::step], line.values[::step] * factor, line.sd[::step] * factor)
            elements.append(
                hv.Spread(band, _X, [y, "sd"]).opts(color=line.color, alpha=0.25, show_legend=False)
            )
        t, values = _xy(line.t, line.values * factor)
        curve = hv.Curve((t, values), _X, y, label=line.label)
        elements.append(
            curve.opts(color=line.color, line_width=1.3, tools=["hover"], show_legend=line.legend)
        )
    legends = sum(line.legend for line in lines)
    return hv.Overlay(elements).opts(
        responsive=True,
        height=height,
        ylabel=y,
        xlabel=_X,
        show_legend=legends <= LEGEND_LIMIT,
        legend_position="right",
        title="",
    )


def _layout(panels: dict[tuple[str, str], list[_Line]]) -> hv.Layout:
    """One overlay per (kind, unit), responses first, on one shared time axis."""
    overlays = [
        _overlay(kind, unit, lines, 340 if kind == "response" else 170)
        for wanted in ("response", "stimulus")
        for (kind, unit), lines in panels.items()
        if kind == wanted
    ]
    if not overlays:
        return hv.Layout([hv.Curve([], _X, "value").opts(responsive=True, height=300)])
    return hv.Layout(overlays).cols(1).opts(shared_axes=True, merge_tools=True)


def layout_height(layout: hv.Layout) -> int:
    """Pixels the stacked panels need (their heights, plus room for the toolbar), so none is cut off."""
    heights = [hv.Store.lookup_options("bokeh", item, "plot").kwargs.get("height", 300) for item in layout]
    return int(sum(heights)) + 45


def _colors(names: Sequence[str]) -> dict[str, str]:
    return {name: Category10_10[i % len(Category10_10)] for i, name in enumerate(dict.fromkeys(names))}


def draw_sweeps(listing: SweepList, data: Sequence[SweepData], key: str) -> hv.Layout:
    """Every sweep as its own curve, coloured by its group under ``key`` (or by sweep when ungrouped)."""
    names = [listing.group_of(key, d.sweep) if key else f"sweep {d.sweep.id}" for d in data]
    colors = _colors(names)
    panels: dict[tuple[str, str], list[_Line]] = {}
    for name, item in zip(names, data):
        for kind, trace in (("response", item.response), ("stimulus", item.stimulus)):
            if trace is not None:
                lines = panels.setdefault((kind, trace.unit), [])
                first = all(line.label != name for line in lines)  # one legend entry per group
                lines.append(_Line(name, colors[name], trace.t, trace.values, legend=first))
    return _layout(panels)


def draw_averages(averages: Sequence[SweepAverage]) -> hv.Layout:
    """Each group's mean response with a ± SD band, and its mean stimulus below."""
    colors = _colors([a.group for a in averages])
    panels: dict[tuple[str, str], list[_Line]] = {}
    for average in averages:
        color, label = colors[average.group], f"{average.group} (n={len(average.ids)})"
        if average.response is not None:
            trace = average.response
            line = _Line(label, color, trace.t, trace.values, average.response_sd)
            panels.setdefault(("response", trace.unit), []).append(line)
        if average.stimulus is not None:
            trace = average.stimulus
            panels.setdefault(("stimulus", trace.unit), []).append(_Line(label, color, trace.t, trace.values))
    return _layout(panels)


def sweep_rows(listing: SweepList, data: Sequence[SweepData], key: str) -> pd.DataFrame:
    """The shown sweeps as a table: series, units, descriptions, electrode and the chosen group."""
    rows = []
    for item in data:
        sweep = item.sweep
        rows.append(
            {
                "sweep": sweep.id,
                "group": listing.group_of(key, sweep) if key else "",
                "response": sweep.response.name if sweep.response else "",
                "stimulus": sweep.stimulus.name if sweep.stimulus else "",
                "start (s)": round(item.start_time, 6),
                "description": " · ".join(
                    p.description for p in (sweep.response, sweep.stimulus) if p is not None and p.description
                ),
                "electrode": sweep.electrode.rsplit("/", 1)[-1],
            }
        )
    frame = pd.DataFrame(rows)
    return frame if key else frame.drop(columns=["group"], errors="ignore")
