"""Storage view: how a data set is stored, what reading the visible window costs, and the cure.

Layout, chunk shape and filters, a drawing of the chunk grid with the visible window
(``NwbFileController.time_window``) over it, the requests and bytes the window costs as the
reader fetches it, and a warning in numbers when the chunking makes short reads
pathological. "Make a rechunked copy" starts the ``rechunk`` job; once its copy is
published every read of the data set uses it, and the view says so. Reads run through the
session's ``BackgroundWork``; everything from the file is escaped.
"""

from __future__ import annotations

import holoviews as hv
import numpy as np
import panel as pn

from components.job_watcher import JobWatcher
from components.nwb.views.base import NwbView
from components.safe_text import escape_text
from engines.nwb.copies import RECHUNK, copy_inputs
from engines.nwb.index import NwbIndex
from engines.nwb.storage import StorageReport, WindowCost, size_text, storage_report

__all__ = ["StorageView"]

_GRID_ROWS = 12
_GRID_COLUMNS = 200
"""The drawing shows at most this many chunk rows around the window and chunk columns (then one line in k)."""


class StorageView(NwbView):
    id = "storage"
    title = "Storage"

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        """Every data set with a shape, and groups (TimeSeries) through their ``data``."""
        info = index.objects.get(path)
        if info is not None and info.kind == "group":
            info = index.objects.get(path.rstrip("/") + "/data")
        return info is not None and info.kind == "dataset" and bool(info.shape)

    def __init__(self, nwbfile, path, jobs=None, controller=None, work=None, **params) -> None:
        super().__init__(nwbfile, path, jobs, controller, work, **params)
        self._facts = pn.pane.Markdown("Reading the data set's header…", sizing_mode="stretch_width")
        self._warning = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")
        self._cost = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._grid = pn.Column(sizing_mode="stretch_width")
        """The chunk grid's drawing: a new plot per report (the copy's grid has other lines and ranges)."""
        self._button = pn.widgets.Button(label="Make a rechunked copy", button_type="primary", visible=False)
        self._button.on_click(self._make_copy)
        self._job = pn.Column(sizing_mode="stretch_width")
        self._data_path = ""
        self.watcher: JobWatcher | None = None
        """The rechunk job's status line, once the button was pressed."""
        self._refresh()
        self.watch_controller(lambda _event: self._refresh(), ["time_window"])

    def _refresh(self) -> None:
        window = self.controller.time_window
        self.work.run(
            self.work_key("report"),
            lambda: storage_report(self.nwbfile, self.path, (window[0], window[1]) if window else None),
            apply=self._show,
            failed=self._failed,
        )

    def _failed(self, exc: BaseException) -> None:
        self._facts.object = f"The storage of this data set could not be read: {escape_text(exc)}"

    def _show(self, report: StorageReport) -> None:
        facts = report.facts
        self._data_path = facts.path
        self._facts.object = _facts_text(report)
        self._cost.object = _cost_text(report.window, report.window_label, facts.remote)
        self._warning.object = escape_text(report.warning or "")
        self._warning.visible = report.warning is not None
        self._grid[:] = (
            [pn.pane.HoloViews(_grid_drawing(report), sizing_mode="stretch_width", height=360)]
            if facts.chunks
            else []
        )
        self._button.visible = (
            self.jobs is not None and facts.copy_chunks is None and facts.dtype[1:2] in ("i", "u", "f", "b")
        )

    def _make_copy(self, _event) -> None:
        if self.jobs is None or not self._data_path:  # the button shows only after a report, with jobs
            return
        self._button.visible = False
        watcher = JobWatcher(
            self.jobs,
            RECHUNK,
            copy_inputs(self.nwbfile, self._data_path),
            lambda _folder: self._refresh(),
            "Rechunked copy",
        )
        self.on_dispose(watcher.stop)
        self.watcher = watcher
        self._job[:] = [watcher]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self._facts,
            self._warning,
            self._cost,
            self._grid,
            self._button,
            self._job,
            sizing_mode="stretch_width",
        )


