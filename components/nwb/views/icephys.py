"""Intracellular sweeps: responses with their stimuli below, picked and grouped through the icephys tables.

Opened on a PatchClampSeries it shows that series' sweep; on the icephys tables (or their
group) the first sequential recording. Pick sweeps by name, or a whole group (a sequential
recording, a condition, a ``stimulus_type``, a sweep number, ...); group colours the sweeps by
that key, and "Average" shows each group's mean ± SD. The selection lives in the file's
controller (``sweeps``, ``sweep_group``, ``average``), so it is part of the page's address.
Reads run off the session's thread; a newer selection cancels the read it replaces.
"""

from __future__ import annotations

import threading
from typing import Any

import panel as pn

from components.nwb.views._icephys_plot import draw_averages, draw_sweeps, layout_height, sweep_rows
from components.nwb.views.base import NwbView
from components.safe_text import escape_text, safe_choices, safe_table, text_alert
from engines.errors import NeurodeckError
from engines.nwb.extract.icephys import (
    SweepData,
    SweepList,
    average_sweeps,
    fitting,
    list_sweeps,
    read_sweeps,
)
from engines.nwb.index import NwbIndex

__all__ = ["IcephysView"]

_TABLE_TYPES = (
    "IntracellularRecordingsTable",
    "SimultaneousRecordingsTable",
    "SequentialRecordingsTable",
    "RepetitionsTable",
    "ExperimentalConditionsTable",
    "SweepTable",
)
_ICEPHYS_GROUP = "/general/intracellular_ephys"
_DEFAULT_LEVELS = ("sequential", "repetition", "sweep_number")
_MAX_DEFAULT = 50


def _key_label(key: str) -> str:
    return key.replace(".", " · ") if key else "(each sweep)"


