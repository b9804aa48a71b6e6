"""Trial-aligned views: PSTH and trial raster for Units, trial-averaged traces for TimeSeries.

Pick the TimeIntervals table (trials), the column to align to (``start_time``, or any per-trial
time), a column that groups the trials (condition), the window around the event and the bin.
The choice lives in the file's controller, so it is part of the page's address and shared by
both views. Reads run off the session's thread.
"""

from __future__ import annotations

from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn

from components.nwb.views.base import NwbView
from components.nwb.views.events import EventsView
from components.nwb.views.traces import TracesView
from components.safe_text import escape_text
from engines.nwb.extract import (
    AlignedSpikes,
    AlignedTraces,
    align_spikes,
    align_traces,
    psth,
    read_alignment,
    table_columns,
)
from engines.nwb.index import NwbIndex

__all__ = ["PsthView", "TrialAverageView"]

_DEFAULTS = {"column": "start_time", "group": "", "pre": -0.5, "post": 1.0, "bin": 0.02}


def _tables(index: NwbIndex) -> list[str]:
    return [info.path for info in index.find_by_type("TimeIntervals")]


class _TrialControls:
    """The alignment form, reading from and writing to the controller's ``alignment``."""

    def __init__(self, view: NwbView, with_bin: bool) -> None:
        self._view = view
        tables = _tables(view.nwbfile.index)
        chosen = {**_DEFAULTS, "table": tables[0] if tables else "", **view.controller.alignment}
        self.table = pn.widgets.Select(name="Trials table", options=tables, value=chosen["table"], width=220)
        self.column = pn.widgets.Select(name="Align to", width=170)
        self.group = pn.widgets.Select(name="Group by", width=170)
        self.pre = pn.widgets.FloatInput(name="From (s)", value=float(chosen["pre"]), step=0.1, width=90)
        self.post = pn.widgets.FloatInput(name="To (s)", value=float(chosen["post"]), step=0.1, width=90)
        self.bin = pn.widgets.FloatInput(
            name="Bin (s)", value=float(chosen["bin"]), step=0.01, start=0.001, width=90, visible=with_bin
        )
        self._syncing = False
        self._fill_columns(chosen)
        self.table.param.watch(lambda _e: self._fill_columns({}), "value")
        for widget in (self.table, self.column, self.group, self.pre, self.post, self.bin):
            widget.param.watch(lambda _e: self._write(), "value")
        view.watch_controller(lambda _e: self._read(), ["alignment"])

    def _read(self) -> None:
        """The alignment changed elsewhere (a link, back/forward, the other trial view): show it."""
        wanted = {**_DEFAULTS, **self._view.controller.alignment}
        self._syncing = True
        try:
            if wanted.get("table") in self.table.options:
                self.table.value = wanted["table"]
            self._fill_columns(wanted)
            self.pre.value, self.post.value, self.bin.value = (
                float(wanted["pre"]),
                float(wanted["post"]),
                float(wanted["bin"]),
            )
        finally:
            self._syncing = False

    def _fill_columns(self, chosen: dict[str, Any]) -> None:
        columns = (
            ["start_time", "stop_time"]
            + [
                c
                for c in table_columns(self._view.nwbfile, self.table.value)
                if c not in ("start_time", "stop_time")
            ]
            if self.table.value
            else []
        )
        self.column.options = columns
        self.column.value = chosen.get("column") if chosen.get("column") in columns else "start_time"
        self.group.options = ["", *[c for c in columns if c not in ("start_time", "stop_time")]]
        self.group.value = chosen.get("group") if chosen.get("group") in self.group.options else ""

    def _write(self) -> None:
        if not self._syncing:
            self._view.controller.alignment = self.values()

    def values(self) -> dict[str, Any]:
        return {
            "table": self.table.value,
            "column": self.column.value,
            "group": self.group.value,
            "pre": self.pre.value,
            "post": self.post.value,
            "bin": self.bin.value,
        }

    def panel(self) -> pn.Row:
        return pn.Row(
            self.table, self.column, self.group, self.pre, self.post, self.bin, sizing_mode="stretch_width"
        )


