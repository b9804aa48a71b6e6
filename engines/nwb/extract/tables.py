"""Pages of any DynamicTable (electrodes, units, trials, ROIs, ...) read one page at a time.

A page reads, per column, only its own rows: one slice of each plain column, and for a
ragged column a slice of its index plus the items of those rows (or, when they are many,
the first few items of each row). Values the index already holds cost no read at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engines.nwb.errors import ObjectNotFound
from engines.nwb.extract._common import (
    ITEMS_SHOWN,
    as_text,
    child,
    format_items,
    is_numeric,
    item_text,
    read,
    ref_path,
)
from engines.nwb.extract.errors import InvalidRequest, UnsupportedData
from engines.nwb.index import ObjectInfo, child_path
from engines.nwb.nwbfile import NwbFile

__all__ = ["TablePage", "IntervalsPage", "table_columns", "read_column", "read_table_page", "read_intervals"]

_RAGGED_SLICE_BYTES = 1 << 20
"""A page's ragged items are read in one slice up to this size; beyond it, the first few items per row."""


@dataclass
class TablePage:
    """Rows ``offset`` .. ``offset + len(frame)`` of a table of ``total_rows``.

    ``frame`` has an ``id`` column and then the chosen columns; ``columns`` lists every column
    of the table (without ``id``) in the table's order, for column pickers.
    """

    frame: pd.DataFrame
    offset: int
    total_rows: int
    columns: list[str]


@dataclass
class IntervalsPage:
    """A page of a TimeIntervals table, with start and stop of its first ``max_rows`` rows for a timeline.

    When ``len(start) < page.total_rows`` the timeline shows only the first rows.
    """

    page: TablePage
    start: np.ndarray
    stop: np.ndarray


def table_columns(f: NwbFile, path: str) -> list[str]:
    """Column names in the table's order (its ``colnames`` attribute), from the index."""
    group = f.resolve(path)
    if group.kind != "group":
        raise UnsupportedData(f"'{path}' is not a table.")
    names = group.attrs.get("colnames")
    if isinstance(names, str):
        return [names]
    if isinstance(names, list):
        return [as_text(name) for name in names]
    return [
        n
        for n in group.children
        if n != "id"
        and not n.endswith("_index")
        and f.index.get(child_path(group.path, n)).kind in ("dataset", "soft_link")
    ]


def _row_count(f: NwbFile, path: str, names: list[str]) -> int:
    ids = child(f, path, "id")
    if ids is not None and ids.shape:
        return ids.shape[0]
    for name in names:
        info = child(f, path, f"{name}_index") or child(f, path, name)
        if info is not None and info.shape:
            return info.shape[0]
    raise UnsupportedData(f"'{path}' has neither an id column nor any column, so it is not a table.")


def _cells(f: NwbFile, info: ObjectInfo, values: np.ndarray) -> Any:
    """Stored values as cells a person can read: text for strings and references, numbers as they are."""
    if info.dtype == "ref":
        return [ref_path(f, v) for v in values]
    if values.ndim > 1:
        return [format_items(f, row) for row in values]
    if values.dtype.kind in "SO" or values.dtype.names:
        return [as_text(v) if isinstance(v, (bytes, str)) else item_text(f, v) for v in values]
    return values


def _ends(f: NwbFile, index: ObjectInfo, lo: int, hi: int) -> tuple[int, np.ndarray]:
    """Start of row ``lo`` and the ends of rows ``lo`` .. ``hi - 1`` from a VectorIndex (one read)."""
    ends = np.asarray(read(f, index, slice(max(lo - 1, 0), hi)), dtype=np.int64)
    if lo == 0:
        return 0, ends
    return int(ends[0]), ends[1:]


