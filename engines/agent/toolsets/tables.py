"""Tools over one session's tables (``TableWorkspace``): look, query with safe SQL, plot, rank into views.

Tables are named by their short names; a tool given no table uses the newest one that has
the columns it names (what a person means by "the table" after dropping a CSV, even after a
query made a narrower result). The ranked multi-view table comes back
as a ``MultiViewArtifact``: the page lists its rows and each row opens its own view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from engines.agent.planner import Command
from engines.agent.results import Artifact, PlotArtifact, TableArtifact, ToolResult
from engines.agent.tools import Toolset
from engines.ngstate import NgState
from engines.tables import Filter, MultiViewTable, TableWorkspace
from engines.tables.errors import TableNotFound
from engines.tables.model import FilterOp

__all__ = ["MultiViewArtifact", "build_table_tools"]

_PREVIEW_CHARS = 1500


@dataclass(frozen=True, kw_only=True)
class MultiViewArtifact(Artifact):
    """A ranked table whose rows each open a view (``views.states[i]`` for row ``i``)."""

    kind: ClassVar[str] = "multiview"
    views: MultiViewTable

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "rows": self.views.table.height,
            "metric": self.views.metric,
            "warnings": len(self.views.warnings),
        }


def _csv_head(frame: Any, rows: int = 20) -> str:
    text = frame.head(rows).write_csv()
    return text if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + "\n..."


def build_table_tools(tables: TableWorkspace, current_state: Callable[[], NgState]) -> Toolset:
    """The table tools of one session; ``current_state`` gives the view that ranked rows start from."""
    tools = Toolset(
        "tables", "Look at, query, plot and rank the session's tables (uploaded CSVs and results)."
    )

    def pick(table: str | None, *columns: str | None) -> str:
        if table:
            return tables.info(table).name
        listed = tables.list_tables()
        if not listed:
            raise TableNotFound("There are no tables yet: drop a CSV file on the page first.")
        needed = {c for c in columns if c}
        having = [info for info in listed if needed <= set(info.columns)]
        return (having or listed)[-1].name

    @tools.tool(commands=["list [the] tables", "(which|what) tables"])
    def list_tables() -> str:
        """The session's tables: name, rows, columns, origin."""
        return "\n".join(info.describe() for info in tables.list_tables()) or "No tables yet."

    @tools.tool(commands=["open [the] file {path:name}", "open [the] csv {path:name}"])
    def open_table_file(path: str, name: str | None = None) -> str:
        """Open a CSV file on the server (only inside the folders the operator allowed); files over the upload
        cap are read lazily from disk, so tables far larger than memory can be queried.

        Args:
            path: the file's path on the server
            name: the table's name (default: from the file name)
        """
        info = tables.open_file(path, name=name)
        return info.describe() + (" (read lazily from disk)" if info.lazy else "")

    @tools.tool(commands=["preview [the] [table] [{table:name}]", "show [the] table [{table:name}]"])
    def preview_table(
        table: str | None = None, rows: Annotated[int, Field(ge=1, le=1000)] = 20
    ) -> ToolResult:
        """The first rows of a table.

        Args:
            table: the table's name (default: the newest)
            rows: how many rows
        """
        name = pick(table)
        frame = tables.preview(name, rows)
        return ToolResult(
            f"First {frame.height} rows of {name}:\n{_csv_head(frame)}",
            artifact=TableArtifact(frame=frame, title=f"{name} (first {frame.height} rows)"),
        )

    @tools.tool(commands=["describe [the] [table] [{table:name}]", "summarize [the] [table] [{table:name}]"])
    def describe_table(table: str | None = None) -> ToolResult:
        """Column types and statistics (count, nulls, mean, std, min, quartiles, max) of a table."""
        name = pick(table)
        described = tables.describe(name)
        return ToolResult(
            f"{tables.info(name).describe()}\n{described.write_csv()}",
            artifact=TableArtifact(frame=described, title=f"{name} described"),
        )

    @tools.tool(
        commands=["count [the] values of {column:name} [in {table:name}]", "value counts [of] {column:name}"]
    )
    def value_counts(
        column: str, table: str | None = None, limit: Annotated[int, Field(ge=1, le=500)] = 20
    ) -> ToolResult:
        """How often each value of a column occurs (most frequent first)."""
        name = pick(table, column)
        counts = tables.value_counts(name, column, limit)
        return ToolResult(
            f"Values of {column} in {name}:\n{_csv_head(counts, limit)}",
            artifact=TableArtifact(frame=counts, title=f"{column} in {name}"),
        )

    @tools.tool(commands=["(sql|query) {query:text}"])
    def run_sql(query: str, save_as: str | None = None) -> ToolResult:
        """One read-only SQL SELECT over the session's tables (by their names); the result is kept as a new
        table.

        Args:
            query: a single SELECT (or UNION of SELECTs); CTEs allowed; no DDL, DML or file-reading functions
            save_as: a name for the result (default r1, r2, ...)
        """
        info = tables.sql(query, save_as=save_as)
        frame = tables.preview(info.name, 50)
        return ToolResult(
            f"{info.describe()}\n{_csv_head(frame)}",
            artifact=TableArtifact(frame=frame, title=f"{info.name}: {query[:60]}"),
        )

    @tools.tool(
        commands=[
            "filter {table:name} where {column:name} {op:==|!=|>|>=|<|<=} {value:number}",
            "rows of {table:name} with {column:name} {op:==|!=|>|>=|<|<=} {value:number}",
        ]
    )
    def filter_rows(
        column: str,
        op: FilterOp,
        value: Any = None,
        table: str | None = None,
        sort_by: str | None = None,
        descending: bool = False,
        limit: Annotated[int, Field(ge=1)] | None = None,
    ) -> ToolResult:
        """Rows where ``column op value`` holds (value: a list for in/not_in/between), optionally sorted; kept
        as a new table."""
        name = pick(table, column, sort_by)
        sort = [f"-{sort_by}" if descending else sort_by] if sort_by else None
        info = tables.select(name, filters=[Filter(column, op, value)], sort=sort, limit=limit)
        frame = tables.preview(info.name, 50)
        return ToolResult(
            f"{info.describe()}\n{_csv_head(frame)}",
            artifact=TableArtifact(frame=frame, title=f"{name} where {column} {op} {value}"),
        )

    @tools.tool(
        commands=["sample {n:int} rows [of {table:name}]", "sample {n:int} rows with seed {seed:int}"]
    )
    def sample_rows(
        n: Annotated[int, Field(ge=1, le=100_000)] = 10, seed: int = 0, table: str | None = None
    ) -> ToolResult:
        """``n`` random rows (the same seed gives the same rows); kept as a new table."""
        name = pick(table)
        info = tables.sample(name, n, seed)
        frame = tables.preview(info.name, 50)
        return ToolResult(info.describe(), artifact=TableArtifact(frame=frame, title=f"sample of {name}"))

    @tools.tool(commands=["join {left:name} and {right:name} on {on:name}"])
    def join_tables(
        left: str,
        right: str,
        on: str,
        how: Literal["inner", "left", "right", "full", "semi", "anti"] = "inner",
    ) -> ToolResult:
        """Join two tables on a key column; kept as a new table."""
        info = tables.join(left, right, on=on, how=how)
        return ToolResult(
            info.describe(), artifact=TableArtifact(frame=tables.preview(info.name, 50), title=info.name)
        )

    @tools.tool(
        commands=[
            "plot {y:name} (against|vs|versus) {x:name}",
            "{kind:scatter|line|bar} [plot] [of] {y:name} (against|vs|by) {x:name}",
            Command("histogram of {x:name}", {"kind": "histogram"}),
        ]
    )
    def plot_table(
        x: str,
        y: str | None = None,
        kind: Literal["scatter", "line", "bar", "histogram", "heatmap"] = "scatter",
        by: str | None = None,
        color: str | None = None,
        table: str | None = None,
        bins: Annotated[int, Field(ge=2, le=1000)] = 30,
    ) -> ToolResult:
        """A plot of a table's columns (large data is rasterized server-side).

        Args:
            x: the column along x (for a histogram: the column counted)
            y: the column along y (not for histograms)
            kind: scatter, line, bar, histogram or heatmap
            by: a column that splits the data into groups (colours)
            color: for heatmaps, the value column
            table: the table (default: the newest)
            bins: histogram bins
        """
        name = pick(table, x, y, by, color)
        spec = tables.plot(name, kind, x, y, by=by, color=color, bins=bins)
        return ToolResult(
            f"{spec.kind} of {name}: {spec.summary()}", artifact=PlotArtifact(spec=spec, title=spec.title)
        )

    @tools.tool(
        commands=[
            "top {n:int} [cells|rows|rois|items] by {metric:name}",
            Command("bottom {n:int} [cells|rows|rois|items] by {metric:name}", {"descending": False}),
        ]
    )
    def top_views(
        metric: str,
        n: Annotated[int, Field(ge=1, le=1000)] = 20,
        table: str | None = None,
        id_column: str | None = None,
        coordinates: list[str] | None = None,
        descending: bool = True,
        segment_layer: str | None = None,
    ) -> ToolResult:
        """Rank rows by a metric and make one viewer state per row (centred on the row's coordinates, marked,
        its segment selected); the page lists the rows and clicking one opens its view (the first opens now).

        Args:
            metric: the column to rank by
            n: how many rows
            table: the table (default: the newest)
            id_column: the column naming each row (default: 'id' or the first column)
            coordinates: the coordinate columns in the state's dimension order (default: x, y, z)
            descending: largest first
            segment_layer: a segmentation layer whose segment with the row's id is selected in each view
        """
        name = pick(table, metric, *(coordinates or ("x", "y", "z")))
        columns = tables.info(name).columns
        id_col = id_column or ("id" if "id" in columns else columns[0])
        state = current_state()
        segments = segment_layer or next(iter(state.layers_of_type("segmentation")), None)
        views = tables.top_views(
            name,
            metric,
            state,
            n=n,
            id_column=id_col,
            coordinates=coordinates or ("x", "y", "z"),
            descending=descending,
            segment_layer=segments,
        )
        ids = views.table[id_col].to_list()
        warned = (
            f" {len(views.warnings)} row(s) cannot be shown: {views.warnings[:3]}" if views.warnings else ""
        )
        return ToolResult(
            f"{'Top' if descending else 'Bottom'} {len(ids)} rows of {name} by {metric}: ids {ids[:20]}."
            f"{warned}",
            artifact=MultiViewArtifact(views=views, title=f"{name} by {metric}"),
        )

    return tools
