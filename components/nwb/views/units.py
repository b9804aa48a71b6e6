"""Units raster: smooth at every zoom for thousands of units and millions of spikes.

Zoomed out, it draws the spike-density image from the precomputed pyramid level that
matches the zoom; zoomed in far enough, individual spikes (read for the visible window
only). Until the pyramid job is done, it datashades the raw spikes of the window instead.
Units can be ordered by id, firing rate, depth, spike count, or Rastermap (another job), and
narrowed to picked units. The time window is the file's shared one (the controller's).
"""

from __future__ import annotations

from pathlib import Path

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from components.nwb.views.base import NwbView
from components.safe_text import escape_text, safe_table
from components.windowed_plot import WindowedPlot, as_window
from engines.nwb.extract import count_spikes, read_spike_window, read_units_table
from engines.nwb.product_jobs import RASTERMAP, SPIKE_DENSITY
from engines.nwb.products import SpikeDensityPyramid
from engines.nwb.products.rastermap_order import RastermapOrder

__all__ = ["UnitsRasterView", "warm_up_raster"]

DRAWABLE_SPIKES = 20_000
"""Above this many spikes in view, raw spikes are rasterized server-side with datashader."""
MAX_SPIKES_READ = 2_000_000
"""Without a pyramid, at most this many spikes are read for one picture (16 MB); more: zoom in or wait."""

IMAGE_WIDTH_PX = 1200
TIME = hv.Dimension("t", label="time (s)")
UNIT = hv.Dimension("row", label="unit")
SEGMENT_DIMS = [TIME, UNIT, "t_end", "row_end"]
_SORTS = {
    "unit id": None,
    "firing rate": "rate_hz",
    "depth": "depth",
    "spike count": "n_spikes",
    "Rastermap": None,
}


