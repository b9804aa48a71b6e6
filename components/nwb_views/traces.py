"""Multi-channel traces for TimeSeries, ElectricalSeries, RoiResponseSeries, ...

Each pan or zoom re-reads only the visible window, min/max-decimated to about the plot's
pixel width, so a 10-hour recording costs the same to browse as a 10-second one.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn
import param

from components.nwb_views.base import NwbView
from engines.nwb.extract import TraceWindow, read_trace_window, series_time_range
from engines.nwb.index import NwbIndex

__all__ = ["TracesView"]

_MAX_CHANNELS_SHOWN = 32


def _data_info(index: NwbIndex, path: str):
    data_path = path.rstrip("/") + "/data"
    if data_path not in index:
        return None
    info = index.get(data_path)
    while info.kind == "soft_link" and info.link_target and info.link_target in index:
        info = index.get(info.link_target)
    return info


class TracesView(NwbView):
    id = "traces"
    title = "Traces"
    neurodata_types = ("TimeSeries",)

    window = param.Range(default=None, doc="Visible time window (s).")
    channels = param.List(default=[], doc="Channel indices shown.")

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        if not super().applies(index, path):
            return False
        data = _data_info(index, path)
        return bool(data and data.shape and 1 <= len(data.shape) <= 2 and data.dtype and data.dtype[:2] in
                    ("<f", ">f", "<i", ">i", "<u", ">u", "|i", "|u", "|b"))

    def __init__(self, nwbfile, path, products=None, **params) -> None:
        super().__init__(nwbfile, path, products, **params)
        self._series_range = series_time_range(nwbfile, path)
        data = _data_info(nwbfile.index, path)
        n_channels = data.shape[1] if data and len(data.shape) == 2 else 1
        first = read_trace_window(nwbfile, path, channels=list(range(min(n_channels, _MAX_CHANNELS_SHOWN))))
        self._last: TraceWindow = first
        options = {label: i for i, label in enumerate(self._labels(first, n_channels))}
        self._channel_picker = pn.widgets.MultiChoice(label="Channels", options=options, value=first.channels,
                                                      sizing_mode="stretch_width", max_items=64)
        self._channel_picker.link(self, value="channels")
        self.channels = list(first.channels)
        self.window = (first.t_start, first.t_stop)
        self._range = hv.streams.RangeX(x_range=self.window)
        self._range.add_subscriber(self._on_zoom)
        self._status = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._plot = hv.DynamicMap(self._render, streams=[self._range, self.param.channels])
        self._describe(first)

    @staticmethod
    def _labels(first: TraceWindow, n_channels: int) -> list[str]:
        """Labels of the channels read first (0..k-1), then plain numbers for the rest."""
        return list(first.channel_labels) + [f"ch {i}" for i in range(len(first.channel_labels), n_channels)]

    def _on_zoom(self, x_range=None, **_) -> None:
        if x_range is not None:
            self.window = tuple(float(v) for v in x_range)

    def _read(self, x_range) -> TraceWindow:
        t0, t1 = x_range if x_range else self.window
        last = self._last
        if (last.t_start, last.t_stop) == (t0, t1) and list(last.channels) == list(self.channels or [0]):
            return last  # the first render reuses the window read when the view was built
        return read_trace_window(self.nwbfile, self.path, t_start=t0, t_stop=t1, channels=self.channels or [0],
                                 max_points=1600)

    def _render(self, x_range=None, channels=None) -> hv.Overlay:
        trace = self._read(x_range)
        self._last = trace
        self._describe(trace)
        values = trace.values
        spread = np.nanpercentile(values, 99, axis=0) - np.nanpercentile(values, 1, axis=0) if values.size else np.ones(1)
        step = float(np.nanmax(spread)) * 1.1 if values.size and np.isfinite(np.nanmax(spread)) and np.nanmax(spread) > 0 else 1.0
        curves = {}
        ticks = []
        for column, (channel, label) in enumerate(zip(trace.channels, trace.channel_labels)):
            offset = column * step
            centre = float(np.nanmedian(values[:, column])) if values.size else 0.0
            curves[label] = hv.Curve((trace.t, values[:, column] - centre + offset), "time (s)", "value")
            ticks.append((offset, label))
        overlay = hv.NdOverlay(curves, kdims="channel") if curves else hv.NdOverlay({}, kdims="channel")
        return overlay.opts(
            hv.opts.Curve(line_width=1, tools=["hover"], framewise=True, padding=(0, 0.05)),
            hv.opts.NdOverlay(responsive=True, height=420, show_legend=False, yticks=ticks or None, padding=(0, 0.05),
                              ylabel=trace.unit or "value", active_tools=["wheel_zoom"], framewise=True),
        )

    def _describe(self, trace: TraceWindow) -> None:
        note = " · sampled (window longer than one read)" if trace.sampled else ""
        note += " · min/max decimated" if trace.decimated else ""
        self._status.object = (
            f"Window **{trace.t_start:.3f} – {trace.t_stop:.3f} s** of {trace.series_start:.3f} – "
            f"{trace.series_stop:.3f} s · {len(trace.channels)} channel(s) · {trace.bytes_read / 1e6:.2f} MB read{note}"
        )

    def _shift(self, fraction: float, zoom: float = 1.0) -> None:
        t0, t1 = self.window
        centre, half = (t0 + t1) / 2 + fraction * (t1 - t0), (t1 - t0) / 2 * zoom
        lo, hi = self._series_range
        centre = min(max(centre, lo), hi)
        self._range.event(x_range=(centre - half, centre + half))

    def __panel__(self) -> pn.viewable.Viewable:
        buttons = [
            ("◀◀", lambda _: self._shift(-1.0)), ("◀", lambda _: self._shift(-0.25)),
            ("Zoom in", lambda _: self._shift(0.0, 0.5)), ("Zoom out", lambda _: self._shift(0.0, 2.0)),
            ("▶", lambda _: self._shift(0.25)), ("▶▶", lambda _: self._shift(1.0)),
        ]
        controls = []
        for name, handler in buttons:
            button = pn.widgets.Button(label=name, width=80 if len(name) > 2 else 45)
            button.on_click(handler)
            controls.append(button)
        return pn.Column(pn.Row(*controls), self._status, pn.pane.HoloViews(self._plot, sizing_mode="stretch_width", height=440),
                         self._channel_picker, sizing_mode="stretch_both")