def _facts_text(report: StorageReport) -> str:
    facts = report.facts
    shape = " × ".join(f"{n:,}" for n in facts.shape) or "scalar"
    lines = [
        f"**{escape_text(facts.path)}** · {shape} · {escape_text(facts.dtype)}",
        "",
        f"- Layout: **{escape_text(facts.layout)}**",
    ]
    if facts.chunks:
        chunk = " × ".join(f"{n:,}" for n in facts.chunks)
        lines.append(
            f"- Chunk shape: **{chunk}** ({size_text(facts.chunk_bytes)} each, {facts.n_chunks:,} chunks)"
        )
    lines.append(f"- Compression and filters: {escape_text(', '.join(facts.filters)) or 'none'}")
    if facts.copy_chunks is not None:
        chunk = " × ".join(f"{n:,}" for n in facts.copy_chunks)
        lines.append(
            f"- **Reads use the rechunked copy** in the workspace: chunks {chunk} "
            f"({escape_text(facts.copy_compressor)})"
        )
    return "\n".join(lines)


def _cost_text(cost: WindowCost, label: str, remote: bool) -> str:
    rows = f"rows {cost.lo:,}–{cost.hi:,}"
    where = "from the rechunked copy on disk" if cost.from_copy else ("over HTTP" if remote else "from disk")
    text = (
        f"**Visible window** ({escape_text(label)}, {rows}, {cost.columns:,} columns): touches "
        f"{cost.chunks:,} chunk{'s' if cost.chunks != 1 else ''}; reads {size_text(cost.fetch_bytes)} "
        f"{where} in {cost.requests:,} request{'s' if cost.requests != 1 else ''} "
        f"for {size_text(cost.wanted_bytes)} of data."
    )
    if not cost.from_copy and cost.whole_chunk_bytes > cost.fetch_bytes:
        text += (
            f" A reader that fetches whole chunks (h5py) would download {size_text(cost.whole_chunk_bytes)}."
        )
    return text + "".join(f" ({escape_text(note)})" for note in cost.notes)


def _grid_drawing(report: StorageReport) -> hv.Overlay:
    """Chunk boundaries around the window (rows down, columns across), touched chunks shaded, the window
    outlined."""
    facts, cost = report.facts, report.window
    chunks = facts.copy_chunks or facts.chunks or (1,)
    rows, width = chunks[0], (chunks[1] if len(chunks) > 1 else 1)
    n_rows, n_columns = facts.shape[0], int(np.prod(facts.shape[1:])) if len(facts.shape) > 1 else 1
    first = max(cost.chunk_rows[0] - 1, 0)
    last = min(max(cost.chunk_rows[1] + 1, first + 1), first + _GRID_ROWS, -(-n_rows // rows))
    top, bottom = first * rows, min(last * rows, n_rows)
    step = max(1, -(-n_columns // width) // _GRID_COLUMNS)
    verticals = [(c, top, c, bottom) for c in range(0, n_columns + 1, width * step)]
    horizontals = [(0, r, n_columns, r) for r in range(top, bottom + 1, rows)]
    grid = hv.Segments(verticals + horizontals, ["x0", "y0", "x1", "y1"]).opts(color="#888", line_width=1)
    touched = [
        (c * width, r * rows, min((c + 1) * width, n_columns), min((r + 1) * rows, n_rows))
        for r in range(max(cost.chunk_rows[0], first), min(cost.chunk_rows[1], last))
        for c in range(cost.chunk_columns[0], cost.chunk_columns[1])
    ]
    shaded = hv.Rectangles(touched).opts(color="#f0a030", alpha=0.35, line_alpha=0)
    window = hv.Rectangles([(0, cost.lo, n_columns, max(cost.hi, cost.lo + 1))]).opts(
        fill_alpha=0, line_color="#d62728", line_width=3
    )
    return (grid * shaded * window).opts(
        hv.opts.Overlay(
            responsive=True,
            height=340,
            invert_yaxis=True,
            xlabel="column (channel)",
            ylabel="row (sample)",
            title="Chunk grid: touched chunks shaded, the visible window outlined in red",
        )
    )
