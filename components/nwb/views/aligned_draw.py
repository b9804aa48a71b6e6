"""One compact panel of the aligned view per kind of object: traces, events, intervals, spikes.

Traces and coded events are drawn by their own views' drawing functions (``TracesView._draw``,
``EventsView._draw``), made compact here; intervals and spikes are drawn as segments the way the
intervals timeline and the raster draw them, but only for the window's rows. Every panel has
the same left and right borders and tick labels of bounded width, so their time axes line up
one above the other.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np

from components.nwb.views.events import EventsView
from components.nwb.views.traces import TracesView
from engines.nwb.extract import EventWindow, SpikeWindow, TraceWindow
from engines.nwb.extract.stacked import IntervalSpans, StackedWindow

__all__ = ["draw_panel", "PANEL_HEIGHTS"]

PANEL_HEIGHTS = {"traces": 180, "events": 120, "intervals": 120, "units": 170}
BORDER_LEFT = 110
"""Pixels left of every panel's frame: room for tick labels of ``_LABEL_CHARS`` characters."""
_LABEL_CHARS = 12
TIME = hv.Dimension("t", label="time (s)")


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"


def _same_borders(plot, _element) -> None:
    """Every panel's frame starts and ends at the same x, so the time axes line up."""
    plot.state.min_border_left = BORDER_LEFT
    plot.state.min_border_right = 20


def _options(kind: str, window: tuple[float, float]) -> dict:
    """The options every panel shares: height, borders, the window, wheel zoom."""
    return dict(
        responsive=True,
        height=PANEL_HEIGHTS[kind],
        xlim=tuple(window),
        hooks=[_same_borders],
        active_tools=["wheel_zoom"],
        framewise=True,
        show_legend=False,
    )


def _traces(trace: TraceWindow, window: tuple[float, float]) -> hv.Element:
    labelled = TraceWindow(**{**trace.__dict__, "channel_labels": [_short(c) for c in trace.channel_labels]})
    overlay = TracesView._draw(labelled, window)
    return overlay.opts(hv.opts.NdOverlay(ylabel=_short(trace.unit or "value")))


def _events(events: EventWindow, window: tuple[float, float], coded: bool) -> hv.Element:
    if coded:
        codes = events.distinct_codes
        ticks = [(c, str(c)) for c in codes] if 0 < len(codes) <= 6 else None
        return EventsView._draw(events, window).opts(hv.opts.Overlay(yticks=ticks))
    spikes = hv.Spikes(events.times, TIME).opts(color="#1f77b4", line_width=1.5, yaxis=None)
    return spikes


def _intervals(spans: IntervalSpans) -> hv.Element:
    lanes = np.zeros(len(spans.start)) if len(spans.start) else np.zeros(0)
    segments = hv.Segments(
        (spans.start, lanes, spans.stop, lanes), kdims=[TIME, "lane", "stop", "lane_end"]
    ).opts(line_width=14, color="#1f77b4", alpha=0.6, yaxis=None)
    starts = hv.Spikes(spans.start, TIME).opts(color="#0b3d66", line_width=1, spike_length=0.6, position=-0.3)
    return (segments * starts).opts(hv.opts.Overlay(ylim=(-0.5, 0.5)))


def _units(spikes: SpikeWindow) -> hv.Element:
    rows = np.asarray(spikes.unit_rows, dtype=np.float64)
    segments = hv.Segments(
        (spikes.times, rows + 0.1, spikes.times, rows + 0.9), kdims=[TIME, "unit", "t_end", "unit_end"]
    ).opts(color="black", line_width=1)
    n_units = max(len(spikes.units), 1)
    ticks = [(i + 0.5, _short(str(u))) for i, u in enumerate(spikes.units)] if n_units <= 12 else None
    return segments.opts(ylim=(0, n_units), yticks=ticks, ylabel="unit", invert_yaxis=True)


def draw_panel(panel: StackedWindow, window: tuple[float, float]) -> hv.Element:
    """The picture of one object's window, at ``window`` (the shared one, or the zoom the user is making)."""
    data = panel.data
    if isinstance(data, TraceWindow):
        element = _traces(data, window)
    elif isinstance(data, EventWindow):
        element = _events(data, window, coded=panel.coded)
    elif isinstance(data, IntervalSpans):
        element = _intervals(data)
    else:
        element = _units(data)
    options = _options(panel.item.kind, window)
    if isinstance(element, hv.NdOverlay):
        return element.opts(hv.opts.NdOverlay(**options))
    if isinstance(element, hv.Overlay):
        return element.opts(hv.opts.Overlay(**options))
    return element.opts(**options)
