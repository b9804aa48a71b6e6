"""Sparse integer event series (TTL codes, trial markers) as events: a marker per event, labelled by its code.

Drawn as a line, a few thousand TTL codes over an hour are a comb that says nothing; as
markers at their times, one row per code, they show what happened when. The window is the
file's shared one, and the first window is the bulk of the timestamps: a stray timestamp
(the demo file's first TTL sits at -1.5e9 s) is reported, not used to place the plot.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn

from components.nwb.views.base import NwbView
from components.safe_text import escape_text
from components.windowed_plot import WindowedPlot, as_window
from engines.nwb.extract import EventWindow, event_series_info, read_events
from engines.nwb.index import NwbIndex

__all__ = ["EventsView"]

_INTEGER_KINDS = ("<i", ">i", "|i", "<u", ">u", "|u", "|b")


class EventsView(NwbView):
    id = "events"
    title = "Events"
    neurodata_types = ("TimeSeries",)
    time_based = True

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        """1-D integer values at explicit timestamps: the shape of an event series (decided from the
        index)."""
        if not super().applies(index, path):
            return False
        data = index.objects.get(path.rstrip("/") + "/data")
        return bool(
            data is not None
            and data.shape
            and len(data.shape) == 1
            and data.dtype
            and data.dtype[:2] in _INTEGER_KINDS
            and path.rstrip("/") + "/timestamps" in index
        )

    def __init__(self, nwbfile, path, jobs=None, controller=None, work=None, **params) -> None:
        super().__init__(nwbfile, path, jobs, controller, work, **params)
        self._info = event_series_info(nwbfile, path)
        window = self.controller.time_window
        first = read_events(nwbfile, path, *(window or (None, None)))
        self._requested = as_window(window) if window else (first.t_start, first.t_stop)
        self._status = pn.pane.Markdown(self._describe(first), css_classes=["nd-muted"], margin=(0, 10))
        self._plot = WindowedPlot(self._draw, first, self._requested, on_zoom=self.controller.set_window)
        self._pane = pn.pane.HoloViews(self._plot.dmap, sizing_mode="stretch_width", height=380)
        self.watch_controller(self._on_window, ["time_window"])

    def _on_window(self, event) -> None:
        if event.new is None or tuple(event.new) == self._requested:
            return
        self._requested = t0, t1 = tuple(event.new)
        self._pane.loading = True

        def show(events: EventWindow) -> None:
            self._pane.loading = False
            self._status.object = self._describe(events)
            self._plot.show(events, (t0, t1))

        def failed(exc: BaseException) -> None:
            self._pane.loading = False
            self._status.object = f"These events could not be read: {escape_text(exc)}"

        self.work.run(
            self.work_key("window"),
            lambda: read_events(self.nwbfile, self.path, t0, t1),
            apply=show,
            failed=failed,
        )

    @staticmethod
    def _draw(events: EventWindow, window: tuple[float, float]) -> hv.Overlay:
        codes = np.asarray(events.codes)
        points = hv.Scatter((events.times, codes), "time (s)", "code").opts(
            marker="dash", angle=90, size=14, color="#1f77b4", tools=["hover"], line_width=2
        )
        labels = hv.Labels(
            (events.times, codes + 0.35, [str(int(c)) for c in codes]), ["time (s)", "code"], "text"
        )
        labels = labels.opts(text_font_size="7pt", text_color="#555", visible=len(codes) <= 300)
        return (points * labels).opts(
            hv.opts.Overlay(
                responsive=True,
                height=360,
                xlim=tuple(window),
                framewise=True,
                active_tools=["wheel_zoom"],
                show_legend=False,
            )
        )

    def _describe(self, events: EventWindow) -> str:
        shown = f"{len(events.times):,} events" + (
            f" (first of {events.total_in_window:,})" if events.truncated else ""
        )
        codes = ", ".join(map(str, events.distinct_codes[:20])) + (
            " …" if len(events.distinct_codes) > 20 else ""
        )
        strays = self._info.time_range.describe() if self._info else ""
        strays = f" · {strays}" if strays else ""
        return escape_text(
            f"{events.t_start:.2f} – {events.t_stop:.2f} s · {shown} · codes {codes or '—'}{strays}"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._status, self._pane, sizing_mode="stretch_both")
