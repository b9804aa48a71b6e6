"""Multi-channel traces for TimeSeries, ElectricalSeries, RoiResponseSeries, ...

Each pan or zoom re-reads only the visible window, min/max-decimated to about the plot's
pixel width, so a 10-hour recording costs the same to browse as a 10-second one. The
window is the file's shared one (the controller's): zooming here moves the raster and the
intervals timeline too, and a deep link's ``t0``/``t1`` opens exactly that window. Reads
run off the session's thread; the newest request wins.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn

from components.nwb.views.base import NwbView
from components.safe_text import escape_text, safe_choices
from components.windowed_plot import WindowedPlot
from engines.nwb.extract import TraceWindow, read_trace_window, robust_time_range
from engines.nwb.index import NwbIndex

__all__ = ["TracesView"]

_MAX_CHANNELS_SHOWN = 32
_POINTS_PER_READ = 1600


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
    time_based = True

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        if not super().applies(index, path):
            return False
        data = _data_info(index, path)
        return bool(
            data
            and data.shape
            and 1 <= len(data.shape) <= 2
            and data.dtype
            and data.dtype[:2] in ("<f", ">f", "<i", ">i", "<u", ">u", "|i", "|u", "|b")
        )

    def __init__(self, nwbfile, path, jobs=None, controller=None, work=None, **params) -> None:
        super().__init__(nwbfile, path, jobs, controller, work, **params)
        span = robust_time_range(nwbfile, path)
        self._series_range = (span.start, span.stop)
        self._strays = span.describe()
        data = _data_info(nwbfile.index, path)
        self._n_channels = data.shape[1] if data and len(data.shape) == 2 else 1
        window = self.controller.time_window
        first = read_trace_window(
            nwbfile,
            path,
            t_start=window[0] if window else None,
            t_stop=window[1] if window else None,
            channels=self._channels(),
            max_points=_POINTS_PER_READ,
        )
        self._requested = self._key(window or (first.t_start, first.t_stop), first.channels)
        self._plot = WindowedPlot(self._draw, first, self._requested[0], on_zoom=self.controller.set_window)
        self._status = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._pane = pn.pane.HoloViews(self._plot.dmap, sizing_mode="stretch_width", height=440)
        labels = list(first.channel_labels) + [
            f"ch {i}" for i in range(len(first.channel_labels), self._n_channels)
        ]
        self._channel_picker = pn.widgets.MultiChoice(
            label="Channels",
            options=safe_choices({label: i for i, label in enumerate(labels)}),
            value=list(first.channels),
            sizing_mode="stretch_width",
            max_items=64,
        )
        self._channel_picker.param.watch(self._on_pick, "value")
        self.watch_controller(self._on_shared, ["time_window", "channels"])
        self._describe(first)

    def _channels(self) -> list[int]:
        picked = [c for c in self.controller.channels if 0 <= c < self._n_channels]
        return picked or list(range(min(self._n_channels, _MAX_CHANNELS_SHOWN)))

    @staticmethod
    def _key(window: tuple[float, float], channels) -> tuple[tuple[float, float], tuple[int, ...]]:
        return (float(window[0]), float(window[1])), tuple(int(c) for c in channels)

    # --- requests ---------------------------------------------------------------------------------
    def _on_pick(self, event) -> None:
        default = list(range(min(self._n_channels, _MAX_CHANNELS_SHOWN)))
        self.controller.channels = [] if sorted(event.new) == default else [int(c) for c in event.new]

    def _on_shared(self, *_events) -> None:
        window = self.controller.time_window or self._requested[0]
        key = self._key(window, self._channels())
        if key == self._requested:
            return
        self._requested = key
        self._pane.loading = True
        t0, t1 = key[0]
        self.work.run(
            self.work_key("window"),
            lambda: read_trace_window(
                self.nwbfile,
                self.path,
                t_start=t0,
                t_stop=t1,
                channels=list(key[1]),
                max_points=_POINTS_PER_READ,
            ),
            apply=lambda trace: self._show(trace, key[0]),
            failed=self._failed,
        )

    def _show(self, trace: TraceWindow, window: tuple[float, float]) -> None:
        self._pane.loading = False
        self._describe(trace)
        if list(self._channel_picker.value) != list(trace.channels):
            self._channel_picker.value = list(trace.channels)
        self._plot.show(trace, window)

    def _failed(self, exc: BaseException) -> None:
        self._pane.loading = False
        self._status.object = f"This window could not be read: {escape_text(exc)}"

    # --- drawing ----------------------------------------------------------------------------------
    @staticmethod
    def _draw(trace: TraceWindow, window: tuple[float, float]) -> hv.NdOverlay:
        values = trace.values
        spread = (
            np.nanpercentile(values, 99, axis=0) - np.nanpercentile(values, 1, axis=0)
            if values.size
            else np.ones(1)
        )
        top = np.nanmax(spread) if values.size else 0.0
        step = float(top) * 1.1 if np.isfinite(top) and top > 0 else 1.0
        curves, ticks = {}, []
        for column, label in enumerate(trace.channel_labels):
            offset = column * step
            centre = float(np.nanmedian(values[:, column])) if values.size else 0.0
            curves[label] = hv.Curve((trace.t, values[:, column] - centre + offset), "time (s)", "value")
            ticks.append((offset, label))
        return hv.NdOverlay(curves, kdims="channel").opts(
            hv.opts.Curve(line_width=1, tools=["hover"], framewise=True),
            hv.opts.NdOverlay(
                responsive=True,
                height=420,
                show_legend=False,
                yticks=ticks or None,
                padding=(0, 0.05),
                xlim=tuple(window),
                ylabel=trace.unit or "value",
                active_tools=["wheel_zoom"],
                framewise=True,
            ),
        )

    def _describe(self, trace: TraceWindow) -> None:
        note = " · sampled (window longer than one read)" if trace.sampled else ""
        note += " · min/max decimated" if trace.decimated else ""
        empty = " · no samples in this window" if trace.t.size == 0 else ""
        t0, t1 = self._requested[0]
        self._status.object = (
            f"Window **{t0:.3f} – {t1:.3f} s** of {trace.series_start:.3f} – {trace.series_stop:.3f} s · "
            f"{len(trace.channels)} channel(s) · {trace.bytes_read / 1e6:.2f} MB read{note}{empty}"
            + (f" · {escape_text(self._strays)}" if self._strays else "")
        )

    def _shift(self, fraction: float, zoom: float = 1.0) -> None:
        t0, t1 = self._requested[0]
        centre, half = (t0 + t1) / 2 + fraction * (t1 - t0), (t1 - t0) / 2 * zoom
        lo, hi = self._series_range
        centre = min(max(centre, lo), hi)
        self.controller.set_window(centre - half, centre + half)

    def __panel__(self) -> pn.viewable.Viewable:
        buttons = [
            ("◀◀", lambda _: self._shift(-1.0)),
            ("◀", lambda _: self._shift(-0.25)),
            ("Zoom in", lambda _: self._shift(0.0, 0.5)),
            ("Zoom out", lambda _: self._shift(0.0, 2.0)),
            ("▶", lambda _: self._shift(0.25)),
            ("▶▶", lambda _: self._shift(1.0)),
        ]
        controls = []
        for name, handler in buttons:
            button = pn.widgets.Button(label=name, width=80 if len(name) > 2 else 45)
            button.on_click(handler)
            controls.append(button)
        return pn.Column(
            pn.Row(*controls), self._status, self._pane, self._channel_picker, sizing_mode="stretch_both"
        )
