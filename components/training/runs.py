"""The run list: every run with its state and progress, filters, order, grouping, the open run and ticked
runs.

Fed with ``RunRegistry.runs_frame()`` (``update``: from the workspace's run index); a click on a
row opens that run (``selected``), ticks choose the runs to compare (``compare``). Filtering and
ordering are vectorised (``select_runs``: about a millisecond for 1,000 runs) and the table is
paged on the server, so the browser receives one page of rows, however many runs there are.
Interrupted runs (their process is gone, say after a server restart) are listed as such.
"""

from __future__ import annotations

import html
import time
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from engines.training.config import MODEL_SIZES
from engines.training.run_index import SORTS, select_runs
from engines.training.runs import ACTIVE_STATES, RunState

__all__ = ["RunList", "model_sizes", "list_rows", "PAGE_SIZE"]

PAGE_SIZE = 20

_ACTIVE = "active (starting, running, paused)"
_GROUPS = {"no grouping": None, "state": "state", "data": "data", "model size": "size"}
_COLUMNS = [
    "open",
    "name",
    "owner",
    "state",
    "progress",
    "data",
    "size",
    "best val loss",
    "started",
    "run_id",
]


def model_sizes(runs: pd.DataFrame) -> pd.Series:
    """The preset each run's model matches ("tiny", "small", ...; the first that matches) or "custom"."""
    sizes = pd.Series("custom", index=runs.index, dtype=object)
    for name, preset in reversed(MODEL_SIZES.items()):  # later writes win: the first preset listed
        matches = pd.Series(True, index=runs.index)
        for key, value in preset.items():
            column = f"model.{key}"
            matches &= runs[column].eq(value) if column in runs.columns else False
        sizes[matches] = name
    return sizes


def _started(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return time.strftime("%m-%d %H:%M", time.localtime(float(value)))


def list_rows(runs: pd.DataFrame, open_run: str = "") -> pd.DataFrame:
    """The table the list shows, one row per run of ``runs`` (a ``runs_frame``)."""
    if runs.empty:
        return pd.DataFrame(columns=_COLUMNS)
    best = (
        runs["final.best_val_loss"]
        if "final.best_val_loss" in runs.columns
        else pd.Series(np.nan, runs.index)
    )
    return pd.DataFrame(
        {
            "open": ["▶" if r == open_run else "" for r in runs["run_id"]],
            "name": runs["name"],
            "owner": runs.get("owner", pd.Series("", runs.index)).fillna(""),
            "state": runs["state"],
            "progress": [f"{int(s)} / {int(t)}" for s, t in zip(runs["step"], runs["total_steps"])],
            "data": runs.get("data.sources", pd.Series("", runs.index)).fillna(""),
            "size": model_sizes(runs),
            "best val loss": pd.to_numeric(best, errors="coerce").round(4),
            "started": [_started(v) for v in runs["started"]],
            "run_id": runs["run_id"],
        }
    ).reset_index(drop=True)


class RunList(pn.viewable.Viewer):
    """``selected``: the run opened by a click; ``compare``: ids of the ticked runs; ``visible``: the filtered
    runs."""

    selected = param.String(default="", doc="Id of the run opened from the list.")
    compare = param.List(default=[], item_type=str, doc="Ids of the runs ticked for comparison.")
    state: param.Selector[str] = param.Selector(
        default="all", objects=["all", _ACTIVE, *[s.value for s in RunState]]
    )
    text = param.String(default="", doc="Show runs whose name, id, data sources or owner contain this.")
    sort: param.Selector[str] = param.Selector(default="newest first", objects=list(SORTS), doc="Order.")
    group_by: param.Selector[str] = param.Selector(default="no grouping", objects=list(_GROUPS))
    visible = param.DataFrame(
        default=pd.DataFrame(), doc="The runs (runs_frame rows) the filters let through."
    )

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._runs = pd.DataFrame()
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(columns=_COLUMNS),
            show_index=False,
            disabled=True,
            selectable="checkbox",
            hidden_columns=["run_id", "data", "best val loss", "started"],
            sizing_mode="stretch_width",
            pagination="remote",
            page_size=PAGE_SIZE,
            layout="fit_data_stretch",
            css_classes=["nd-training-runs"],
            titles={"open": ""},
            widths={"open": 24},
        )
        self._table.on_click(self._clicked)
        self._table.param.watch(self._ticked, "selection")
        self._count = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._syncing = False

    def update(self, runs: pd.DataFrame) -> None:
        """New run rows (on the session's thread); the table changes only if something did."""
        self._runs = runs
        self._redraw()

    @param.depends("state", "text", "sort", "group_by", "selected", watch=True)
    def _redraw(self) -> None:
        runs = self._filtered()
        self.visible = runs
        rows = list_rows(runs, self.selected)
        group = _GROUPS[self.group_by]
        if group:  # Tabulator writes group headers as HTML: a data source named like markup must stay text
            rows[group] = rows[group].map(lambda value: html.escape(str(value)))
        self._syncing = True
        try:
            self._table.groupby = [group] if group else []
            if not rows.equals(self._table.value):  # rows moved: put the ticks back on the same runs
                self._table.value = rows
                ids = list(rows["run_id"])
                self._table.selection = [ids.index(r) for r in self.compare if r in ids]
        finally:
            self._syncing = False
        self._describe()

    @param.depends("compare", watch=True)
    def _describe(self) -> None:
        """The line above the table: how many runs pass the filters, and how many are ticked (the ticks the
        server holds: a tick shows here once it has arrived)."""
        total, ticked = len(self._runs), len(self.compare)
        self._count.object = f"{len(self.visible)} of {total} run{'s' if total != 1 else ''} · " + (
            f"{ticked} ticked to compare" if ticked else "click a run to open it, tick runs to compare them"
        )

    def _filtered(self) -> pd.DataFrame:
        if self.state == _ACTIVE:
            states: tuple[str, ...] = tuple(s.value for s in ACTIVE_STATES)
        else:
            states = () if self.state == "all" else (self.state,)
        return select_runs(self._runs, self.text, states, self.sort)

    def _clicked(self, event) -> None:
        if event.column == "_selection" or event.row is None or event.row >= len(self._table.value):
            return
        self.selected = str(self._table.value.iloc[event.row]["run_id"])

    def _ticked(self, event) -> None:
        if self._syncing:
            return
        ids = list(self._table.value["run_id"])
        shown = set(ids)
        kept = [r for r in self.compare if r not in shown]  # ticks of runs filtered out stay
        self.compare = kept + [ids[i] for i in event.new if i < len(ids)]

    def __panel__(self) -> pn.viewable.Viewable:
        filters = pn.Row(
            pn.widgets.Select.from_param(self.param.state, name="State", width=130),
            pn.widgets.Select.from_param(self.param.sort, name="Order", width=120),
            pn.widgets.Select.from_param(self.param.group_by, name="Group by", width=120),
            sizing_mode="stretch_width",
        )
        search = pn.widgets.TextInput.from_param(
            self.param.text, name="Name, data or owner contains", sizing_mode="stretch_width"
        )
        return pn.Column(filters, search, self._count, self._table, sizing_mode="stretch_width")
