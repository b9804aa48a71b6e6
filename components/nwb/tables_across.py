"""Tables across files on the NWB page: one table path (``/units``, ``/intervals/trials``) of many files
as one table, with per-file progress, the files left out and why, paging, checked SQL and a chart.

Reading runs off the session's thread (``BackgroundWork``); progress arrives from the reading
threads through ``run_on_session_thread``; Stop cancels between files. Everything shown that
comes from a file (paths, column names, values, reasons) is text: Tabulator cells are text,
titles are escaped (``safe_titles``), messages go through ``text_alert``/``escape_text``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import hvplot.pandas  # noqa: F401  (registers .hvplot on pandas frames)
import pandas as pd
import panel as pn
import polars as pl

from components.background import BackgroundWork, run_on_session_thread
from components.paged_table import PagedTable
from components.safe_text import escape_text, safe_table, text_alert
from engines.errors import NeurodeckError
from engines.nwb.nwbfile import NwbFile
from engines.nwb.tables_across import OpenFiles, TableScan, collect, query_sql, scan_table
from engines.tables.limits import QueryLimits
from engines.tables.plots import build_plot_spec

__all__ = ["TablesAcross", "TABLE_NAME", "across_card"]

TABLE_NAME = "across"
"""The frame's name in SQL."""

DEFAULT_SQL = f"SELECT _nwb_path, count(*) AS rows FROM {TABLE_NAME} GROUP BY _nwb_path ORDER BY _nwb_path"


def _as_pandas(frame: pl.DataFrame) -> pd.DataFrame:
    """Rows for a Tabulator: list cells as short text ('[n] a, b, c …'), the rest as they are."""
    shown = {}
    for name, dtype in frame.schema.items():
        values = frame[name].to_list()
        if isinstance(dtype, (pl.List, pl.Array)):
            values = [_list_text(v) for v in values]
        shown[name] = values
    return pd.DataFrame(shown)


def _list_text(values: list[Any] | None) -> str:
    if values is None:
        return ""
    head = ", ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values[:3])
    return f"[{len(values)}] {head}{' …' if len(values) > 3 else ''}"


