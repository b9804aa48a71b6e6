"""A small, real toolset the agent tests drive: a viewer-like state and a table of cells.

It is the pattern a page follows: state owned by the page's session object, tools built
over it per session (closures), each tool typed and documented, offline commands beside
the tools they call, results with artifacts (a table, a plot spec, a viewer link).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Literal
from urllib.parse import quote

import polars as pl
from pydantic import Field

from engines.agent import Command, PlotArtifact, TableArtifact, ToolResult, Toolset, ViewerLinkArtifact
from engines.errors import NeurodeckError


class UnknownLayer(NeurodeckError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class MiniViewer:
    """A viewer state with named dimensions, a zoom, layers (visibility, contrast) and point annotations."""

    position: dict[str, float] = field(default_factory=lambda: {"x": 0.0, "y": 0.0, "z": 0.0})
    zoom: float = 1.0
    layers: dict[str, dict] = field(
        default_factory=lambda: {
            "em": {"type": "image", "visible": True, "range": [0.0, 255.0]},
            "segmentation": {"type": "segmentation", "visible": True},
        }
    )
    points: list[list[float]] = field(default_factory=list)

    def layer(self, name: str) -> dict:
        if name not in self.layers:
            raise UnknownLayer(f"There is no layer {name!r}; the layers are {', '.join(self.layers)}.")
        return self.layers[name]

    def summary(self) -> str:
        where = ", ".join(f"{k}={v:g}" for k, v in self.position.items())
        layers = "; ".join(
            f"{name} ({'visible' if layer['visible'] else 'hidden'})" for name, layer in self.layers.items()
        )
        return f"Position {where}; zoom {self.zoom:g}; layers: {layers}; {len(self.points)} points."

    def url(self) -> str:
        state = {"position": list(self.position.values()), "zoom": self.zoom, "layers": self.layers}
        return "https://neuroglancer-demo.appspot.com/#!" + quote(json.dumps(state))


def demo_cells(rows: int = 200) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "cell_id": list(range(1, rows + 1)),
            "x": [float(100 + 7 * i % 900) for i in range(rows)],
            "y": [float(50 + 13 * i % 700) for i in range(rows)],
            "z": [float(i % 40) for i in range(rows)],
            "volume": [float((i * 37) % 1000) for i in range(rows)],
            "cell_type": [("pyramidal", "interneuron", "glia")[i % 3] for i in range(rows)],
        }
    )


def build_viewer_tools(viewer: MiniViewer, cells: pl.DataFrame) -> Toolset:
    """The tools of one session, over that session's viewer and table."""
    tools = Toolset("viewer", "Move and style the viewer; look at the cells table.")

    @tools.tool(mutates=True, commands=["go to {x} {y} {z}", "go to {x} {y}", "(move|jump) to {x} {y} {z}"])
    def set_position(x: float, y: float, z: float | None = None) -> str:
        """Centre the view on a point.

        Args:
            x: position along x, in voxels
            y: position along y, in voxels
            z: position along z, in voxels (kept when not given)
        """
        viewer.position.update({"x": x, "y": y, **({"z": z} if z is not None else {})})
        return "Moved to (" + ", ".join(f"{v:g}" for v in viewer.position.values()) + ")."

    @tools.tool(
        mutates=True,
        commands=[
            Command("zoom in", {"factor": 2.0}),
            Command("zoom out", {"factor": 0.5}),
            "zoom [by] {factor}",
        ],
    )
    def zoom(
        factor: Annotated[float, Field(gt=0, description="how much closer: 2 zooms in, 0.5 out")],
    ) -> str:
        """Zoom the view by a factor."""
        viewer.zoom *= factor
        return f"Zoomed by {factor:g} (zoom is now {viewer.zoom:g})."

    @tools.tool(
        mutates=True,
        commands=[
            "set [the] contrast of {layer:name} to {limits:range}",
            "contrast {layer:name} {limits:range}",
        ],
    )
    def set_contrast(layer: str, limits: tuple[float, float]) -> str:
        """Set the display range of an image layer.

        Args:
            layer: the image layer's name
            limits: the lowest and highest value shown, black to white
        """
        low, high = limits
        if low >= high:
            raise ValueError(f"the lower limit {low:g} must be below the upper {high:g}")
        viewer.layer(layer)["range"] = [low, high]
        return f"Contrast of {layer} set to {low:g}-{high:g}."

    @tools.tool(
        mutates=True,
        commands=[
            Command("hide [the] {layer:name} [layer]", {"visible": False}),
            Command("show [the] {layer:name} [layer]", {"visible": True}),
        ],
    )
    def set_visibility(layer: str, visible: bool) -> str:
        """Show or hide a layer.

        Args:
            layer: the layer's name
            visible: true to show it, false to hide it
        """
        viewer.layer(layer)["visible"] = visible
        return f"{layer} is now {'visible' if visible else 'hidden'}."

    @tools.tool(mutates=True, commands=["add [a] point at {x} {y} {z}"])
    def add_point(x: float, y: float, z: float) -> str:
        """Add a point annotation."""
        viewer.points.append([x, y, z])
        return f"Added a point at ({x:g}, {y:g}, {z:g}); {len(viewer.points)} points."

    @tools.tool(commands=["top {n} cells by {column:name}", "show [the] top {n} by {column:name}"])
    def top_cells(
        n: Annotated[int, Field(ge=1, le=1000)],
        column: str,
        order: Literal["descending", "ascending"] = "descending",
    ) -> ToolResult:
        """The n cells with the largest (or smallest) value of a column, as a table.

        Args:
            n: how many cells
            column: the column to rank by
            order: descending for the largest first
        """
        if column not in cells.columns:
            raise ValueError(f"no column {column!r}; the columns are {', '.join(cells.columns)}")
        top = cells.sort(column, descending=order == "descending").head(n)
        return ToolResult(
            f"Top {n} cells by {column}: ids {top['cell_id'].to_list()[:20]}.",
            artifact=TableArtifact(frame=top, title=f"top {n} by {column}"),
        )

    @tools.tool(commands=["describe [the] table", "describe [the] cells"])
    def describe_table() -> ToolResult:
        """Column types and statistics of the cells table."""
        described = cells.describe()
        return ToolResult(
            f"{cells.height} cells, columns {', '.join(cells.columns)}.\n{described.write_csv()}",
            artifact=TableArtifact(frame=described, title="cells described"),
        )

    @tools.tool(commands=["list [the] cells"])
    def list_cells() -> str:
        """Every cell as CSV (long: the model sees only its head and tail)."""
        return cells.write_csv()

    @tools.tool(commands=["plot {y:name} against {x:name}", "plot {y:name} vs {x:name}"])
    def plot_columns(x: str, y: str) -> ToolResult:
        """Scatter plot of two columns of the cells table."""
        missing = [c for c in (x, y) if c not in cells.columns]
        if missing:
            raise ValueError(f"no column {missing[0]!r}; the columns are {', '.join(cells.columns)}")
        spec = {"type": "scatter", "table": "cells", "x": x, "y": y}
        return ToolResult(
            f"Scatter of {y} against {x} ({cells.height} points).",
            artifact=PlotArtifact(spec=spec, title=f"{y} vs {x}"),
        )

    @tools.tool(commands=["share [the] view", "link [to] [the|this] view"])
    def share_view() -> ToolResult:
        """A link that opens the current view."""
        url = viewer.url()
        return ToolResult(f"The view: {url}", artifact=ViewerLinkArtifact(url=url, title="current view"))

    return tools