class PsthView(NwbView):
    """Units aligned to trials: a PSTH per group over a trial raster (one row per trial, grouped)."""

    id = "psth"
    title = "Trials"
    neurodata_types = ("Units",)

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        return (
            super().applies(index, path)
            and f"{index.get(path).path}/spike_times" in index
            and bool(_tables(index))
        )

    def __init__(self, nwbfile, path, jobs=None, controller=None, work=None, **params) -> None:
        super().__init__(nwbfile, path, jobs, controller, work, **params)
        self._controls = _TrialControls(self, with_bin=True)
        self._status = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._plots = pn.Column(sizing_mode="stretch_width", min_height=500)
        self.watch_controller(lambda *_e: self._request(), ["alignment", "units"])
        self._show(self._compute(self._controls.values()))

    def _compute(self, values: dict[str, Any]) -> tuple[AlignedSpikes, pd.DataFrame]:
        alignment = read_alignment(self.nwbfile, values["table"], values["column"], values["group"] or None)
        aligned = align_spikes(
            self.nwbfile,
            self.path,
            alignment,
            (values["pre"], values["post"]),
            units=self.controller.units or None,
        )
        return aligned, psth(aligned, values["bin"])

    def _request(self) -> None:
        values = self._controls.values()
        self._plots.loading = True
        self.work.run(
            self.work_key("aligned"), lambda: self._compute(values), apply=self._show, failed=self._failed
        )

    def _failed(self, exc: BaseException) -> None:
        self._plots.loading = False
        self._status.object = f"These trials could not be aligned: {escape_text(exc)}"

    def _show(self, computed: tuple[AlignedSpikes, pd.DataFrame]) -> None:
        aligned, rates = computed
        self._plots.loading = False
        alignment = aligned.alignment
        units = f"{len(aligned.units)} unit(s)"
        self._status.object = escape_text(
            f"{alignment.n_trials} trials of {alignment.table} aligned to {alignment.column}"
            f"{' · grouped by ' + alignment.group_column if alignment.group_column else ''} · "
            f"{units} · {len(aligned.frame):,} spikes"
        )
        curves = hv.NdOverlay(
            {name: hv.Curve(block, "t", "rate_hz", label=str(name)) for name, block in rates.groupby("group")}
            if len(rates)
            else {},
            kdims="group",
        )
        curves = curves.opts(
            hv.opts.Curve(line_width=2, tools=["hover"]),
            hv.opts.NdOverlay(
                responsive=True,
                height=240,
                xlabel="time from event (s)",
                ylabel="rate (Hz per unit)",
                legend_position="right",
                title="",
            ),
        )
        order = {trial: row for row, trial in enumerate(np.argsort(alignment.groups, kind="stable"))}
        frame = aligned.frame.assign(row=aligned.frame["trial"].map(order))
        raster = hv.Scatter(frame, "t", ["row", "trial", "unit"]).opts(
            marker="dash",
            angle=90,
            size=6,
            color="black",
            responsive=True,
            height=320,
            ylabel="trial (grouped)",
            xlabel="time from event (s)",
            tools=["hover"],
            invert_yaxis=True,
        )
        zero = hv.VLine(0).opts(color="#d62728", line_dash="dashed")
        self._plots[:] = [
            pn.pane.HoloViews(curves * zero, sizing_mode="stretch_width", height=250),
            pn.pane.HoloViews(raster * zero, sizing_mode="stretch_width", height=330),
        ]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._controls.panel(), self._status, self._plots, sizing_mode="stretch_both")


class TrialAverageView(NwbView):
    """A time series averaged over trials (mean ± SEM per group) around each trial's event."""

    id = "trial-average"
    title = "Trial average"
    neurodata_types = ("TimeSeries",)

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        """Continuous series only: sparse event series (TTL codes) have no samples to average inside a
        trial."""
        return (
            TracesView.applies(index, path) and not EventsView.applies(index, path) and bool(_tables(index))
        )

    def __init__(self, nwbfile, path, jobs=None, controller=None, work=None, **params) -> None:
        super().__init__(nwbfile, path, jobs, controller, work, **params)
        self._controls = _TrialControls(self, with_bin=False)
        self._status = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._plot = pn.pane.HoloViews(sizing_mode="stretch_width", height=380)
        self.watch_controller(lambda *_e: self._request(), ["alignment", "channels"])
        self._show(self._compute(self._controls.values()))

    def _compute(self, values: dict[str, Any]) -> AlignedTraces:
        alignment = read_alignment(self.nwbfile, values["table"], values["column"], values["group"] or None)
        channels = self.controller.channels[:8] or [0]
        return align_traces(
            self.nwbfile, self.path, alignment, (values["pre"], values["post"]), channels=channels
        )

    def _request(self) -> None:
        values = self._controls.values()
        self._plot.loading = True
        self.work.run(
            self.work_key("aligned"), lambda: self._compute(values), apply=self._show, failed=self._failed
        )

    def _failed(self, exc: BaseException) -> None:
        self._plot.loading = False
        self._status.object = f"These trials could not be averaged: {escape_text(exc)}"

    def _show(self, traces: AlignedTraces) -> None:
        self._plot.loading = False
        alignment = traces.alignment
        layers = []
        for name, (mean, sem) in traces.mean_by_group().items():
            for column, label in enumerate(traces.channel_labels):
                tag = f"{name} · {label}" if len(traces.channel_labels) > 1 else str(name)
                layers.append(
                    hv.Spread(
                        (traces.t, mean[:, column], sem[:, column]),
                        "time from event (s)",
                        ["value", "sem"],
                        label=tag,
                    ).opts(alpha=0.25)
                )
                layers.append(
                    hv.Curve((traces.t, mean[:, column]), "time from event (s)", "value", label=tag)
                )
        self._status.object = escape_text(
            f"{alignment.n_trials} trials of {alignment.table} aligned to {alignment.column}"
            f"{' · grouped by ' + alignment.group_column if alignment.group_column else ''} · "
            f"mean ± SEM of {', '.join(traces.channel_labels)}"
        )
        if not np.isfinite(traces.values).any():
            self._status.object += (
                " · **no samples inside the trials' windows**: widen the window, or check that the "
                "series covers the trials' times"
            )
        overlay = (
            hv.Overlay(layers) * hv.VLine(0).opts(color="#d62728", line_dash="dashed")
            if layers
            else hv.Overlay()
        )
        self._plot.object = overlay.opts(
            hv.opts.Overlay(
                responsive=True,
                height=360,
                legend_position="right",
                ylabel=traces.unit if traces.unit not in ("", "NA") else "value",
                title="",
            )
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._controls.panel(), self._status, self._plot, sizing_mode="stretch_both")