class UnitsRasterView(NwbView):
    id = "raster"
    title = "Raster"
    neurodata_types = ("Units",)
    time_based = True

    sort_by: param.Selector[str] = param.Selector(default="unit id", objects=list(_SORTS))

    @classmethod
    def applies(cls, index, path: str) -> bool:
        return super().applies(index, path) and f"{index.get(path).path}/spike_times" in index

    def __init__(self, nwbfile, path, jobs=None, controller=None, work=None, **params) -> None:
        super().__init__(nwbfile, path, jobs, controller, work, **params)
        self._units = read_units_table(nwbfile, path)
        frame = self._units.frame
        self.param.sort_by.objects = [
            name
            for name, column in _SORTS.items()
            if (column is None or column in frame.columns) and (name != "Rastermap" or jobs is not None)
        ]
        self._ids = [int(u) for u in frame["unit"]]
        self._pyramid: SpikeDensityPyramid | None = None
        self._rastermap: np.ndarray | None = None
        self._rastermap_watching = False
        self._status = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._jobs = pn.Column(sizing_mode="stretch_width")
        if jobs is not None:
            self._jobs.append(self.watch_job(SPIKE_DENSITY, self._pyramid_ready, "Spike density pyramid"))
        self._requested = self._window()
        first, self._status.object = self._compose(*self._requested)
        self._plot = WindowedPlot(self._draw, first, self._requested, on_zoom=self.controller.set_window)
        self._pane = pn.pane.HoloViews(self._plot.dmap, sizing_mode="stretch_width", height=480)
        self._unit_picker = pn.widgets.MultiChoice(
            label="Show units (empty: all)",
            options={str(u): u for u in self._ids},
            value=[u for u in self.controller.units if u in set(self._ids)],
            sizing_mode="stretch_width",
        )
        self._unit_picker.param.watch(
            lambda e: setattr(self.controller, "units", [int(u) for u in e.new]), "value"
        )
        self.watch_controller(self._on_shared, ["time_window", "units"])

    def _whole(self) -> tuple[float, float]:
        return self._units.t_start, max(self._units.t_stop, self._units.t_start + 1e-3)

    def _window(self) -> tuple[float, float]:
        return as_window(self.controller.time_window) if self.controller.time_window else self._whole()

    # --- products ------------------------------------------------------------------------------
    def _pyramid_ready(self, folder: Path) -> None:
        self._pyramid = SpikeDensityPyramid.open(folder)
        if hasattr(self, "_plot"):
            self._redraw()

    def _rastermap_ready(self, folder: Path) -> None:
        self._rastermap = RastermapOrder.open(folder).order
        if self.sort_by == "Rastermap":
            self._redraw()

    @param.depends("sort_by", watch=True)
    def _on_sort(self) -> None:
        if self.sort_by == "Rastermap" and not self._rastermap_watching:
            self._rastermap_watching = True
            self._jobs.append(self.watch_job(RASTERMAP, self._rastermap_ready, "Rastermap ordering"))
        self._redraw()

    # --- requests ------------------------------------------------------------------------------
    def _on_shared(self, *_events) -> None:
        if self._window() != self._requested or _units_changed(_events):
            self._redraw()

    def _redraw(self) -> None:
        """Compose the picture for the shared window off the session's thread; the newest request wins."""
        self._requested = window = self._window()
        self._pane.loading = True

        def show(picture: tuple[hv.Overlay, str]) -> None:
            self._pane.loading = False
            self._status.object = picture[1]
            self._plot.show(picture[0], window)

        def failed(exc: BaseException) -> None:
            self._pane.loading = False
            self._status.object = f"This window could not be read: {escape_text(exc)}"

        self.work.run(self.work_key("window"), lambda: self._compose(*window), apply=show, failed=failed)

    def _rows(self) -> np.ndarray:
        """Unit rows from top to bottom of the raster: the sort order, narrowed to the picked units."""
        frame = self._units.frame
        if self.sort_by == "Rastermap":
            order = self._rastermap if self._rastermap is not None else np.arange(len(frame))
        elif _SORTS[self.sort_by] is None:
            order = np.arange(len(frame))
        else:
            values = pd.to_numeric(frame[_SORTS[self.sort_by]], errors="coerce").fillna(-np.inf).to_numpy()
            order = np.argsort(values, kind="stable")[::-1]
        picked = {self._ids.index(u) for u in self.controller.units if u in self._ids}
        return (
            np.asarray([row for row in order if row in picked], dtype=np.int64)
            if picked
            else np.asarray(order)
        )

    # --- drawing -------------------------------------------------------------------------------
    def _compose(self, t0: float, t1: float) -> tuple[hv.Overlay, str]:
        """Reads (pyramid or spikes of the window) and builds the picture and its status line, off the
        session's thread."""
        rows = self._rows()
        shown = "all units" if not self.controller.units else f"{len(rows)} picked unit(s)"
        shown += f" sorted by {escape_text(self.sort_by)}"
        pyramid = self._pyramid
        if pyramid is not None and not pyramid.should_show_spikes(t0, t1, max_spikes=DRAWABLE_SPIKES):
            return self._compose_density(pyramid, t0, t1, rows, shown)
        return self._compose_spikes(t0, t1, rows, shown)

    def _compose_density(
        self, pyramid: SpikeDensityPyramid, t0: float, t1: float, rows: np.ndarray, shown: str
    ) -> tuple[hv.Overlay, str]:
        """A zoomed-out window: the pyramid's spike density, never the spikes themselves."""
        n_rows = max(len(rows), 1)
        density = pyramid.query(t0, t1, IMAGE_WIDTH_PX, units=rows)
        image = hv.Image(
            (
                0.5 * (density.t_edges[:-1] + density.t_edges[1:]),
                np.arange(n_rows) + 0.5,
                density.counts / density.bin_s / density.bins_per_column,
            ),
            kdims=[TIME, UNIT],
            vdims="rate (Hz)",
        )
        column_s = density.bin_s * density.bins_per_column
        kind = f"density from pyramid level {density.level_used} ({column_s:g} s bins)"
        status = f"{t0:.2f} – {t1:.2f} s · {pyramid.spikes_in_view(t0, t1):,} spikes · {kind} · {shown}"
        return self._overlay(
            image.opts(cmap="fire", colorbar=True),
            self._no_segments(),
            t0,
            t1,
            n_rows,
            self._row_labels(rows),
        ), status

    def _compose_spikes(self, t0: float, t1: float, rows: np.ndarray, shown: str) -> tuple[hv.Overlay, str]:
        """A window read spike by spike: drawn one by one, datashaded when many, refused when too many."""
        n_rows = max(len(rows), 1)
        in_view = count_spikes(self.nwbfile, self.path, t0, t1, units=rows.tolist()).total
        if in_view > MAX_SPIKES_READ:  # never a truncated spike set: say so instead
            status = (
                f"{t0:.2f} – {t1:.2f} s · {in_view:,} spikes: too many to draw one by one; zoom in, "
                "or wait for the spike-density pyramid (above) to draw them all as density"
            )
            return self._overlay(self._no_image(t0, t1), self._no_segments(), t0, t1, n_rows), status
        window = read_spike_window(
            self.nwbfile, self.path, t_start=t0, t_stop=t1, units=rows.tolist(), max_spikes=max(in_view, 1)
        )
        position = np.full(len(self._ids), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        y = position[window.unit_rows] if len(window.unit_rows) else np.array([], dtype=np.int64)
        count = len(window.times)
        kind = "datashaded spikes" if count > DRAWABLE_SPIKES else "individual spikes"
        status = f"{t0:.2f} – {t1:.2f} s · {count:,} spikes · {kind} · {shown}"
        if count > DRAWABLE_SPIKES:
            points = pd.DataFrame({"t": window.times, "row": y.astype(float) + 0.5})
            canvas = ds.Canvas(
                plot_width=IMAGE_WIDTH_PX, plot_height=min(n_rows, 600), x_range=(t0, t1), y_range=(0, n_rows)
            )
            seconds_per_pixel = (t1 - t0) / IMAGE_WIDTH_PX  # the same rate scale as the pyramid's density
            counts = canvas.points(points, "t", "row", agg=ds.count()).astype(float) / seconds_per_pixel
            image = hv.Image(counts, kdims=[TIME, UNIT], vdims="rate (Hz)").opts(cmap="fire", colorbar=True)
            return self._overlay(image, self._no_segments(), t0, t1, n_rows, self._row_labels(rows)), status
        segments = hv.Segments((window.times, y + 0.1, window.times, y + 0.9), kdims=SEGMENT_DIMS).opts(
            color="black", line_width=1
        )
        return self._overlay(self._no_image(t0, t1), segments, t0, t1, n_rows, self._row_labels(rows)), status

    @staticmethod
    def _draw(overlay: hv.Overlay, window: tuple[float, float]) -> hv.Overlay:
        return overlay.opts(hv.opts.Overlay(xlim=tuple(window)))

    @staticmethod
    def _no_segments() -> hv.Segments:
        return hv.Segments([], kdims=SEGMENT_DIMS)

    @staticmethod
    def _no_image(t0: float, t1: float) -> hv.Image:
        return hv.Image((np.linspace(t0, t1, 2), np.arange(2), np.full((2, 2), np.nan)), kdims=[TIME, UNIT])

    @staticmethod
    def _overlay(
        image: hv.Image,
        segments: hv.Segments,
        t0: float,
        t1: float,
        n_rows: int,
        labels: list[tuple[float, str]] | None = None,
    ) -> hv.Overlay:
        return (image * segments).opts(
            hv.opts.Overlay(
                responsive=True,
                height=460,
                active_tools=["wheel_zoom"],
                padding=0,
                ylim=(0, n_rows),
                xlim=(t0, t1),
                framewise=True,
                yticks=labels or None,
                ylabel="unit",
            )
        )

    def _row_labels(self, rows: np.ndarray) -> list[tuple[float, str]] | None:
        """Unit ids beside their rows when they fit (50 rows or fewer)."""
        if len(rows) > 50:
            return None
        return [(position + 0.5, str(self._ids[row])) for position, row in enumerate(rows)]

    def __panel__(self) -> pn.viewable.Viewable:
        table = safe_table(
            self._units.frame,
            show_index=False,
            disabled=True,
            sizing_mode="stretch_width",
            max_height=300,
            pagination="local",
            page_size=50,
        )
        return pn.Column(
            pn.Row(
                pn.widgets.Select.from_param(self.param.sort_by, label="Sort units by", width=200),
                self._status,
            ),
            self._jobs,
            self._pane,
            self._unit_picker,
            pn.pane.Markdown(f"**{len(self._units.frame)} units**"),
            table,
            sizing_mode="stretch_both",
        )


def _units_changed(events) -> bool:
    return any(getattr(event, "name", "") == "units" for event in events)


def warm_up_raster() -> None:
    """Compile datashader's point aggregation (about 1.5 s of numba JIT) before the first raster needs it."""
    points = pd.DataFrame({"t": np.linspace(0.0, 1.0, 100), "row": np.linspace(0.0, 1.0, 100)})
    ds.Canvas(plot_width=10, plot_height=10, x_range=(0, 1), y_range=(0, 1)).points(
        points, "t", "row", agg=ds.count()
    )
