"""Plain values the tables engine takes and returns: small, typed, JSON-friendly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import polars as pl

__all__ = [
    "TableInfo",
    "ColumnInfo",
    "Filter",
    "SortKey",
    "PlotSpec",
    "MultiViewTable",
    "FILTER_OPS",
    "PLOT_KINDS",
]

FilterOp = Literal[
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "in",
    "not_in",
    "between",
    "contains",
    "starts_with",
    "is_null",
    "not_null",
]
"""The comparisons a filter can make (the agent's tool takes the same)."""
FILTER_OPS: tuple[str, ...] = get_args(FilterOp)
PLOT_KINDS = ("scatter", "line", "bar", "histogram", "heatmap")


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    dtype: str
    null_count: int | None = None
    """None for lazily opened files (counting would read the whole file)."""
    examples: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TableInfo:
    """A table of the session: its short name (used in SQL and tools), size and where it came from."""

    name: str
    rows: int | None
    """None for a lazy table whose rows have not been counted yet."""
    columns: tuple[str, ...]
    dtypes: tuple[str, ...]
    origin: str
    lazy: bool = False
    truncated: bool = False
    """True when a result was cut at the session's row limit."""
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for a language model's context."""
        size = f"{self.rows:,} rows" if self.rows is not None else "rows not counted (lazy file)"
        cols = ", ".join(f"{c} ({t})" for c, t in zip(self.columns, self.dtypes))
        return f"{self.name}: {size}, {len(self.columns)} columns [{cols}] — {self.origin}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "columns": list(self.columns),
            "dtypes": list(self.dtypes),
            "origin": self.origin,
            "lazy": self.lazy,
            "truncated": self.truncated,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Filter:
    """One condition: ``column op value``; ``value`` is a list for ``in``/``not_in``/``between``."""

    column: str
    op: FilterOp
    value: Any = None


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class PlotSpec:
    """What to draw and the data to draw it from; the page renders it (hvPlot), nothing here draws.

    ``datashade`` says the data has too many points to send as glyphs: the page should
    rasterize it server-side (hvPlot ``datashade=True``/``rasterize=True``).
    """

    kind: Literal["scatter", "line", "bar", "histogram", "heatmap"]
    data: pl.DataFrame
    x: str
    y: str | None = None
    by: str | None = None
    color: str | None = None
    bins: int | None = None
    title: str = ""
    datashade: bool = False
    rows: int = 0
    notes: tuple[str, ...] = ()

    def hvplot_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``data.hvplot(**kwargs)`` (hvPlot's kind names: ``hist``, ``heatmap``...)."""
        kind = {"histogram": "hist"}.get(self.kind, self.kind)
        kwargs: dict[str, Any] = {"kind": kind, "title": self.title}
        if self.kind == "histogram":
            kwargs.update(y=self.x, bins=self.bins)
        else:
            kwargs.update(x=self.x, y=self.y)
        if self.kind == "heatmap":
            kwargs["C"] = self.color
        elif self.by:
            kwargs["by"] = self.by
        if self.datashade:
            kwargs["datashade"] = True
        return kwargs

    def pandas(self):
        """The data as a pandas DataFrame without needing pyarrow (column by column through numpy)."""
        import pandas as pd

        return pd.DataFrame({name: self.data[name].to_numpy() for name in self.data.columns})

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "x": self.x,
            "y": self.y,
            "by": self.by,
            "color": self.color,
            "bins": self.bins,
            "rows": self.rows,
            "datashade": self.datashade,
            "title": self.title,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class MultiViewTable:
    """The ranked multi-view table: one row per ranked item, and the viewer state that shows each.

    ``table`` has ``rank``, the id, the metric, the coordinates and ``warning`` (None when the row
    is fine). ``states[i]`` belongs to row ``i`` and is None when that row cannot be shown; a
    row with a warning may still have a state (its position worked, an extra did not).
    """

    table: pl.DataFrame
    states: list[Any] = field(default_factory=list)
    metric: str = ""
    id_column: str = ""

    @property
    def first_viewable(self) -> int | None:
        """Index of the first row with a state (the one the page loads at once)."""
        return next((i for i, state in enumerate(self.states) if state is not None), None)

    @property
    def warnings(self) -> list[str]:
        return [w for w in self.table["warning"].to_list() if w]
