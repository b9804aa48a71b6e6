"""An EDF/BDF recording: header, channels, annotations, and the same windowed traces as NWB series.

Each pan or zoom reads only the data records the window needs (by range for remote files),
off the session's thread; the window and channels are the page's link state, like an NWB
series', so a copied address reopens the same picture.
"""

from __future__ import annotations

import pandas as pd
import panel as pn

from components.background import BackgroundWork
from components.nwb.controller import NwbFileController
from components.nwb.views.traces import TracesView
from components.safe_text import escape_text, safe_choices
from components.windowed_plot import WindowedPlot, as_window
from engines.edf import EdfFile
from engines.nwb.extract import TraceWindow

__all__ = ["EdfViewer"]

_POINTS = 1600


class EdfViewer(pn.viewable.Viewer):
    """``controller.time_window`` and ``controller.channels`` are shared with the page's address."""

    def __init__(self, edf: EdfFile, controller: NwbFileController, work: BackgroundWork) -> None:
        super().__init__()
        self._edf = edf
        self._controller = controller
        self._work = work
        start, stop = edf.time_range()
        self._range = (start, stop)
        window = as_window(controller.time_window or (start, min(stop, start + 10.0)))
        first = edf.read_window(window[0], window[1], channels=self._channels(), max_points=_POINTS)
        self._requested = (window, tuple(first.channels))
        self._plot = WindowedPlot(TracesView._draw, first, window, on_zoom=controller.set_window)
        self._pane = pn.pane.HoloViews(self._plot.dmap, sizing_mode="stretch_width", height=440)
        self._status = pn.pane.Markdown(self._describe(first), css_classes=["nd-muted"], margin=(0, 10))
        labels = {f"{i}: {c.label} ({c.sampling_rate:g} Hz)": i for i, c in enumerate(edf.signals)}
        self._picker = pn.widgets.MultiChoice(
            name="Channels (one sampling rate at a time)",
            options=safe_choices(labels),
            value=list(first.channels),
            sizing_mode="stretch_width",
            max_items=64,
        )
        self._picker.param.watch(lambda e: setattr(controller, "channels", [int(c) for c in e.new]), "value")
        self._watcher = controller.param.watch(self._on_shared, ["time_window", "channels"])

    def _channels(self) -> list[int] | None:
        return list(self._controller.channels) or None

    def _on_shared(self, *_events) -> None:
        window = as_window(self._controller.time_window or self._requested[0])
        channels = self._channels()
        if (window, tuple(channels or self._requested[1])) == self._requested:
            return
        self._pane.loading = True

        def show(trace: TraceWindow) -> None:
            self._pane.loading = False
            self._requested = (window, tuple(trace.channels))
            self._status.object = self._describe(trace)
            self._plot.show(trace, window)

        def failed(exc: BaseException) -> None:
            self._pane.loading = False
            self._status.object = f"This window could not be read: {escape_text(exc)}"

        self._work.run(
            "edf-window",
            lambda: self._edf.read_window(window[0], window[1], channels=channels, max_points=_POINTS),
            apply=show,
            failed=failed,
        )

    def _describe(self, trace: TraceWindow) -> str:
        return (
            f"Window **{trace.t_start:.3f} – {trace.t_stop:.3f} s** "
            f"of {self._range[0]:.3f} – {self._range[1]:.3f} s · "
            f"{len(trace.channels)} channel(s) · {trace.bytes_read / 1e6:.2f} MB read"
            + (" · min/max decimated" if trace.decimated else "")
        )

    def _shift(self, fraction: float, zoom: float = 1.0) -> None:
        t0, t1 = self._requested[0]
        centre, half = (t0 + t1) / 2 + fraction * (t1 - t0), (t1 - t0) / 2 * zoom
        centre = min(max(centre, self._range[0]), self._range[1])
        self._controller.set_window(centre - half, centre + half)

    def close(self) -> None:
        self._controller.param.unwatch(self._watcher)
        self._edf.close()

    def _facts(self) -> str:
        header = self._edf.header
        return (
            f"**{escape_text(self._edf.label)}** · {escape_text(header.format)} · "
            f"{len(self._edf.signals)} signals · "
            f"{header.n_records:,} records of {header.record_duration:g} s · "
            f"start {escape_text(header.start or 'unknown')}"
        )

    def _buttons(self) -> list[pn.widgets.Button]:
        """Page back and forward, zoom in and out."""
        buttons = []
        for name, handler in (
            ("◀◀", lambda _: self._shift(-1.0)),
            ("◀", lambda _: self._shift(-0.25)),
            ("Zoom in", lambda _: self._shift(0.0, 0.5)),
            ("Zoom out", lambda _: self._shift(0.0, 2.0)),
            ("▶", lambda _: self._shift(0.25)),
            ("▶▶", lambda _: self._shift(1.0)),
        ):
            button = pn.widgets.Button(name=name, width=80 if len(name) > 2 else 45)
            button.on_click(handler)
            buttons.append(button)
        return buttons

    def _channel_table(self) -> pn.widgets.Tabulator:
        channels = pd.DataFrame(
            [
                {
                    "channel": i,
                    "label": c.label,
                    "unit": c.unit,
                    "rate (Hz)": c.sampling_rate,
                    "physical range": f"{c.physical_min:g} – {c.physical_max:g}",
                }
                for i, c in enumerate(self._edf.signals)
            ]
        )
        return pn.widgets.Tabulator(
            channels, show_index=False, disabled=True, height=240, sizing_mode="stretch_width"
        )

    def _annotations(self) -> pn.Column:
        """Annotations are read on request: remotely that is one read per data record."""
        annotations = pn.Column(
            pn.pane.Markdown("*Annotations load on request (one read per data record remotely).*"),
            sizing_mode="stretch_width",
        )
        load = pn.widgets.Button(name="Load annotations", width=150, visible=self._edf.has_annotations)

        def show_annotations(found) -> None:
            frame = pd.DataFrame(
                [{"onset (s)": a.onset, "duration (s)": a.duration, "text": a.text} for a in found]
            )
            annotations[:] = [
                pn.widgets.Tabulator(
                    frame,
                    show_index=False,
                    disabled=True,
                    height=240,
                    sizing_mode="stretch_width",
                    pagination="local",
                    page_size=50,
                )
            ]

        load.on_click(
            lambda _e: self._work.run("edf-annotations", self._edf.annotations, apply=show_annotations)
        )
        return pn.Column(load, annotations)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown(self._facts()),
            pn.Row(*self._buttons()),
            self._status,
            self._pane,
            self._picker,
            pn.Tabs(("Channels", self._channel_table()), ("Annotations", self._annotations())),
            sizing_mode="stretch_both",
        )
