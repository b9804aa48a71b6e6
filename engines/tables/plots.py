"""Plot specifications: the columns to draw, the (aggregated) data, and whether to datashade.

Scatter and line plots keep every point and say ``datashade`` past a threshold; bar charts and
heatmaps are aggregated here (the page gets one row per bar or cell); histograms get the one
column (sampled, seeded, past a cap, since a histogram's shape needs no more).
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from engines.tables.errors import TableError
from engines.tables.model import PLOT_KINDS, PlotSpec
from engines.tables.queries import check_columns

__all__ = ["build_plot_spec", "AGGREGATES", "DATASHADE_THRESHOLD"]

AGGREGATES = ("mean", "sum", "count", "median", "min", "max")
DATASHADE_THRESHOLD = 50_000
"""Above this many points a scatter or line plot should be rasterized rather than sent as glyphs."""
HISTOGRAM_MAX_VALUES = 1_000_000
MAX_BARS = 50
MAX_CELLS_PER_AXIS = 60


def _aggregate(column: str | None, agg: str) -> pl.Expr:
    if agg not in AGGREGATES:
        raise TableError(f"Unknown aggregate '{agg}'. Use one of: {', '.join(AGGREGATES)}.")
    if column is None or agg == "count":
        return pl.len().alias("count")
    return getattr(pl.col(column), agg)().alias(f"{agg}_{column}")


def _numeric(frame: pl.LazyFrame, column: str) -> bool:
    return frame.collect_schema()[column].is_numeric()


def _binned(frame: pl.LazyFrame, column: str, bins: int) -> pl.Expr:
    """A numeric column cut into ``bins`` equal bins, labelled by each bin's lower edge."""
    stats = frame.select(pl.col(column).min().alias("lo"), pl.col(column).max().alias("hi")).collect()
    lo, hi = stats["lo"][0], stats["hi"][0]
    if lo is None or hi is None or hi == lo:
        return pl.col(column).cast(pl.Float64)
    width = (hi - lo) / bins
    index = ((pl.col(column) - lo) / width).floor().clip(0, bins - 1)
    return (index * width + lo).cast(pl.Float64).alias(column)


def build_plot_spec(
    frame: pl.LazyFrame,
    table: str,
    kind: Literal["scatter", "line", "bar", "histogram", "heatmap"],
    x: str,
    y: str | None = None,
    by: str | None = None,
    color: str | None = None,
    agg: str = "mean",
    bins: int = 30,
    seed: int = 0,
) -> PlotSpec:
    """The spec + data for one plot. Costs one query of the needed columns (two for binned heatmaps)."""
    if kind not in PLOT_KINDS:
        raise TableError(f"Unknown plot kind '{kind}'. Use one of: {', '.join(PLOT_KINDS)}.")
    if not 1 <= bins <= 1000 or (kind == "heatmap" and bins > MAX_CELLS_PER_AXIS):
        limit = MAX_CELLS_PER_AXIS if kind == "heatmap" else 1000
        raise TableError(f"bins must be between 1 and {limit} for a {kind}.")
    check_columns(frame, [c for c in (x, y, by, color) if c], table)
    if kind in ("scatter", "line"):
        return _points(frame, table, kind, x, y, by)
    if kind == "histogram":
        return _histogram(frame, table, x, bins, seed)
    if kind == "bar":
        return _bars(frame, table, x, y, by, agg)
    return _heatmap(frame, table, x, y, color, agg, bins)


def _points(
    frame: pl.LazyFrame, table: str, kind: Literal["scatter", "line"], x: str, y: str | None, by: str | None
) -> PlotSpec:
    if y is None:
        raise TableError(f"A {kind} plot needs a y column as well as x.")
    columns = list(dict.fromkeys(c for c in (x, y, by) if c))
    plan = frame.select(columns).drop_nulls([x, y])
    if kind == "line":
        plan = plan.sort(x)
    data = plan.collect()
    shade = data.height > DATASHADE_THRESHOLD
    notes = (
        (f"{data.height:,} points: rasterize (datashade) instead of drawing each point.",) if shade else ()
    )
    return PlotSpec(
        kind, data, x, y, by=by, title=f"{y} vs {x} ({table})", datashade=shade, rows=data.height, notes=notes
    )


def _histogram(frame: pl.LazyFrame, table: str, x: str, bins: int, seed: int) -> PlotSpec:
    if not _numeric(frame, x):
        raise TableError(
            f"A histogram needs a numeric column; '{x}' is not. Use a bar chart of its counts instead."
        )
    data = frame.select(x).drop_nulls().collect()
    notes: tuple[str, ...] = ()
    if data.height > HISTOGRAM_MAX_VALUES:
        notes = (f"Drawn from a seeded sample of {HISTOGRAM_MAX_VALUES:,} of {data.height:,} values.",)
        data = data.sample(HISTOGRAM_MAX_VALUES, seed=seed)
    return PlotSpec(
        "histogram", data, x, bins=bins, title=f"Distribution of {x} ({table})", rows=data.height, notes=notes
    )


def _bars(frame: pl.LazyFrame, table: str, x: str, y: str | None, by: str | None, agg: str) -> PlotSpec:
    agg = "count" if y is None else agg
    value = _aggregate(y, agg)
    keys = [x] + ([by] if by and by != x else [])
    data = frame.group_by(keys).agg(value).collect()
    value_name = data.columns[-1]
    notes: tuple[str, ...] = ()
    groups = data.select(x).n_unique()
    if groups > MAX_BARS:
        top = (
            data.group_by(x).agg(pl.col(value_name).sum()).sort(value_name, descending=True).head(MAX_BARS)[x]
        )
        data = data.filter(pl.col(x).is_in(top.implode()))
        notes = (f"The {MAX_BARS} largest of {groups:,} groups are shown.",)
    data = data.sort(value_name, descending=True)
    title = f"{'Rows' if agg == 'count' else f'{agg} of {y}'} by {x} ({table})"
    return PlotSpec(
        "bar", data, x, value_name, by=by if by != x else None, title=title, rows=data.height, notes=notes
    )


def _heatmap(
    frame: pl.LazyFrame, table: str, x: str, y: str | None, color: str | None, agg: str, bins: int
) -> PlotSpec:
    if y is None or y == x:
        raise TableError(
            "A heatmap needs two different columns for x and y (and a color column to aggregate, or counts)."
        )
    notes = []
    axes = []
    for column in (x, y):
        distinct = frame.select(pl.col(column).n_unique()).collect().item()
        if _numeric(frame, column) and distinct > bins:
            axes.append(_binned(frame, column, bins))
            notes.append(f"{column} is cut into {bins} bins.")
        elif distinct > MAX_CELLS_PER_AXIS:
            raise TableError(
                f"'{column}' has {distinct:,} distinct values; a heatmap axis needs at most "
                f"{MAX_CELLS_PER_AXIS} (or a numeric column, which is binned)."
            )
        else:
            axes.append(pl.col(column))
    value = _aggregate(color, "count" if color is None else agg)
    data = frame.group_by(axes).agg(value).sort([x, y]).collect()
    value_name = data.columns[-1]
    return PlotSpec(
        "heatmap",
        data,
        x,
        y,
        color=value_name,
        title=f"{value_name} by {x} and {y} ({table})",
        rows=data.height,
        notes=tuple(notes),
    )
