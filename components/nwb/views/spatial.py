"""SpatialSeries: the x/y path, coloured by time."""

from __future__ import annotations

import holoviews as hv
import panel as pn

from components.nwb.views.base import NwbView
from engines.nwb.extract import read_xy

__all__ = ["XYPathView"]


class XYPathView(NwbView):
    id = "xy"
    title = "XY path"
    neurodata_types = ("SpatialSeries",)

    def __panel__(self) -> pn.viewable.Viewable:
        path = read_xy(self.nwbfile, self.path)
        if path.y is None:
            plot = hv.Curve((path.t, path.x), "time (s)", f"x ({path.unit})")
        else:
            plot = hv.Points(
                (path.x, path.y, path.t), [f"x ({path.unit})", f"y ({path.unit})"], "time (s)"
            ).opts(color="time (s)", cmap="viridis", size=3, colorbar=True, data_aspect=1)
            plot = hv.Path([(path.x, path.y)]).opts(color="#bbb") * plot
        note = " (decimated)" if path.decimated else ""
        return pn.Column(
            pn.pane.Markdown(f"{len(path.t):,} samples{note}", css_classes=["nd-muted"]),
            pn.pane.HoloViews(
                plot.opts(responsive=True, height=420)
                if path.y is None
                else plot.opts(hv.opts.Points(responsive=True, height=420)),
                sizing_mode="stretch_width",
                height=440,
            ),
            sizing_mode="stretch_both",
        )
