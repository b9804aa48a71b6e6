"""Units raster: smooth at every zoom for thousands of units and millions of spikes.

Zoomed out, it draws the spike-density image from the precomputed pyramid level that
matches the zoom; zoomed in far enough, individual spikes (read for the visible window
only). Until the pyramid job is done, it datashades the raw spikes of the window instead.
Units can be ordered by id, firing rate, depth, spike count, or Rastermap (another job).
"""

from __future__ import annotations

from pathlib import Path

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from components.nwb_views.base import NwbView
from components.product_watcher import ProductWatcher
from engines.nwb.extract import SpikeWindow, read_spike_window, read_units_table
from engines.nwb.product_jobs import RASTERMAP, SPIKE_DENSITY
from engines.nwb.products import SpikeDensityPyramid
from engines.nwb.products.rastermap_order import RastermapOrder

__all__ = ["UnitsRasterView"]

DRAWABLE_SPIKES = 20_000
"""Above this many spikes in view, raw spikes are rasterized server-side with datashader."""

IMAGE_WIDTH_PX = 1200
TIME = hv.Dimension("t", label="time (s)")
UNIT = hv.Dimension("row", label="unit")
SEGMENT_DIMS = [TIME, UNIT, "t_end", "row_end"]
_SORTS = {"unit id": None, "firing rate": "rate_hz", "depth": "depth", "spike count": "n_spikes", "Rastermap": None}


