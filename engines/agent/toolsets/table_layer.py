"""The viewer toolset's table tool: a table's rows drawn in the viewer as an annotation layer.

Kept apart from ``viewer.py`` (which stays short enough to read); registered from
``build_viewer_tools`` when the page gives the viewer tools its ``TableWorkspace``. The layer goes into
the session's state like any tool's edit (so undo, saved views and share links carry it); the
``TableLayerArtifact`` lets the page list the rows, each linked to its annotation both ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field

from engines.agent.planner import Command
from engines.agent.results import Artifact, ToolResult
from engines.agent.tools import Toolset
from engines.ngstate.session import ViewerSession
from engines.ngstate.state import NgState
from engines.ngstate.table_layer import MAX_TABLE_ANNOTATIONS, TableLayer, table_annotation_layer
from engines.ngstate.urls import MAX_LINK_CHARS, to_fragment
from engines.tables import TableWorkspace
from engines.tables.errors import TableNotFound

__all__ = ["TableLayerArtifact", "add_table_layer_tool"]


@dataclass(frozen=True, kw_only=True)
class TableLayerArtifact(Artifact):
    """A table shown in the viewer: ``frame`` (the rows used) with row ``i`` drawn as
    ``drawn.annotation_ids[i]`` in layer ``drawn.layer``."""

    kind: ClassVar[str] = "table_layer"
    frame: Any
    drawn: TableLayer

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "layer": self.drawn.layer, "rows": self.drawn.shown}


_OPTIONS = "[(coloured|colored|colour|color) by {color_by:name}] [sized by {size_by:name}]"


def add_table_layer_tool(tools: Toolset, session: ViewerSession, tables: TableWorkspace) -> None:
    """Register ``show_table_in_viewer`` on ``tools``: it reads ``tables`` and edits ``session``."""

    @tools.tool(
        mutates=True,
        commands=[
            f"show [the] table {{table:name}} in the viewer {_OPTIONS}",
            f"show [the] table {{table:name}} as {{shape:point|box}}[es|s] {_OPTIONS}",
            f"(mark|draw) [the] rows of {{table:name}} [in the viewer] {_OPTIONS}",
            Command(f"(mark|draw) [the] rows of {{table:name}} as boxes {_OPTIONS}", {"shape": "box"}),
        ],
    )
    def show_table_in_viewer(
        table: str | None = None,
        color_by: str | None = None,
        size_by: str | None = None,
        shape: Literal["point", "box"] = "point",
        coordinates: list[str] | None = None,
        id_column: str | None = None,
        segment_column: str | None = None,
        layer: str | None = None,
        max_rows: Annotated[int, Field(ge=1, le=MAX_TABLE_ANNOTATIONS)] = MAX_TABLE_ANNOTATIONS,
    ) -> ToolResult:
        """Draw a table's rows in the viewer as an annotation layer (points or boxes at their x, y, z),
        coloured and sized by columns, each with its row's values; clicking a row or its annotation
        selects the other. The layer is part of the view (saved views and share links keep it).

        Args:
            table: the table's name (default: the newest)
            color_by: a column colouring the annotations (numbers: a colour scale; text: one colour each)
            size_by: a numeric column sizing them
            shape: point or box
            coordinates: the coordinate columns in the view's dimension order (default: x, y, z)
            id_column: the column naming each row (default: id, else the row number)
            segment_column: a column of segment ids linking each row to its segment (default: the id column
                when the view has a segmentation layer and the rows' ids are whole numbers)
            layer: the annotation layer's name (default: the table's name)
            max_rows: rows drawn at most (the first ones)
        """
        given = dict(color_by=color_by, size_by=size_by, shape=shape, coordinates=coordinates)
        given.update(id_column=id_column, segment_column=segment_column)
        return _show_table(session, tables, table, layer, max_rows, given)


def _show_table(
    session: ViewerSession,
    tables: TableWorkspace,
    table: str | None,
    layer: str | None,
    max_rows: int,
    given: dict[str, Any],
) -> ToolResult:
    """The tool's work: read the table, draw it into the session's state (one undoable edit), say what
    was drawn. ``given``: the tool's other arguments (colours, sizes, shape, columns)."""
    listed = tables.list_tables()
    if not listed:
        raise TableNotFound("There are no tables yet: drop a CSV file on the page first.")
    name = tables.info(table).name if table else listed[-1].name
    frame = tables.frame(name, max_rows=max_rows + 1)
    segmentations = session.state.layers_of_type("segmentation")
    key = given["id_column"] or ("id" if "id" in frame.columns else None)
    segment_column = given["segment_column"]
    if segment_column is None and key and segmentations and frame[key].dtype.is_integer():
        segment_column = key
    options: dict[str, Any] = dict(
        id_column=given["id_column"],
        coordinates=given["coordinates"] or ("x", "y", "z"),
        segment_column=segment_column,
        segment_layer=segmentations[0] if segment_column and segmentations else None,
        shape=given["shape"],
        color_by=given["color_by"],
        size_by=given["size_by"],
        max_rows=max_rows,
        total=tables.info(name).rows,  # a lazy table's count, not the rows read here
    )
    drawn: list[TableLayer] = []

    def draw(current: NgState) -> NgState:
        drawn[:] = [table_annotation_layer(current, frame, layer or name, **options)]
        return drawn[0].state

    session.update(draw, "table layer")  # runs ``draw`` once, under the session's lock
    shown = drawn[0]
    styled = [f"coloured by {given['color_by']}"] if given["color_by"] else []
    styled += [f"sized by {given['size_by']}"] if given["size_by"] else []
    style = f" ({', '.join(styled)})" if styled else ""
    link = len(quote("#!" + to_fragment(session.state, url_safe=True), safe=""))
    too_long = (
        f" The view is now too large for a share link ({link // 1000} kB; links open up to "
        f"{MAX_LINK_CHARS // 1000} kB): save it and share it by name."
        if link > MAX_LINK_CHARS
        else ""
    )
    linked = f" Each row is linked to its segment in '{options['segment_layer']}'." if segment_column else ""
    return ToolResult(
        f"{shown.message}{style} as {options['shape']}s.{linked} Click a row in the results panel to go "
        f"to it.{too_long}",
        artifact=TableLayerArtifact(
            frame=frame.head(max_rows), drawn=shown, title=f"{name} in the viewer as '{shown.layer}'"
        ),
        data={"layer": shown.layer, "shown": shown.shown, "total": shown.total},
    )
