"""One file's table as a Polars frame: which columns it has (from the index, no reads) and reading them.

Plain and text columns are read with the table extraction (``extract.tables.read_column``:
text for strings and references, numbers as they are). Ragged columns (spike_times,
electrodes) become two columns: ``<name>`` a list per row and ``<name>_count`` the length of
each list, which costs only the column's index (a few bytes a row), so counting spikes never
reads the spikes. The extraction shows ragged cells as short text for pages; queries need the
values, so the lists are built here. Before h5py decodes anything, the byte ranges of every
column a read needs are fetched together (``prefetch_rows``): a remote file's columns cost one
round trip, its ragged items a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import h5py
import numpy as np
import polars as pl

from engines.io.range_file import reader_of
from engines.nwb.extract._chunks import RowRead, prefetch_rows
from engines.nwb.extract._common import as_text, child, indexed_values, is_numeric, read
from engines.nwb.extract.errors import UnsupportedData
from engines.nwb.extract.tables import read_column, table_columns
from engines.nwb.index import ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = ["Column", "file_columns", "row_count", "read_frame", "PATH_COLUMN", "ROW_COLUMN"]

PATH_COLUMN = "_nwb_path"
ROW_COLUMN = "_table_row"

_FEW_CHUNKS = 64
"""A column of more chunks is prefetched without asking which of them are cached (that costs a call each)."""

Kind = Literal["id", "plain", "text", "array", "list", "count"]


@dataclass(frozen=True)
class Column:
    """An output column: its name, the dataset it comes from, how it is read and its Polars type."""

    name: str
    source: str
    kind: Kind
    dtype: pl.DataType


def _polars_type(info: ObjectInfo) -> pl.DataType:
    return pl.Series(np.empty(0, dtype=np.dtype(info.dtype))).dtype


def _columns_of(f: NwbFile, table: str, name: str) -> list[Column]:
    data = child(f, table, name)
    if data is None or data.kind != "dataset" or data.error:
        return []
    index = child(f, table, f"{name}_index")
    inner = _polars_type(data) if is_numeric(data) else pl.String()
    if index is not None and child(f, table, f"{name}_index_index") is not None:
        return [Column(f"{name}_count", f"{name}_index_index", "count", pl.Int64())]
    if index is not None:
        return [
            Column(name, name, "list", pl.List(inner)),
            Column(f"{name}_count", f"{name}_index", "count", pl.Int64()),
        ]
    if is_numeric(data) and len(data.shape or []) > 1:
        return [Column(name, name, "array", pl.List(inner))]
    return [Column(name, name, "plain" if is_numeric(data) else "text", inner)]


def file_columns(f: NwbFile, table: str) -> list[Column]:
    """The table's columns in its order (``id`` first), from the index alone; ``UnsupportedData`` when
    ``table`` is no table."""
    if table not in f.index:
        raise UnsupportedData(f"This file has no table at '{table}'.")
    names = table_columns(f, table)
    ids = child(f, table, "id")
    first = [Column("id", "id", "id", _polars_type(ids) if ids is not None else pl.Int64())]
    return first + [column for name in names for column in _columns_of(f, table, name)]


def row_count(f: NwbFile, table: str) -> int:
    ids = child(f, table, "id")
    if ids is not None and ids.shape:
        return int(ids.shape[0])
    for name in table_columns(f, table):
        info = child(f, table, f"{name}_index") or child(f, table, name)
        if info is not None and info.shape:
            return int(info.shape[0])
    return 0


def _ends(f: NwbFile, index: ObjectInfo, lo: int, hi: int) -> tuple[int, np.ndarray]:
    """Where row ``lo``'s items start and where rows ``lo`` .. ``hi - 1`` end (one read of the index)."""
    ends = np.asarray(read(f, index, slice(max(lo - 1, 0), hi)), dtype=np.int64)
    return (0, ends) if lo == 0 else (int(ends[0]), ends[1:])


