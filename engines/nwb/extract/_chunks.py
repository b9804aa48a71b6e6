"""Fetch the bytes of a data window with concurrent requests before h5py decodes them.

HDF5 reads a selection chunk by chunk, one read after another; over HTTP each read is a
round trip, so a 10-chunk window costs 10 round trips in a row. Here the window's chunks
are located first (``get_chunk_info_by_coord``: the chunk index, metadata already cached
after the first read of the dataset) and fetched together (``RangeFile.fetch_spans``), so
h5py then reads them from memory: one round trip for the window. Unfiltered chunks are read
here instead (``read_unfiltered_rows``): only the rows' bytes inside each chunk, where h5py
would fetch every touched chunk whole. Local and LINDI files are left to h5py (``reader_of``
finds no range reader): their reads cost no round trips. Data sets with a rechunked copy in
the workspace are read from it (``engines.nwb.copies``) and fetch nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np

from engines.io.range_file import RangeFile, reader_of
from engines.nwb.copies import rechunked_copy
from engines.nwb.extract._chunk_index import chunk_locations
from engines.nwb.extract._common import indexed_values
from engines.nwb.index import ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = [
    "ChunkSpan",
    "RowRead",
    "prefetch_rows",
    "read_unfiltered_rows",
    "split_rows",
    "touched_chunks",
    "unfiltered",
]

_MAX_CHUNKS = 4096
"""Windows touching more chunks than this are left to h5py (tiny chunks: locating them would cost more)."""


@dataclass(frozen=True)
class RowRead:
    """Rows [lo, hi) of a 1-D or 2-D dataset about to be read, with the columns wanted (None: all).

    ``bands``: the read decodes unfiltered chunks itself (``read_unfiltered_rows``), so only the rows'
    bytes inside each chunk are fetched, not whole chunks."""

    info: ObjectInfo
    lo: int
    hi: int
    columns: Sequence[int] | None = None
    bands: bool = False


@dataclass(frozen=True)
class ChunkSpan:
    """One chunk a read touches: where it starts (rows, columns), where it is stored, the bytes needed."""

    row: int
    column: int
    offset: int | None
    """File offset of the chunk; None when it was never written (it reads as the fill value)."""
    size: int
    """Stored (compressed) bytes of the chunk."""
    start: int
    stop: int
    """File bytes [start, stop) the read needs: the whole chunk, or the rows' band of an unfiltered one."""


def prefetch_rows(f: NwbFile, reads: Sequence[RowRead]) -> int:
    """Fetch what the given reads will ask HDF5 for, concurrently; returns the requests made (0 for local
    files, and for data sets read from a rechunked copy)."""
    reader = reader_of(f.h5)
    if reader is None:
        return 0
    spans: list[tuple[int, int]] = []
    for read in reads:
        if read.hi <= read.lo or indexed_values(read.info) is not None:
            continue
        if rechunked_copy(f, read.info.path) is not None:
            continue
        try:
            found = _spans(f.dataset(read.info.path), read, reader)
        except (
            OSError,
            RuntimeError,
            ValueError,
        ):  # unusual storage (virtual, external): h5py reads it itself
            found = None
        if found is None:
            return 0
        spans.extend(found)
    return reader.fetch_spans(spans) if spans else 0


def unfiltered(dset: Any) -> bool:
    """Chunked with no filter (no compression, shuffle, checksum): a chunk's rows lie in plain bytes."""
    return dset.chunks is not None and dset.id.get_create_plist().get_nfilters() == 0


def _spans(dset: Any, read: RowRead, reader: RangeFile | None = None) -> list[tuple[int, int]] | None:
    """Byte ranges in the file holding the read's rows, or None when they cannot be told cheaply."""
    shape = dset.shape
    if not shape or len(shape) > 2:
        return None
    if dset.chunks is None:
        row_bytes = prod(shape[1:]) * dset.dtype.itemsize
        offset = dset.id.get_offset()
        return None if offset is None else [(offset + read.lo * row_bytes, offset + read.hi * row_bytes)]
    cache_bytes = dset.id.get_access_plist().get_chunk_cache()[1]
    big = prod(dset.chunks) * dset.dtype.itemsize > cache_bytes
    # a chunk over the chunk cache's size is not cached: HDF5 reads just the selected rows
    touched = touched_chunks(dset, read.lo, read.hi, read.columns, bands=read.bands or big, reader=reader)
    if touched is None:
        return None
    return [(span.start, span.stop) for span in touched if span.offset is not None]