class IcephysView(NwbView):
    """Sweeps of a patch-clamp recording, by the IntracellularRecordingsTable and the tables above it."""

    id = "icephys"
    title = "Sweeps"
    neurodata_types = ("PatchClampSeries", *_TABLE_TYPES)

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        if super().applies(index, path):
            return True
        return index.get(path).path == _ICEPHYS_GROUP and any(
            index.find_by_type(t) for t in cls.neurodata_types
        )

    def __init__(self, nwbfile, path, jobs=None, controller=None, work=None, **params) -> None:
        super().__init__(nwbfile, path, jobs, controller, work, **params)
        self.listing: SweepList = list_sweeps(nwbfile)
        self._cancel = threading.Event()
        self.on_dispose(lambda: self._cancel.set())
        self._syncing = False
        self._problems = pn.Column(sizing_mode="stretch_width")
        self._status = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._plot = pn.pane.HoloViews(sizing_mode="stretch_width", height=540)
        self._table = pn.Column(sizing_mode="stretch_width")
        self._build_widgets()
        self.watch_controller(lambda *_e: self._on_shared(), ["sweeps", "sweep_group", "average"])
        chosen = self._chosen()
        self._sync_widgets(chosen)
        try:
            first = self._compute(chosen, self._cancel)
        except NeurodeckError as exc:  # e.g. a linked selection too large: say so, keep the pickers
            self._failed(exc)
        else:
            self._show(chosen, first)

    # --- widgets ----------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        listing = self.listing
        self._picker = pn.widgets.MultiChoice(
            label="Sweeps",
            options=safe_choices({s.label: s.id for s in listing.sweeps}),
            sizing_mode="stretch_width",
            max_items=500,
        )
        self._group = pn.widgets.Select(
            label="Group by",
            options={_key_label(k): k for k in ["", *listing.group_keys]},
            width=230,
        )
        self._whole = pn.widgets.Select(label="Pick a whole group", options=[], width=230)
        self._average = pn.widgets.Toggle(
            label="Average each group (mean ± SD)", width=240, margin=(24, 10, 0, 10)
        )
        self._picker.param.watch(lambda e: self._write(sweeps=[int(v) for v in e.new]), "value")
        self._group.param.watch(lambda e: self._write(sweep_group=e.new), "value")
        self._average.param.watch(lambda e: self._write(average=bool(e.new)), "value")
        self._whole.param.watch(self._on_whole, "value")

    def _write(self, **values: Any) -> None:
        if not self._syncing:
            self.controller.param.update(**values)

    def _on_whole(self, event) -> None:
        if self._syncing or not event.new:
            return
        self.controller.sweeps = self._members(self._group.value, event.new)

    def _members(self, key: str, value: str) -> list[int]:
        return [s.id for s in self.listing.sweeps if self.listing.group_of(key, s) == value]

    def _group_values(self, key: str) -> list[str]:
        return list(dict.fromkeys(self.listing.group_of(key, s) for s in self.listing.sweeps)) if key else []

    def _sync_widgets(self, chosen: dict[str, Any]) -> None:
        """Show the chosen selection in the widgets without writing it back."""
        self._syncing = True
        try:
            self._picker.value = list(chosen["ids"])
            self._group.value = chosen["key"]
            values = self._group_values(chosen["key"])
            self._whole.options = ["", *values]
            self._whole.value = next(
                (v for v in values if self._members(chosen["key"], v) == chosen["ids"]), ""
            )
            self._whole.disabled = not chosen["key"]
            self._average.value = chosen["average"]
        finally:
            self._syncing = False

    # --- what to show -----------------------------------------------------------------------------
    def _default_ids(self) -> list[int]:
        """The object's sweeps (or all), narrowed to the first one's sequential recording (repetition,
        sweep number), as many as one read takes."""
        listing = self.listing
        chosen = listing.pick(listing.of_series(self.info.path)) or listing.sweeps
        for key in _DEFAULT_LEVELS:
            if key in listing.group_keys:
                first = listing.group_of(key, chosen[0])
                chosen = [s for s in chosen if listing.group_of(key, s) == first]
                break
        return [s.id for s in fitting(self.nwbfile, chosen[:_MAX_DEFAULT])]

    def _chosen(self) -> dict[str, Any]:
        """The controller's selection, checked against the file; what it cannot honour is said, not hidden."""
        controller, problems = self.controller, []
        ids = list(controller.sweeps)
        known = {s.id for s in self.listing.sweeps}
        unknown = [i for i in ids if i not in known]
        if unknown:
            problems.append(
                f"This file has no sweep {', '.join(map(str, unknown[:5]))}; its sweeps are "
                f"{min(known)}–{max(known)}. Showing the default sweeps instead."
            )
            ids = []
        key = controller.sweep_group
        if key and key not in self.listing.group_keys:
            problems.append(
                f"Sweeps cannot be grouped by '{key}': this file's groups are "
                f"{', '.join(self.listing.group_keys)}. Showing each sweep on its own."
            )
            key = ""
        self._problems[:] = [
            text_alert(p, alert_type="warning", sizing_mode="stretch_width", css_classes=["nd-notice"])
            for p in problems
        ]
        return {"ids": ids or self._default_ids(), "key": key, "average": bool(controller.average)}

    def _compute(self, chosen: dict[str, Any], cancel: threading.Event) -> tuple[list[SweepData], Any]:
        data = read_sweeps(self.nwbfile, self.listing.pick(chosen["ids"]), cancel)
        if chosen["average"]:
            return data, draw_averages(average_sweeps(self.listing, data, chosen["key"]))
        return data, draw_sweeps(self.listing, data, chosen["key"])

    def _on_shared(self) -> None:
        chosen = self._chosen()
        self._sync_widgets(chosen)
        self._cancel.set()
        cancel = self._cancel = threading.Event()
        self._plot.loading = True
        self.work.run(
            self.work_key("sweeps"),
            lambda: self._compute(chosen, cancel),
            apply=lambda result: self._show(chosen, result),
            failed=self._failed,
        )

    def _failed(self, exc: BaseException) -> None:
        self._plot.loading = False
        self._status.object = ""
        self._problems.append(
            text_alert(
                f"These sweeps could not be shown: {exc}", alert_type="danger", sizing_mode="stretch_width"
            )
        )

    def _show(self, chosen: dict[str, Any], result: tuple[list[SweepData], Any]) -> None:
        data, layout = result
        self._plot.loading = False
        self._plot.param.update(object=layout, height=layout_height(layout))
        key, source = chosen["key"], self.listing.source
        where = "the icephys tables" if source == "table" else "PatchClampSeries (no icephys tables)"
        groups = len({self.listing.group_of(key, d.sweep) for d in data})
        self._status.object = escape_text(
            f"{len(data)} of {len(self.listing.sweeps)} sweeps, from {where}"
            + (f" · grouped by {_key_label(key)} ({groups} groups)" if key else "")
            + (" · mean ± SD per group" if chosen["average"] else "")
        )
        self._table[:] = [
            safe_table(
                sweep_rows(self.listing, data, key),
                show_index=False,
                disabled=True,
                sizing_mode="stretch_width",
                max_height=260,
            )
        ]

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Row(self._group, self._whole, self._average, sizing_mode="stretch_width")
        return pn.Column(
            self._problems,
            self._picker,
            controls,
            self._status,
            self._plot,
            self._table,
            sizing_mode="stretch_both",
        )
