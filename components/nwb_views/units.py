"""Units raster: zoomable; individual spikes when few, a datashaded image when too many to draw.

Each zoom re-reads only the spikes of the visible window (bounded by ``max_spikes``).
"""

from __future__ import annotations

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from components.nwb_views.base import NwbView
from engines.nwb.extract import SpikeWindow, read_spike_window, read_units_table

__all__ = ["UnitsRasterView"]

DRAWABLE_SPIKES = 20_000
"""Above this many spikes in view the raster is rasterized server-side with datashader."""

_SORTS = {"unit id": None, "firing rate": "rate_hz", "depth": "depth", "spike count": "n_spikes"}


class UnitsRasterView(NwbView):
    id = "raster"
    title = "Raster"
    neurodata_types = ("Units",)

    sort_by = param.Selector(default="unit id", objects=list(_SORTS))

    def __init__(self, nwbfile, path, **params) -> None:
        super().__init__(nwbfile, path, **params)
        self._units = read_units_table(nwbfile, path)
        sorts = [name for name, column in _SORTS.items() if column is None or column in self._units.frame.columns]
        self.param.sort_by.objects = sorts
        span = self._units.t_stop - self._units.t_start
        first = (self._units.t_start, self._units.t_start + min(span, 60.0) if span > 0 else self._units.t_start + 1)
        self._range = hv.streams.RangeX(x_range=first)
        self._status = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._window = read_spike_window(nwbfile, path, t_start=first[0], t_stop=first[1])
        self._describe(*first, self._window)  # before the first render: updates made during it are not shown
        self._plot = hv.DynamicMap(self._render, streams=[self._range, self.param.sort_by])

    def _order(self) -> np.ndarray:
        column = _SORTS[self.sort_by]
        frame = self._units.frame
        if column is None:
            return np.arange(len(frame))
        return np.argsort(pd.to_numeric(frame[column], errors="coerce").fillna(-np.inf).to_numpy(), kind="stable")[::-1]

    def _render(self, x_range=None, sort_by=None) -> hv.Overlay:
        t0, t1 = x_range if x_range else (self._units.t_start, self._units.t_stop)
        if (self._window.t_start, self._window.t_stop) != (t0, t1) or self._window.truncated:
            self._window = read_spike_window(self.nwbfile, self.path, t_start=t0, t_stop=t1)
        window = self._window
        order = self._order()
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        rows = position[window.unit_rows] if len(window.unit_rows) else np.array([], dtype=int)
        n_units = max(len(order), 1)
        shown = len(window.times)
        if shown > DRAWABLE_SPIKES:
            frame = pd.DataFrame({"t": window.times, "row": rows.astype(float) + 0.5})
            canvas = ds.Canvas(plot_width=1200, plot_height=min(n_units, 600), x_range=(t0, t1), y_range=(0, n_units))
            image = hv.Image(canvas.points(frame, "t", "row", agg=ds.count()).astype(float), kdims=["time (s)", "unit"])
            image = image.opts(cmap="fire", logz=True, colorbar=True, clim=(1, None))
            segments = hv.Segments([], kdims=["time (s)", "unit", "t1", "u1"])
        else:
            image = hv.Image((np.linspace(t0, t1, 2), np.arange(2), np.full((2, 2), np.nan)), kdims=["time (s)", "unit"])
            segments = hv.Segments((window.times, rows + 0.1, window.times, rows + 0.9),
                                   kdims=["time (s)", "unit", "t1", "u1"]).opts(color="black", line_width=1)
        self._describe(t0, t1, window)
        return (image * segments).opts(
            hv.opts.Overlay(responsive=True, height=460, active_tools=["wheel_zoom"], ylim=(0, n_units),
                            xlim=(t0, t1), framewise=True),
        )

    def _describe(self, t0: float, t1: float, window: SpikeWindow) -> None:
        shown = len(window.times)
        kind = "datashaded image" if shown > DRAWABLE_SPIKES else "individual spikes"
        capped = f" (first {shown:,} of {window.total_in_window:,})" if window.truncated else ""
        self._status.object = f"{t0:.2f} – {t1:.2f} s · {shown:,} spikes{capped} · {kind} · sorted by {self.sort_by}"

    def __panel__(self) -> pn.viewable.Viewable:
        table = pn.widgets.Tabulator(self._units.frame, show_index=False, disabled=True, sizing_mode="stretch_width",
                                     max_height=300, pagination="local", page_size=50)
        return pn.Column(
            pn.Row(pn.widgets.Select.from_param(self.param.sort_by, name="Sort units by", width=200), self._status),
            pn.pane.HoloViews(self._plot, sizing_mode="stretch_width", height=480),
            pn.pane.Markdown(f"**{len(self._units.frame)} units**"), table,
            sizing_mode="stretch_both",
        )
