"""TimeIntervals (trials, epochs, ...): a timeline of every interval and the paged table."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn

from components.nwb_views.base import NwbView
from components.paged_table import PagedTable
from engines.nwb.extract import read_intervals

__all__ = ["IntervalsView"]


class IntervalsView(NwbView):
    id = "intervals"
    title = "Intervals"
    neurodata_types = ("TimeIntervals",)

    def __panel__(self) -> pn.viewable.Viewable:
        first = read_intervals(self.nwbfile, self.path, offset=0, limit=50)
        rows = np.arange(len(first.start))
        timeline = hv.Segments((first.start, rows, first.stop, rows), kdims=["time (s)", "interval", "stop", "row"])
        timeline = timeline.opts(line_width=4, color="#1f77b4", responsive=True, height=260, tools=["hover"],
                                 active_tools=["wheel_zoom"], invert_yaxis=True)

        def fetch(offset: int, limit: int):
            page = read_intervals(self.nwbfile, self.path, offset=offset, limit=limit).page
            return page.frame, page.total_rows

        return pn.Column(pn.pane.HoloViews(timeline, sizing_mode="stretch_width"), PagedTable(fetch),
                         sizing_mode="stretch_width")