def _ragged_cells(
    f: NwbFile, path: str, name: str, data: ObjectInfo, index: ObjectInfo, lo: int, hi: int
) -> list[str]:
    """'[n items] a, b, c' per row; the items come from one slice, or from a few per row when the page's are
    many."""
    outer = child(f, path, f"{name}_index_index")
    if outer is not None:  # doubly ragged: show how many lists each row holds
        first, outer_ends = _ends(f, outer, lo, hi)
        counts = np.diff(np.concatenate([[first], outer_ends]))
        return [f"[{n} {'list' if n == 1 else 'lists'}]" for n in counts]
    first, ends = _ends(f, index, lo, hi)
    starts = np.concatenate([[first], ends[:-1]]).astype(np.int64)
    item_bytes = (np.dtype(data.dtype).itemsize if is_numeric(data) else 64) * int(
        np.prod((data.shape or [0])[1:])
    )
    last = int(ends[-1]) if len(ends) else first
    if (last - first) * item_bytes <= _RAGGED_SLICE_BYTES:
        items = read(f, data, slice(first, last))
        pieces = [items[s - first : e - first] for s, e in zip(starts, ends)]
    else:
        pieces = [read(f, data, slice(s, min(e, s + ITEMS_SHOWN))) for s, e in zip(starts, ends)]
    return [format_items(f, piece, count=int(e - s)) for piece, s, e in zip(pieces, starts, ends)]


def read_column(f: NwbFile, path: str, name: str, lo: int, hi: int) -> Any:
    """Rows ``lo`` .. ``hi - 1`` of one column as cells (numbers, text, or short text for ragged rows)."""
    data = child(f, path, name)
    if data is None or data.kind != "dataset":
        return ["(missing in file)"] * (hi - lo)
    index = child(f, path, f"{name}_index")
    if index is not None and index.kind == "dataset":
        return _ragged_cells(f, path, name, data, index, lo, hi)
    return _cells(f, data, read(f, data, slice(lo, hi)))


def read_table_page(
    f: NwbFile, path: str, offset: int = 0, limit: int = 100, columns: Sequence[str] | None = None
) -> TablePage:
    """Rows ``offset`` .. ``offset + limit - 1`` of the table at ``path`` (all columns, or ``columns``).

    Costs one read per column (two for ragged ones), sized by the page, not the table.
    References show as object paths, DynamicTableRegion cells as row numbers of the table
    they point to, ragged cells as ``[n items] first, items, …``.
    """
    if offset < 0 or limit < 0:
        raise InvalidRequest("offset and limit must not be negative.")
    names = table_columns(f, path)
    chosen = names if columns is None else list(columns)
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise ObjectNotFound(
            f"The table '{path}' has no column '{unknown[0]}'. Its columns: {', '.join(names)}."
        )
    total = _row_count(f, path, names)
    lo, hi = min(offset, total), min(offset + limit, total)
    ids = child(f, path, "id")
    cells: dict[str, Any] = {"id": read(f, ids, slice(lo, hi)) if ids is not None else np.arange(lo, hi)}
    for name in chosen:
        cells[name] = read_column(f, path, name, lo, hi)
    frame = pd.DataFrame(cells, index=pd.RangeIndex(lo, hi))
    return TablePage(frame=frame, offset=offset, total_rows=total, columns=names)


def read_intervals(
    f: NwbFile, path: str, offset: int = 0, limit: int = 100, max_rows: int = 100_000
) -> IntervalsPage:
    """A page of a TimeIntervals table plus start/stop of its first ``max_rows`` rows (two reads, 16 bytes a
    row)."""
    page = read_table_page(f, path, offset, limit)
    start, stop = child(f, path, "start_time"), child(f, path, "stop_time")
    if start is None or stop is None:
        raise UnsupportedData(
            f"'{path}' has no start_time/stop_time columns, so it is not a table of intervals. "
            "Open it in the Table view."
        )
    rows = min(page.total_rows, max_rows)
    return IntervalsPage(
        page=page,
        start=np.asarray(read(f, start, slice(0, rows)), dtype=np.float64),
        stop=np.asarray(read(f, stop, slice(0, rows)), dtype=np.float64),
    )