def touched_chunks(
    dset: Any, lo: int, hi: int, columns: Sequence[int] | None, bands: bool, reader: RangeFile | None = None
) -> list[ChunkSpan] | None:
    """The chunks rows [lo, hi) of ``columns`` (None: all) lie in, with the bytes a read needs from each:
    whole chunks, or with ``bands`` and no filters only the rows' band. None when not chunked, not 1-D or
    2-D, or over 4,096 chunks. With the file's range ``reader`` the chunks are located from the index a
    tree level per round trip (``chunk_locations``), else by HDF5 (cached after the first read)."""
    shape = dset.shape
    if dset.chunks is None or not shape or len(shape) > 2:
        return None
    itemsize = dset.dtype.itemsize
    rows, width = dset.chunks[0], (dset.chunks[1] if len(shape) == 2 else 1)
    if len(shape) == 1 or columns is None:
        column_starts = list(range(0, prod(shape[1:]), width))
    else:
        column_starts = sorted({int(c) // width * width for c in columns})
    row_starts = range(lo // rows * rows, hi, rows)
    if len(row_starts) * len(column_starts) > _MAX_CHUNKS:
        return None
    if not row_starts or not column_starts:
        return []
    first = (row_starts[0], column_starts[0]) if len(shape) == 2 else (row_starts[0],)
    last = (row_starts[-1], column_starts[-1]) if len(shape) == 2 else (row_starts[-1],)
    located = chunk_locations(reader, dset, first, last) if reader is not None else None
    partial = bands and unfiltered(dset)
    found = []
    for row in row_starts:
        for column in column_starts:
            where = (row, column) if len(shape) == 2 else (row,)
            if located is not None:
                offset, size = located.get(where, (None, 0))
            else:
                info = dset.id.get_chunk_info_by_coord(where)
                offset = None if info.byte_offset is None else int(info.byte_offset)
                size = int(info.size)
            start, stop = (offset or 0), (offset or 0) + size
            if partial and offset is not None:
                row_bytes = width * itemsize
                start = offset + (max(lo, row) - row) * row_bytes
                stop = offset + (min(hi, row + rows) - row) * row_bytes
            found.append(ChunkSpan(row, column, offset, size, start, stop))
    return found


def read_unfiltered_rows(
    f: NwbFile, info: ObjectInfo, lo: int, hi: int, columns: list[int]
) -> np.ndarray | None:
    """Rows [lo, hi) of ``columns`` of a remote unfiltered chunked data set from just their bytes in each
    chunk, or None where h5py should read (local files, filters, a rechunked copy, unusual storage).

    HDF5 reads a chunk that fits its chunk cache whole: 10 rows of a data set chunked one channel per
    596 KB chunk cost 57 MB. Unfiltered chunks are plain row-major arrays, so the rows' bands are fetched
    (concurrently, merged; usually already by ``prefetch_rows`` with ``bands``) and laid side by side here.
    """
    reader = reader_of(f.h5)
    if reader is None or indexed_values(info) is not None or rechunked_copy(f, info.path) is not None:
        return None
    try:
        dset = f.dataset(info.path)
        if not unfiltered(dset) or dset.dtype.kind not in "biuf":
            return None
        touched = touched_chunks(dset, lo, hi, columns, bands=True, reader=reader)
    except (OSError, RuntimeError, ValueError):
        return None
    if touched is None:
        return None
    reader.fetch_spans([(span.start, span.stop) for span in touched if span.offset is not None])
    width = dset.chunks[1] if len(dset.shape) == 2 else 1
    wanted = np.asarray(columns if len(dset.shape) == 2 else [0], dtype=np.intp)
    out = np.full((hi - lo, len(wanted)), dset.fillvalue, dtype=dset.dtype)
    for span in touched:
        first, last = max(lo, span.row), min(hi, span.row + dset.chunks[0])
        inside = (wanted >= span.column) & (wanted < span.column + width)
        if span.offset is None or not inside.any():
            continue
        band = np.frombuffer(reader.read_span(span.start, span.stop), dtype=dset.dtype)
        band = band.reshape(last - first, width)
        out[first - lo : last - lo, inside] = band[:, wanted[inside] - span.column]
    return out


def split_rows(
    blocks: Sequence[tuple[int, int]], row_bytes: int, limit: int, align: int
) -> list[list[tuple[int, int]]]:
    """The row ranges ``blocks`` in groups of at most ``limit`` bytes, ranges cut at multiples of ``align``
    rows where needed, so a window is fetched a group at a time within the reader's kept-bytes bound."""
    align = max(align, 1)
    per_group = max(limit // max(row_bytes, 1) // align * align, align)
    groups: list[list[tuple[int, int]]] = []
    size = per_group
    for lo, hi in blocks:
        start = lo
        while start < hi:
            stop = min((start // per_group + 1) * per_group, hi)
            if size + stop - start > per_group:
                groups.append([])
                size = 0
            groups[-1].append((start, stop))
            size += stop - start
            start = stop
    return groups
