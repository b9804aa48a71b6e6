"""Drawing for the icephys view: responses above, stimuli below, on one shared time axis.

Sweeps of different units (a current-clamp response in volts beside a voltage-clamp one in
amperes) get a panel per unit, so no axis mixes them. Long sweeps are min/max decimated to
a few thousand points per curve, keeping every peak.
"""

from __future__ import annotations

from collections.abc import Sequence

import holoviews as hv
import numpy as np
import pandas as pd
from bokeh.palettes import Category10_10

from engines.nwb.extract.decimate import min_max_envelope
from engines.nwb.extract.icephys import SweepAverage, SweepData, SweepList, Trace

__all__ = ["draw_sweeps", "draw_averages", "sweep_rows", "LEGEND_LIMIT"]

_POINTS = 4000
LEGEND_LIMIT = 12
"""More curves than this: no legend (it would hide the plot)."""


def _xy(trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    if len(trace.values) <= _POINTS:
        return trace.t, trace.values
    t, values = min_max_envelope(trace.t, trace.values[:, None], _POINTS // 2)
    return t, values[:, 0]


def _axis(kind: str, unit: str) -> str:
    return f"{kind} ({unit})" if unit and unit not in ("NA", "N/A") else kind


def _panels(curves: dict[tuple[str, str], list[hv.Element]], heights: dict[str, int]) -> list[hv.Overlay]:
    """One overlay per (kind, unit), responses first; each overlay's y axis names its unit."""
    panels = []
    for kind in ("response", "stimulus"):
        for (their_kind, unit), elements in curves.items():
            if their_kind != kind:
                continue
            shown = sum(isinstance(e, hv.Curve) for e in elements)
            panels.append(
                hv.Overlay(elements).opts(
                    responsive=True,
                    height=heights[kind],
                    ylabel=_axis(kind, unit),
                    xlabel="time from sweep start (s)",
                    show_legend=shown <= LEGEND_LIMIT,
                    legend_position="right",
                    title="",
                )
            )
    return panels


def _colors(names: Sequence[str]) -> dict[str, str]:
    return {name: Category10_10[i % len(Category10_10)] for i, name in enumerate(dict.fromkeys(names))}


def _layout(panels: list[hv.Overlay]) -> hv.Layout:
    if not panels:
        return hv.Layout(
            [hv.Curve([], "time from sweep start (s)", "value").opts(responsive=True, height=300)]
        )
    return hv.Layout(panels).cols(1).opts(shared_axes=True, merge_tools=True)


def draw_sweeps(listing: SweepList, data: Sequence[SweepData], key: str) -> hv.Layout:
    """Every sweep as its own curve, coloured by its group under ``key`` (or by sweep when ungrouped)."""
    names = [listing.group_of(key, d.sweep) if key else f"sweep {d.sweep.id}" for d in data]
    colors = _colors(names)
    curves: dict[tuple[str, str], list[hv.Element]] = {}
    labelled: set[tuple[str, str, str]] = set()
    for name, item in zip(names, data):
        for kind, trace in (("response", item.response), ("stimulus", item.stimulus)):
            if trace is None:
                continue
            first = (kind, trace.unit, name) not in labelled  # one legend entry per group
            labelled.add((kind, trace.unit, name))
            t, values = _xy(trace)
            curve = hv.Curve((t, values), "time from sweep start (s)", _axis(kind, trace.unit), label=name)
            curves.setdefault((kind, trace.unit), []).append(
                curve.opts(color=colors[name], line_width=1.2, tools=["hover"], show_legend=first)
            )
    return _layout(_panels(curves, {"response": 340, "stimulus": 170}))


def draw_averages(averages: Sequence[SweepAverage]) -> hv.Layout:
    """Each group's mean response with a ± SD band, and its mean stimulus below."""
    colors = _colors([a.group for a in averages])
    curves: dict[tuple[str, str], list[hv.Element]] = {}
    for average in averages:
        color, label = colors[average.group], f"{average.group} (n={len(average.ids)})"
        if average.response is not None and average.response_sd is not None:
            trace, y = average.response, _axis("response", average.response.unit)
            step = max(1, len(trace.t) // _POINTS)  # the band is thinned; the mean line keeps its peaks
            band = hv.Spread(
                (trace.t[::step], trace.values[::step], average.response_sd[::step]),
                "time from sweep start (s)",
                [y, "sd"],
            )
            t, values = _xy(trace)
            curves.setdefault(("response", trace.unit), []).extend(
                [
                    band.opts(color=color, alpha=0.2, show_legend=False),
                    hv.Curve((t, values), "time from sweep start (s)", y, label=label).opts(
                        color=color, line_width=1.6, tools=["hover"]
                    ),
                ]
            )
        if average.stimulus is not None:
            t, values = _xy(average.stimulus)
            y = _axis("stimulus", average.stimulus.unit)
            curves.setdefault(("stimulus", average.stimulus.unit), []).append(
                hv.Curve((t, values), "time from sweep start (s)", y, label=label).opts(
                    color=color, line_width=1.2
                )
            )
    return _layout(_panels(curves, {"response": 340, "stimulus": 170}))


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
