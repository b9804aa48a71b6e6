"""Structured table operations (no code from the user or the model): select, filter, sort, sample,
value counts, join. Each takes and returns a ``LazyFrame`` plan, so the same call works on an
uploaded table and on a file scanned lazily from disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import polars as pl

from engines.tables.errors import ColumnNotFound, TableError
from engines.tables.model import FILTER_OPS, Filter, SortKey

__all__ = [
    "check_columns",
    "build_filter",
    "select_rows",
    "sample_rows",
    "count_values",
    "join_frames",
    "JOIN_KINDS",
]

JOIN_KINDS = ("inner", "left", "right", "full", "semi", "anti")


def check_columns(frame: pl.LazyFrame, columns: Sequence[str], table: str) -> None:
    """``ColumnNotFound`` naming the columns there are, when any of ``columns`` is missing."""
    names = frame.collect_schema().names()
    for column in columns:
        if column not in names:
            raise ColumnNotFound(
                f"Table '{table}' has no column '{column}'. Its columns are: {', '.join(names)}."
            )


def _as_filter(item: Filter | Mapping[str, Any]) -> Filter:
    if isinstance(item, Filter):
        return item
    if isinstance(item, Mapping) and "column" in item and "op" in item:
        return Filter(str(item["column"]), item["op"], item.get("value"))
    raise TableError(f"A filter is {{'column': ..., 'op': ..., 'value': ...}}; got {item!r}.")


def _as_list(value: Any, op: str, size: int | None = None) -> list[Any]:
    if not isinstance(value, (list, tuple)) or (size is not None and len(value) != size):
        wanted = f"a list of {size} values" if size else "a list of values"
        raise TableError(f"The '{op}' filter needs {wanted}, got {value!r}.")
    return list(value)


def build_filter(item: Filter | Mapping[str, Any]) -> pl.Expr:
    """One filter as a Polars expression (no strings are evaluated: values are literals)."""
    f = _as_filter(item)
    if f.op not in FILTER_OPS:
        raise TableError(f"Unknown filter operator '{f.op}'. Use one of: {', '.join(FILTER_OPS)}.")
    col = pl.col(f.column)
    simple = {
        "==": col.__eq__,
        "!=": col.__ne__,
        ">": col.__gt__,
        ">=": col.__ge__,
        "<": col.__lt__,
        "<=": col.__le__,
    }
    if f.op in simple:
        return simple[f.op](pl.lit(f.value))
    if f.op == "in":
        return col.is_in(_as_list(f.value, f.op))
    if f.op == "not_in":
        return ~col.is_in(_as_list(f.value, f.op))
    if f.op == "between":
        low, high = _as_list(f.value, f.op, 2)
        return col.is_between(pl.lit(low), pl.lit(high))
    if f.op == "contains":
        return col.cast(pl.String).str.contains(str(f.value), literal=True)
    if f.op == "starts_with":
        return col.cast(pl.String).str.starts_with(str(f.value))
    return col.is_null() if f.op == "is_null" else col.is_not_null()


def _as_sort(item: SortKey | str | Mapping[str, Any]) -> SortKey:
    if isinstance(item, SortKey):
        return item
    if isinstance(item, str):
        return SortKey(item[1:], True) if item.startswith("-") else SortKey(item)
    if isinstance(item, Mapping) and "column" in item:
        return SortKey(str(item["column"]), bool(item.get("descending", False)))
    raise TableError(
        f"A sort key is a column name ('-volume' for descending) or {{'column', 'descending'}}; got {item!r}."
    )


def select_rows(
    frame: pl.LazyFrame,
    table: str,
    columns: Sequence[str] | None = None,
    filters: Sequence[Filter | Mapping[str, Any]] | None = None,
    sort: Sequence[SortKey | str | Mapping[str, Any]] | None = None,
    limit: int | None = None,
) -> pl.LazyFrame:
    """Filter (all conditions must hold), sort (nulls last), keep ``columns``, then the first ``limit``
    rows."""
    conditions = [_as_filter(f) for f in filters or []]
    keys = [_as_sort(s) for s in sort or []]
    check_columns(
        frame, [f.column for f in conditions] + [k.column for k in keys] + list(columns or []), table
    )
    if conditions:
        frame = frame.filter(pl.all_horizontal([build_filter(f) for f in conditions]))
    if keys:
        frame = frame.sort([k.column for k in keys], descending=[k.descending for k in keys], nulls_last=True)
    if columns:
        frame = frame.select(list(columns))
    if limit is not None:
        if limit < 0:
            raise TableError("limit must be zero or more rows.")
        frame = frame.head(limit)
    return frame


def sample_rows(frame: pl.LazyFrame, rows: int, n: int, seed: int) -> pl.LazyFrame:
    """``n`` rows chosen at random (the same ``seed`` always picks the same rows), in table order.

    Needs the table's row count; picks row numbers with NumPy and filters on them, so a lazy
    file is streamed, never loaded whole.
    """
    if n < 0:
        raise TableError("A sample needs zero or more rows.")
    chosen = np.sort(np.random.default_rng(seed).choice(rows, size=min(n, rows), replace=False))
    return (
        frame.with_row_index("__row")
        .filter(pl.col("__row").is_in(pl.Series(chosen, dtype=pl.UInt32).implode()))
        .drop("__row")
    )


def count_values(frame: pl.LazyFrame, table: str, column: str, limit: int = 20) -> pl.LazyFrame:
    """Most frequent values of a column with their count and share of rows (nulls counted as a value)."""
    check_columns(frame, [column], table)
    counts = frame.group_by(column).agg(pl.len().alias("count"))
    return (
        counts.with_columns((pl.col("count") / pl.col("count").sum()).alias("share"))
        .sort(["count", column], descending=[True, False], nulls_last=True)
        .head(limit)
    )


def join_frames(
    left: pl.LazyFrame,
    right: pl.LazyFrame,
    names: tuple[str, str],
    on: str | Sequence[str] | None = None,
    left_on: str | Sequence[str] | None = None,
    right_on: str | Sequence[str] | None = None,
    how: Literal["inner", "left", "right", "full", "semi", "anti"] = "inner",
) -> pl.LazyFrame:
    """Join two tables on shared key columns (``on``) or on differently named ones
    (``left_on``/``right_on``)."""
    if how not in JOIN_KINDS:
        raise TableError(f"Unknown join '{how}'. Use one of: {', '.join(JOIN_KINDS)}.")

    def listed(value: str | Sequence[str] | None) -> list[str]:
        return [value] if isinstance(value, str) else list(value or [])

    lkeys, rkeys = (listed(on), listed(on)) if on else (listed(left_on), listed(right_on))
    if not lkeys or len(lkeys) != len(rkeys):
        raise TableError(
            "Name the key columns: on='id', or left_on and right_on with the same number of columns."
        )
    check_columns(left, lkeys, names[0])
    check_columns(right, rkeys, names[1])
    try:
        return left.join(right, left_on=lkeys, right_on=rkeys, how=how, suffix="_right", coalesce=True)
    except pl.exceptions.PolarsError as exc:
        raise TableError(f"The join failed: {str(exc).splitlines()[0]}") from exc