class UnitsRasterView(NwbView):
    id = "raster"
    title = "Raster"
    neurodata_types = ("Units",)

    sort_by = param.Selector(default="unit id", objects=list(_SORTS))

    @classmethod
    def applies(cls, index, path: str) -> bool:
        return super().applies(index, path) and f"{index.get(path).path}/spike_times" in index

    def __init__(self, nwbfile, path, products=None, **params) -> None:
        super().__init__(nwbfile, path, products, **params)
        self._units = read_units_table(nwbfile, path)
        frame = self._units.frame
        self.param.sort_by.objects = [name for name, column in _SORTS.items()
                                      if (column is None or column in frame.columns)
                                      and (name != "Rastermap" or products is not None)]
        self._pyramid: SpikeDensityPyramid | None = None
        self._rastermap: np.ndarray | None = None
        self._rastermap_watcher: ProductWatcher | None = None
        self._status = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._jobs = pn.Column(sizing_mode="stretch_width")
        whole = (self._units.t_start, max(self._units.t_stop, self._units.t_start + 1e-3))
        self._range = hv.streams.RangeX(x_range=whole)
        self._refresh = hv.streams.Counter()  # a new product redraws the same range (DynamicMap memoizes by value)
        if products is not None:
            self._jobs.append(ProductWatcher(products, SPIKE_DENSITY, nwbfile, path, self._pyramid_ready,
                                             "Spike density pyramid"))
        self._first = self._compose(*whole)  # before the first render: updates made during it are not shown
        self._plot = hv.DynamicMap(self._render, streams=[self._range, self.param.sort_by, self._refresh])

    # --- products ------------------------------------------------------------------------------
    def _pyramid_ready(self, folder: Path) -> None:
        self._pyramid = SpikeDensityPyramid.open(folder)
        if hasattr(self, "_plot"):
            self._refresh.event()

    def _rastermap_ready(self, folder: Path) -> None:
        self._rastermap = RastermapOrder.open(folder).order
        if self.sort_by == "Rastermap" and hasattr(self, "_plot"):
            self._refresh.event()

    @param.depends("sort_by", watch=True)
    def _on_sort(self) -> None:
        if self.sort_by == "Rastermap" and self._rastermap_watcher is None:
            self._rastermap_watcher = ProductWatcher(self.products, RASTERMAP, self.nwbfile, self.path,
                                                     self._rastermap_ready, "Rastermap ordering")
            self._jobs.append(self._rastermap_watcher)

    def _order(self) -> np.ndarray:
        """Unit rows from top to bottom of the raster."""
        frame = self._units.frame
        if self.sort_by == "Rastermap":
            return self._rastermap if self._rastermap is not None else np.arange(len(frame))
        column = _SORTS[self.sort_by]
        if column is None:
            return np.arange(len(frame))
        values = pd.to_numeric(frame[column], errors="coerce").fillna(-np.inf).to_numpy()
        return np.argsort(values, kind="stable")[::-1]

    # --- drawing -------------------------------------------------------------------------------
    def _compose(self, t0: float, t1: float) -> hv.Overlay:
        order = self._order()
        n_units = max(len(order), 1)
        if self._pyramid is not None and not self._pyramid.should_show_spikes(t0, t1, max_spikes=DRAWABLE_SPIKES):
            density = self._pyramid.query(t0, t1, IMAGE_WIDTH_PX, units=order)
            image = hv.Image((0.5 * (density.t_edges[:-1] + density.t_edges[1:]), np.arange(n_units) + 0.5,
                              density.counts / density.bin_s / density.bins_per_column),
                             kdims=[TIME, UNIT], vdims="rate (Hz)")
            kind = f"density from pyramid level {density.level_used} ({density.bin_s * density.bins_per_column:g} s bins)"
            self._status.object = f"{t0:.2f} – {t1:.2f} s · {self._pyramid.spikes_in_view(t0, t1):,} spikes · {kind} · sorted by {self.sort_by}"
            return self._overlay(image.opts(cmap="fire", colorbar=True, logz=False), self._no_segments(), t0, t1, n_units)
        window = read_spike_window(self.nwbfile, self.path, t_start=t0, t_stop=t1)
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        rows = position[window.unit_rows] if len(window.unit_rows) else np.array([], dtype=np.int64)
        self._describe(t0, t1, window)
        if len(window.times) > DRAWABLE_SPIKES:
            points = pd.DataFrame({"t": window.times, "row": rows.astype(float) + 0.5})
            canvas = ds.Canvas(plot_width=IMAGE_WIDTH_PX, plot_height=min(n_units, 600), x_range=(t0, t1),
                               y_range=(0, n_units))
            image = hv.Image(canvas.points(points, "t", "row", agg=ds.count()).astype(float), kdims=[TIME, UNIT],
                             vdims="spikes").opts(cmap="fire", colorbar=True)
            return self._overlay(image, self._no_segments(), t0, t1, n_units)
        segments = hv.Segments((window.times, rows + 0.1, window.times, rows + 0.9),
                               kdims=SEGMENT_DIMS).opts(color="black", line_width=1)
        return self._overlay(self._no_image(t0, t1), segments, t0, t1, n_units)

    @staticmethod
    def _no_segments() -> hv.Segments:
        return hv.Segments([], kdims=SEGMENT_DIMS)

    @staticmethod
    def _no_image(t0: float, t1: float) -> hv.Image:
        return hv.Image((np.linspace(t0, t1, 2), np.arange(2), np.full((2, 2), np.nan)), kdims=[TIME, UNIT])

    @staticmethod
    def _overlay(image: hv.Image, segments: hv.Segments, t0: float, t1: float, n_units: int) -> hv.Overlay:
        return (image * segments).opts(hv.opts.Overlay(responsive=True, height=460, active_tools=["wheel_zoom"], padding=0,
                                                       ylim=(0, n_units), xlim=(t0, t1), framewise=True))

    def _render(self, x_range=None, sort_by=None, counter=0) -> hv.Overlay:
        if self._first is not None:  # the first render shows what was composed when the view was built
            first, self._first = self._first, None
            return first
        t0, t1 = x_range if x_range else (self._units.t_start, self._units.t_stop)
        return self._compose(t0, t1)

    def _describe(self, t0: float, t1: float, window: SpikeWindow) -> None:
        shown = len(window.times)
        kind = "datashaded spikes" if shown > DRAWABLE_SPIKES else "individual spikes"
        capped = f" (first {shown:,} of {window.total_in_window:,})" if window.truncated else ""
        self._status.object = f"{t0:.2f} – {t1:.2f} s · {shown:,} spikes{capped} · {kind} · sorted by {self.sort_by}"

    def __panel__(self) -> pn.viewable.Viewable:
        table = pn.widgets.Tabulator(self._units.frame, show_index=False, disabled=True, sizing_mode="stretch_width",
                                     max_height=300, pagination="local", page_size=50)
        return pn.Column(
            pn.Row(pn.widgets.Select.from_param(self.param.sort_by, label="Sort units by", width=200), self._status),
            self._jobs,
            pn.pane.HoloViews(self._plot, sizing_mode="stretch_width", height=480),
            pn.pane.Markdown(f"**{len(self._units.frame)} units**"), table,
            sizing_mode="stretch_both",
        )
