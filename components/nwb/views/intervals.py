"""TimeIntervals (trials, epochs, ...): a timeline of every interval and the paged table.

The timeline shows the file's shared time window (the controller's), so zooming the
traces to a few trials and switching here shows those trials; zooming here moves the
other time-based views.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn

from components.nwb.views.base import NwbView
from components.paged_table import PagedTable
from components.windowed_plot import WindowedPlot
from engines.nwb.extract import read_intervals

__all__ = ["IntervalsView"]


class IntervalsView(NwbView):
    id = "intervals"
    title = "Intervals"
    neurodata_types = ("TimeIntervals",)
    time_based = True

    def _timeline(self, _data: None, window: tuple[float, float]) -> hv.Segments:
        rows = np.arange(len(self._start))
        segments = hv.Segments(
            (self._start, rows, self._stop, rows), kdims=["time (s)", "interval", "stop", "row"]
        )
        options = dict(
            line_width=4,
            color="#1f77b4",
            responsive=True,
            height=260,
            tools=["hover"],
            active_tools=["wheel_zoom"],
            invert_yaxis=True,
            framewise=True,
        )
        return segments.opts(xlim=tuple(window), **options)

    def _whole(self) -> tuple[float, float]:
        finite = np.concatenate([self._start[np.isfinite(self._start)], self._stop[np.isfinite(self._stop)]])
        return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)

    def _on_window(self, event) -> None:
        self._plot.show(None, tuple(event.new) if event.new is not None else self._whole())

    def __panel__(self) -> pn.viewable.Viewable:
        first = read_intervals(self.nwbfile, self.path, offset=0, limit=50)
        self._start, self._stop = first.start, first.stop
        self._plot = WindowedPlot(
            self._timeline,
            None,
            self.controller.time_window or self._whole(),
            on_zoom=self.controller.set_window,
        )
        self.watch_controller(self._on_window, ["time_window"])

        def fetch(offset: int, limit: int):
            page = read_intervals(self.nwbfile, self.path, offset=offset, limit=limit).page
            return page.frame, page.total_rows

        return pn.Column(
            pn.pane.HoloViews(self._plot.dmap, sizing_mode="stretch_width"),
            PagedTable(fetch),
            sizing_mode="stretch_width",
        )
