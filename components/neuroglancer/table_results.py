"""The tables and plots column: drop CSVs, browse the session's tables, and see what the chat produced.

Tables, plots and ranked multi-view tables that the chat's tools make are shown here in full
(the chat keeps a one-line note); clicking a row of a multi-view table opens its view, and
the first viewable row opens as soon as the table arrives. A table shown in the viewer as an
annotation layer is listed with its rows linked both ways: clicking a row opens its annotation
(``open_annotation``), and the page calls ``select_annotation`` when the user selects one in the
viewer. Plots are drawn with hvPlot, rasterized server-side when the data is large.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import holoviews as hv
import hvplot.pandas  # noqa: F401  (registers .hvplot on pandas frames)
import panel as pn

from components.agent_chat import frame_to_pandas
from components.safe_text import escape_text, safe_table, safe_titles, text_alert
from engines.agent.results import Artifact, PlotArtifact, TableArtifact
from engines.agent.toolsets import MultiViewArtifact, TableLayerArtifact
from engines.errors import NeurodeckError
from engines.ngstate import NgState, TableLayer, selected_annotation
from engines.tables import MultiViewTable, PlotSpec, TableWorkspace

__all__ = ["TableResults", "plot_view"]

log = logging.getLogger(__name__)


def plot_view(spec: Any) -> pn.viewable.Viewable:
    """A ``PlotSpec`` (tables engine) or a counts spec (``{"type": "histogram_counts", "frame": ...}``)
    drawn."""
    if isinstance(spec, PlotSpec):
        plot = spec.pandas().hvplot(**spec.hvplot_kwargs(), responsive=True, height=320)
        return pn.pane.HoloViews(plot, sizing_mode="stretch_width", height=340)
    if isinstance(spec, dict) and spec.get("type") == "histogram_counts":
        frame = frame_to_pandas(spec["frame"])
        bars = hv.Histogram(
            (frame[spec["x"]].to_numpy(), frame[spec["y"]].to_numpy()), spec["x"], spec["y"]
        ).opts(responsive=True, height=320, title=spec.get("title", ""), tools=["hover"])
        return pn.pane.HoloViews(bars, sizing_mode="stretch_width", height=340)
    return pn.pane.JSON(spec if isinstance(spec, dict) else str(spec), sizing_mode="stretch_width")


class TableResults(pn.viewable.Viewer):
    """``show_artifact`` is the chat's artifact renderer: it shows the artifact here and returns the chat's
    note."""

    def __init__(
        self,
        tables: TableWorkspace,
        load_state: Callable[[NgState], Any],
        open_annotation: Callable[[str, str], Any] | None = None,
    ) -> None:
        """``open_annotation(layer, annotation_id)``: centre the viewer on a table row's annotation and
        select it (None: rows of a table shown in the viewer are not clickable)."""
        super().__init__()
        self._tables = tables
        self._load_state = load_state
        self._open_annotation = open_annotation
        self._views: MultiViewTable | None = None
        self._drawn: TableLayer | None = None
        self._drawn_table: pn.widgets.Tabulator | None = None
        max_mb = tables.max_upload_bytes / 2**20
        self._dropper = pn.widgets.FileDropper(
            accepted_filetypes=[".csv", ".tsv", ".txt"],
            multiple=True,
            max_file_size=f"{max_mb:g}MB",
            sizing_mode="stretch_width",
            layout="compact",
        )
        self._dropper.param.watch(self._on_upload, "value")
        self._upload_message = pn.Column(sizing_mode="stretch_width")
        self._table_select = pn.widgets.Select(
            name="Tables", options=self._table_names(), sizing_mode="stretch_width"
        )
        self._table_select.param.watch(lambda _e: self._show_table(), "value")
        self._preview = pn.widgets.Tabulator(
            show_index=False,
            disabled=True,
            height=220,
            sizing_mode="stretch_width",
            pagination="local",
            page_size=50,
        )
        self._result_title = pn.pane.Markdown("", margin=(10, 5, 0, 5))
        self._result = pn.Column(sizing_mode="stretch_width")
        self._show_table()

    def _table_names(self) -> list[str]:
        return [info.name for info in self._tables.list_tables()]

    def refresh(self) -> None:
        names = self._table_names()
        self._table_select.options = names
        if self._table_select.value not in names and names:
            self._table_select.value = names[-1]

    def _show_table(self) -> None:
        name = self._table_select.value
        if name:
            frame = frame_to_pandas(self._tables.preview(name, 100))
            self._preview.param.update(value=frame, titles=safe_titles(frame))

    def _on_upload(self, event) -> None:
        messages = []
        for filename, data in (event.new or {}).items():
            payload = data.encode() if isinstance(data, str) else bytes(data)
            try:
                info = self._tables.upload(filename, payload)
            except NeurodeckError as exc:
                messages.append(
                    text_alert(f"{filename}: {exc}", alert_type="danger", sizing_mode="stretch_width")
                )
                continue
            messages.append(
                pn.pane.Alert(
                    f"{escape_text(filename)} → table **{escape_text(info.name)}** ({info.rows:,} rows)",
                    alert_type="success",
                    sizing_mode="stretch_width",
                )
            )
            self.refresh()
            self._table_select.value = info.name
        self._upload_message[:] = messages

    # --- what the chat made ------------------------------------------------------------------------
    def show_artifact(self, artifact: Artifact) -> pn.viewable.Viewable | None:
        """On the session's thread. Tables, plots and multi-view tables go here; the chat gets a note."""
        if isinstance(artifact, MultiViewArtifact):
            self._show_multiview(artifact)
        elif isinstance(artifact, TableLayerArtifact):
            self._show_table_layer(artifact)
        elif isinstance(artifact, TableArtifact):
            self._set_result(
                artifact.title,
                safe_table(
                    frame_to_pandas(artifact.frame),
                    show_index=False,
                    disabled=True,
                    height=320,
                    sizing_mode="stretch_width",
                    pagination="local",
                    page_size=50,
                ),
            )
        elif isinstance(artifact, PlotArtifact):
            self._set_result(artifact.title, plot_view(artifact.spec))
        else:
            return None
        self.refresh()
        return pn.pane.Markdown(
            f"→ *{escape_text(artifact.title or artifact.kind)}* is shown in the results panel.",
            css_classes=["nd-muted"],
            margin=(0, 5),
        )

    def _set_result(self, title: str, view: pn.viewable.Viewable) -> None:
        self._result_title.object = f"**{escape_text(title)}**"
        self._result[:] = [view]
        self._drawn, self._drawn_table = None, None  # the listed table (if any) is no longer shown

    def _show_multiview(self, artifact: MultiViewArtifact) -> None:
        views = artifact.views
        self._views = views
        table = _row_picker(views.table, "nd-multiview")
        table.on_click(lambda event: self._open_row(event.row, table))
        self._set_result(f"{artifact.title} — click a row to open its view", table)
        first = views.first_viewable
        if first is not None:
            self._open_row(first, table)

    def _open_row(self, row: int, table: pn.widgets.Tabulator) -> None:
        if self._views is None or not 0 <= row < len(self._views.states):
            return
        state = self._views.states[row]
        if state is None:
            return
        table.selection = [row]
        self._load_state(state)

    def _show_table_layer(self, artifact: TableLayerArtifact) -> None:
        table = _row_picker(artifact.frame, "nd-table-layer")
        table.on_click(lambda event: self._open_annotation_of(event.row, artifact.drawn, table))
        self._set_result(f"{artifact.title} — click a row to go to its annotation", table)
        self._drawn, self._drawn_table = artifact.drawn, table

    def _open_annotation_of(self, row: int, drawn: TableLayer, table: pn.widgets.Tabulator) -> None:
        if not 0 <= row < len(drawn.annotation_ids) or self._open_annotation is None:
            return
        annotation_id = drawn.annotation_ids[row]
        if annotation_id is None:  # the row has no usable coordinates: nothing to go to
            return
        table.selection = [row]
        self._open_annotation(drawn.layer, annotation_id)

    def select_annotation(self, state: dict[str, Any]) -> None:
        """On the session's thread: the viewer reports ``state``; the row of the annotation selected there
        (if it is one of the listed table's) becomes the selected row."""
        drawn, table = self._drawn, self._drawn_table
        if drawn is None or table is None:
            return
        annotation_id = selected_annotation(state, drawn.layer)
        row = drawn.row_of(annotation_id) if annotation_id else None
        if row is not None and table.selection != [row]:
            table.selection = [row]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("**Tables** · drop CSV files here"),
            self._dropper,
            self._upload_message,
            self._table_select,
            self._preview,
            self._result_title,
            self._result,
            sizing_mode="stretch_width",
        )


def _row_picker(frame: Any, css_class: str) -> pn.widgets.Tabulator:
    """A read-only table of ``frame`` (Polars) whose rows are clicked one at a time to open something."""
    return safe_table(
        frame_to_pandas(frame),
        show_index=False,
        disabled=True,
        height=360,
        sizing_mode="stretch_width",
        selectable=1,
        css_classes=[css_class],
    )
