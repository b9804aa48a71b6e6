"""What a tool gives back: a text summary for the model and, optionally, an artifact for the chat.

The summary is what the model reads (cut to a character budget before it is sent); the
artifact (a table, a plot, a viewer link, an image) is what the chat shows beside the step,
streaming or not. Tools may also return plain values; ``to_tool_result`` wraps them: a
string is the summary, a polars/pandas DataFrame becomes a table artifact with its head as
the summary, a dict or list is written as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "Artifact",
    "ImageArtifact",
    "PlotArtifact",
    "TableArtifact",
    "ToolResult",
    "ViewerLinkArtifact",
    "summarise_table",
    "to_tool_result",
    "truncate_for_model",
]

TABLE_PREVIEW_ROWS = 20


@dataclass(frozen=True, kw_only=True)
class Artifact:
    """Something the chat renders beside a tool step. ``describe()`` is what a saved conversation keeps."""

    kind: ClassVar[str] = "artifact"
    title: str = ""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title}


@dataclass(frozen=True, kw_only=True)
class TableArtifact(Artifact):
    """A polars or pandas DataFrame, shown as a table (the page picks the widget)."""

    kind: ClassVar[str] = "table"
    frame: Any

    def describe(self) -> dict[str, Any]:
        rows, columns = _table_shape(self.frame)
        return {**super().describe(), "rows": rows, "columns": columns}


@dataclass(frozen=True, kw_only=True)
class PlotArtifact(Artifact):
    """A plot: a JSON-able spec (``{"type": "scatter", "x": ..., "y": ..., "table": ...}``) or an object the
    page knows how to render (the page picks the plotting library)."""

    kind: ClassVar[str] = "plot"
    spec: Any

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        if isinstance(self.spec, Mapping):
            try:
                json.dumps(self.spec)
                described["spec"] = dict(self.spec)
            except (TypeError, ValueError):
                described["spec_keys"] = sorted(map(str, self.spec))
        else:
            described["object"] = type(self.spec).__name__
        return described


@dataclass(frozen=True, kw_only=True)
class ViewerLinkArtifact(Artifact):
    """A link that opens a viewer state (a Neuroglancer URL, a page deep link)."""

    kind: ClassVar[str] = "viewer_link"
    url: str

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "url": self.url}


@dataclass(frozen=True, kw_only=True)
class ImageArtifact(Artifact):
    """Encoded image bytes (PNG or JPEG)."""

    kind: ClassVar[str] = "image"
    data: bytes
    mime_type: str = "image/png"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mime_type": self.mime_type, "bytes": len(self.data)}


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer. ``summary``: text for the model and the chat; ``data``: JSON-able detail for the
    trace."""

    summary: str
    artifact: Artifact | None = None
    data: Any = field(default=None)


def to_tool_result(value: Any) -> ToolResult:
    """Wrap whatever a tool returned (see the module docstring). Cost: a table's head is formatted once."""
    if isinstance(value, ToolResult):
        return value
    if value is None:
        return ToolResult("Done.")
    if isinstance(value, str):
        return ToolResult(value)
    if isinstance(value, Artifact):
        return ToolResult(value.title or f"Made a {value.kind}.", artifact=value)
    if _is_table(value):
        return ToolResult(summarise_table(value), artifact=TableArtifact(frame=value))
    try:
        return ToolResult(json.dumps(value, default=str), data=value)
    except (TypeError, ValueError):
        return ToolResult(repr(value))


def summarise_table(frame: Any, title: str = "", rows: int = TABLE_PREVIEW_ROWS) -> str:
    """Shape, column types and the first rows as CSV: enough for a model to reason about a table."""
    n_rows, columns = _table_shape(frame)
    head = frame.head(rows)
    if type(frame).__module__.startswith("polars"):
        csv = head.write_csv()
        types = ", ".join(f"{name} ({dtype})" for name, dtype in frame.schema.items())
    else:
        csv = head.to_csv(index=False)
        types = ", ".join(f"{name} ({dtype})" for name, dtype in frame.dtypes.items())
    name = f"Table {title}" if title else "Table"
    shown = min(rows, n_rows)
    return f"{name}: {n_rows} rows x {len(columns)} columns: {types}.\nFirst {shown} rows:\n{csv.rstrip()}"


def truncate_for_model(text: str, budget: int) -> str:
    """Keep the head and tail of ``text`` within ``budget`` characters, saying how much was cut and where it
    is."""
    if len(text) <= budget:
        return text
    note = f"\n[... {len(text) - budget:,} characters cut; the whole result is in the tool trace ...]\n"
    if budget < 2 * len(note):
        return text[:budget]
    keep = budget - len(note)
    head = keep * 3 // 4
    tail = text[len(text) - (keep - head) :] if keep > head else ""
    return text[:head] + note + tail


def _is_table(value: Any) -> bool:
    module = type(value).__module__
    return (module.startswith("polars") or module.startswith("pandas")) and type(
        value
    ).__name__ == "DataFrame"


def _table_shape(frame: Any) -> tuple[int, list[str]]:
    return int(frame.shape[0]), [str(c) for c in frame.columns]