class TablesAcross(pn.viewable.Viewer):
    """The panel; ``read()`` (or a deep link through ``show``) reads ``table`` across ``files``."""

    def __init__(
        self,
        open_file: Callable[[str], NwbFile],
        list_files: Callable[[str], list[str]],
        work: BackgroundWork,
        limits: QueryLimits | None = None,
        max_rows: int = 10_000,
        on_read: Callable[[str, str], None] | None = None,
    ) -> None:
        super().__init__()
        self._open_file, self._list_files, self._work = open_file, list_files, work
        self._limits, self._max_rows, self.on_read = limits or QueryLimits(), max_rows, on_read
        self._doc = pn.state.curdoc
        self._files_open: OpenFiles | None = None
        self._cancel = threading.Event()
        self._states: dict[str, str] = {}
        self._states_lock = threading.Lock()
        self.frame: pl.DataFrame | None = None
        self.result: pl.DataFrame | None = None
        self.paged: PagedTable | None = None
        self._build_inputs()
        self._build_outputs()
        work.on_close(self._close_files)

    # --- layout ------------------------------------------------------------------------------
    def _build_inputs(self) -> None:
        self.table = pn.widgets.TextInput(label="Table path", value="/units", width=220)
        self.files = pn.widgets.TextAreaInput(
            label="Files: a folder, a dandiset (000123 or 000123@version), or paths/URLs one per line",
            height=70,
            sizing_mode="stretch_width",
        )
        self.lists = pn.widgets.Checkbox(label="Include list columns (spike times, …)", value=False)
        self.read_button = pn.widgets.Button(label="Read tables", color="primary", width=130)
        self.stop_button = pn.widgets.Button(label="Stop", width=80, disabled=True)
        self.read_button.on_click(lambda _e: self.read())
        self.stop_button.on_click(lambda _e: self._cancel.set())

    def _build_outputs(self) -> None:
        self.progress = pn.indicators.Progress(value=0, max=100, width=240, visible=False)
        self.status = pn.pane.Markdown("", margin=(0, 8))
        self.message = pn.Column(sizing_mode="stretch_width")
        self.file_states = safe_table(
            pd.DataFrame(columns=["file", "state"]),
            show_index=False,
            layout="fit_data_stretch",
            disabled=True,
            height=160,
            sizing_mode="stretch_width",
        )
        self.errors = safe_table(
            pd.DataFrame(columns=["file", "reason"]),
            show_index=False,
            layout="fit_data_stretch",
            disabled=True,
            height=140,
            sizing_mode="stretch_width",
        )
        self.rows = pn.Column(sizing_mode="stretch_width")
        self.sql = pn.widgets.TextAreaInput(
            label="SQL (table: across)", value=DEFAULT_SQL, height=70, sizing_mode="stretch_width"
        )
        self.sql_button = pn.widgets.Button(label="Run SQL", width=100, disabled=True)
        self.sql_button.on_click(lambda _e: self.run_sql())
        self.sql_result = pn.Column(sizing_mode="stretch_width")
        self.x = pn.widgets.Select(label="x", options=[], width=180)
        self.y = pn.widgets.Select(label="y", options=[], width=180)
        self.kind = pn.widgets.Select(label="chart", options=["scatter", "histogram", "bar"], width=120)
        self.plot_button = pn.widgets.Button(label="Plot", width=80, disabled=True)
        self.plot_button.on_click(lambda _e: self.plot())
        self.chart = pn.Column(sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.table, self.lists),
            self.files,
            pn.Row(self.read_button, self.stop_button, self.progress, self.status),
            self.message,
            pn.Row(
                pn.Column("**Files**", self.file_states, sizing_mode="stretch_width"),
                pn.Column("**Files left out**", self.errors, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            self.rows,
            pn.Row(self.sql, self.sql_button, sizing_mode="stretch_width"),
            self.sql_result,
            pn.Row(self.kind, self.x, self.y, self.plot_button),
            self.chart,
            sizing_mode="stretch_width",
            css_classes=["nd-tables-across"],
        )

    # --- reading -----------------------------------------------------------------------------
    def open_link(self, table: str, files: str) -> None:
        """Fill the inputs (a deep link) and read."""
        self.table.value, self.files.value = table or "/units", files
        if files.strip():
            self.read()

    def read(self) -> None:
        table, files, lists = (self.table.value or "").strip(), self.files.value or "", self.lists.value
        self._cancel.set()  # a read still running is superseded: it stops at its next file
        self._close_files()
        self._files_open = opener = OpenFiles(self._open_file)
        self._cancel = cancel = threading.Event()
        self._set_busy(True)
        self.message[:] = []
        with self._states_lock:
            self._states = {}

        def work() -> tuple[TableScan, pl.DataFrame]:
            sources = self._list_files(files)
            self._report_states({s: "waiting" for s in sources}, 0.0, f"opening {len(sources)} files")
            scan = scan_table(
                table,
                sources,
                opener,
                progress=lambda f, m: self._report_states({}, f / 2, m),
                cancel=cancel,
                on_file=lambda source, state: self._report_states({source: state}, None, None),
            )
            scan.progress = lambda f, m: self._report_states({}, 0.5 + f / 2, m)
            plan = scan.lazy()
            if not lists:
                plan = plan.select(
                    [n for n, t in scan.schema.items() if not isinstance(t, (pl.List, pl.Array))]
                )
            return scan, collect(plan, cancel)

        self._work.run("tables-across", work, apply=self._show_frame, failed=self._failed)
        if self.on_read is not None:
            self.on_read(table, files)

    def _report_states(self, changes: dict[str, str], fraction: float | None, message: str | None) -> None:
        """From any thread: per-file states, the bar and its message, applied on the session's thread."""
        with self._states_lock:
            self._states.update(changes)
            states = dict(self._states)

        def apply() -> None:
            if changes:
                self.file_states.value = pd.DataFrame({"file": list(states), "state": list(states.values())})
            if fraction is not None:
                self.progress.value = int(100 * fraction)
            if message is not None:
                self.status.object = escape_text(message)

        run_on_session_thread(self._doc, apply)

    def _set_busy(self, busy: bool) -> None:
        self.progress.visible = busy
        self.read_button.disabled, self.stop_button.disabled = busy, not busy

    def _show_frame(self, result: tuple[TableScan, pl.DataFrame]) -> None:
        scan, frame = result
        self._set_busy(False)
        self.frame, self.result = frame, None
        errors = pd.DataFrame(
            {"file": [e.path for e in scan.errors], "reason": [e.reason for e in scan.errors]}
        )
        self.errors.value = errors
        self.status.object = escape_text(
            f"{frame.height:,} rows from {frame['_nwb_path'].n_unique() if frame.height else 0} of "
            f"{len(scan.files) + len(scan.errors)} files; {len(scan.errors)} left out."
        )
        self.paged = PagedTable(self._page, page_size=20)
        self.rows[:] = [self.paged]
        self.sql_button.disabled = self.plot_button.disabled = False
        self._set_plot_columns(frame)
        self.sql_result[:] = []
        self.chart[:] = []

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.status.object = ""
        self.message[:] = [text_alert(_why(exc), alert_type="danger", sizing_mode="stretch_width")]

    def _page(self, offset: int, limit: int) -> tuple[pd.DataFrame, int]:
        frame = self.frame if self.frame is not None else pl.DataFrame()
        return _as_pandas(frame.slice(offset, limit)), frame.height

    def _close_files(self) -> None:
        if self._files_open is not None:
            self._files_open.close()
            self._files_open = None

    # --- SQL and chart -------------------------------------------------------------------------
    def run_sql(self) -> None:
        frame, query = self.frame, self.sql.value or ""
        if frame is None:
            return
        self.sql_button.disabled = True

        def shown(result: pl.DataFrame) -> None:
            self.sql_button.disabled = False
            self.result = result
            table = safe_table(
                _as_pandas(result),
                show_index=False,
                disabled=True,
                max_height=260,
                sizing_mode="stretch_width",
            )
            note = f"{result.height:,} rows" + (
                f" (first {self._max_rows:,})" if result.height >= self._max_rows else ""
            )
            self.sql_result[:] = [pn.pane.Markdown(escape_text(note)), table]
            self._set_plot_columns(result)

        def failed(exc: BaseException) -> None:
            self.sql_button.disabled = False
            self.sql_result[:] = [text_alert(_why(exc), alert_type="warning", sizing_mode="stretch_width")]

        self._work.run(
            "tables-across-sql",
            lambda: query_sql(frame, query, TABLE_NAME, self._limits, self._max_rows),
            apply=shown,
            failed=failed,
        )

    def _set_plot_columns(self, frame: pl.DataFrame) -> None:
        """Column choices for the chart, and a first chart that makes sense: two measures as a scatter, one
        measure by a label as bars."""
        plain = [n for n, t in frame.schema.items() if not isinstance(t, (pl.List, pl.Array))]
        numeric = [n for n in plain if frame.schema[n].is_numeric()]
        measures = [n for n in numeric if n not in ("_table_row", "id")] or numeric
        labels = [n for n in plain if n not in numeric]
        self.x.options, self.y.options = plain, ["", *numeric]
        if len(measures) >= 2:
            self.kind.value, self.x.value, self.y.value = "scatter", measures[0], measures[1]
        elif measures:
            self.kind.value, self.x.value, self.y.value = "bar", (labels or measures)[0], measures[0]

    def plot(self) -> None:
        frame = self.result if self.result is not None else self.frame
        if frame is None:
            return
        kind, x, y = self.kind.value, self.x.value, self.y.value or None
        try:
            spec = build_plot_spec(frame.lazy(), TABLE_NAME, kind, x, y)
        except (NeurodeckError, pl.exceptions.PolarsError) as exc:
            self.chart[:] = [text_alert(_why(exc), alert_type="warning", sizing_mode="stretch_width")]
            return
        data = _as_pandas(spec.data)
        plot = data.hvplot(**spec.hvplot_kwargs(), responsive=True, height=320)
        self.chart[:] = [pn.pane.HoloViews(plot, sizing_mode="stretch_width", height=340)]


def _why(exc: BaseException) -> str:
    if isinstance(exc, NeurodeckError):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def across_card(make_panel: Callable[[], TablesAcross], link: Any) -> pn.Card:
    """The panel in a card of the NWB page, built when first opened (most visits never open it), kept
    equal to the page link's ``across`` (table path) and ``files``: a link naming a table opens the card
    and reads; a read writes both back into the link."""
    # bounded and scrolled: a long table must not push over the file browser below it
    holder = pn.Column(sizing_mode="stretch_width", max_height=760, scroll=True)
    card = pn.Card(holder, title="Tables across files", collapsed=True, sizing_mode="stretch_width")

    built: list[TablesAcross] = []

    def panel() -> TablesAcross:
        if not built:
            built.append(make_panel())
            built[0].on_read = lambda table, files: link.param.update(across=table, files=files)
            holder[:] = [built[0]]
        return built[0]

    def from_link(*_events: Any) -> None:
        if not link.across:
            return
        shown = panel()
        card.collapsed = False
        if (link.across, link.files) != (shown.table.value, shown.files.value):
            shown.open_link(link.across, link.files)

    card.param.watch(lambda e: panel() if not e.new else None, "collapsed")
    link.param.watch(from_link, ["across", "files"])
    if link.across:
        pn.state.onload(from_link)
    return card