def _lists(f: NwbFile, data: ObjectInfo, first: int, ends: np.ndarray, dtype: pl.DataType) -> pl.Series:
    items = read(f, data, slice(first, int(ends[-1]) if len(ends) else first))
    if not is_numeric(data):
        items = np.asarray([as_text(v) for v in items], dtype=object)
    pieces = np.split(items, ends[:-1] - first) if len(ends) else []
    return pl.Series([list(p) if not is_numeric(data) else p for p in pieces], dtype=dtype)


def _prefetch(f: NwbFile, infos: Iterable[ObjectInfo], lo: int, hi: int) -> None:
    prefetch_rows(f, [RowRead(info, lo, hi) for info in infos if info.shape and not _cached(f, info)])


def _cached(f: NwbFile, info: ObjectInfo) -> bool:
    """Whether a column's stored bytes are in the remote reader's block cache already (the open fetched
    the file's end, where a small file's columns often lie): h5py then reads them with no request,
    where a prefetch would fetch them again."""
    reader = reader_of(f.h5)
    if reader is None or indexed_values(info) is not None:
        return False
    try:
        spans = _stored(f.dataset(info.path).id)
    except (OSError, RuntimeError, ValueError):
        return False
    return spans is not None and all(
        reader.has_block(b) for offset, size in spans for b in reader.blocks(offset, size)
    )


def _stored(dataset: h5py.h5d.DatasetID) -> list[tuple[int, int]] | None:
    """(offset, size) of a dataset's bytes in the file: its one extent, or its chunks (a few only)."""
    offset = dataset.get_offset()
    if offset is not None:
        return [(offset, dataset.get_storage_size())]
    if dataset.get_create_plist().get_layout() != h5py.h5d.CHUNKED or dataset.get_num_chunks() > _FEW_CHUNKS:
        return None
    chunks = [dataset.get_chunk_info(i) for i in range(dataset.get_num_chunks())]
    return [(c.byte_offset, c.size) for c in chunks if c.byte_offset is not None]


def read_frame(f: NwbFile, table: str, columns: list[Column], lo: int, hi: int) -> pl.DataFrame:
    """Rows ``lo`` .. ``hi - 1`` of the given columns (``Column.dtype`` each), after ``_table_row``."""
    infos = {c.source: child(f, table, c.source) for c in columns}
    ragged = {c.source: child(f, table, f"{c.source}_index") for c in columns if c.kind == "list"}
    _prefetch(f, [i for i in [*infos.values(), *ragged.values()] if i is not None], max(lo - 1, 0), hi)
    ranges = {name: _ends(f, index, lo, hi) for name, index in ragged.items() if index is not None}
    data = [(infos[n], first, int(e[-1])) for n, (first, e) in ranges.items() if len(e)]
    prefetch_rows(f, [RowRead(info, a, b) for info, a, b in data if info is not None and info.shape])
    cells: dict[str, pl.Series] = {ROW_COLUMN: pl.Series(np.arange(lo, hi), dtype=pl.Int64())}
    for column in columns:
        info = infos[column.source]
        if info is None:  # a table without an id dataset (the only column that may lack one): rows numbered
            cells[column.name] = pl.Series(np.arange(lo, hi), dtype=column.dtype)
        elif column.kind == "id":
            cells[column.name] = pl.Series(read(f, info, slice(lo, hi)), dtype=column.dtype)
        elif column.kind == "count":
            first, ends = _ends(f, info, lo, hi)
            cells[column.name] = pl.Series(np.diff(np.concatenate([[first], ends])), dtype=column.dtype)
        elif column.kind == "list":
            first, ends = ranges[column.source]
            cells[column.name] = _lists(f, info, first, ends, column.dtype)
        elif column.kind == "array":
            values = read(f, info, slice(lo, hi))
            cells[column.name] = pl.Series([row.ravel() for row in values], dtype=column.dtype)
        else:
            cells[column.name] = pl.Series(read_column(f, table, column.source, lo, hi), dtype=column.dtype)
    return pl.DataFrame(cells)
