"""Fetch the bytes of a data window with concurrent requests before h5py decodes them.

HDF5 reads a selection chunk by chunk, one read after another; over HTTP each read is a
round trip, so a 10-chunk window costs 10 round trips in a row. Here the window's chunks
are located first (``get_chunk_info_by_coord``: the chunk index, metadata already cached
after the first read of the dataset) and fetched together (``RangeFile.fetch_spans``), so
h5py then reads them from memory: one round trip for the window. Local and LINDI files are
left to h5py (``reader_of`` finds no range reader): their reads cost no round trips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

from engines.io.range_file import reader_of
from engines.nwb.extract._common import indexed_values
from engines.nwb.index import ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = ["RowRead", "prefetch_rows", "split_rows"]

_MAX_CHUNKS = 4096
"""Windows touching more chunks than this are left to h5py (tiny chunks: locating them would cost more)."""


@dataclass(frozen=True)
class RowRead:
    """Rows [lo, hi) of a 1-D or 2-D dataset about to be read, with the columns wanted (None: all)."""

    info: ObjectInfo
    lo: int
    hi: int
    columns: Sequence[int] | None = None


def prefetch_rows(f: NwbFile, reads: Sequence[RowRead]) -> int:
    """Fetch what the given reads will ask HDF5 for, concurrently; returns the requests made (0 for local
    files)."""
    reader = reader_of(f.h5)
    if reader is None:
        return 0
    spans: list[tuple[int, int]] = []
    for read in reads:
        if read.hi <= read.lo or indexed_values(read.info) is not None:
            continue
        try:
            found = _spans(f.dataset(read.info.path), read)
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


def _spans(dset: Any, read: RowRead) -> list[tuple[int, int]] | None:
    """Byte ranges in the file holding the read's rows, or None when they cannot be told cheaply."""
    shape = dset.shape
    if not shape or len(shape) > 2:
        return None
    itemsize = dset.dtype.itemsize
    row_bytes = prod(shape[1:]) * itemsize
    if dset.chunks is None:
        offset = dset.id.get_offset()
        return None if offset is None else [(offset + read.lo * row_bytes, offset + read.hi * row_bytes)]
    rows, width = dset.chunks[0], (dset.chunks[1] if len(shape) == 2 else 1)
    if len(shape) == 1 or read.columns is None:
        column_starts = list(range(0, prod(shape[1:]), width))
    else:
        column_starts = sorted({int(c) // width * width for c in read.columns})
    row_starts = range(read.lo // rows * rows, read.hi, rows)
    if len(row_starts) * len(column_starts) > _MAX_CHUNKS:
        return None
    cache_bytes = dset.id.get_access_plist().get_chunk_cache()[1]
    partial = (
        dset.compression is None
        and not dset.scaleoffset
        and not dset.shuffle
        and not dset.fletcher32
        and prod(dset.chunks) * itemsize > cache_bytes
    )
    spans = []
    for row in row_starts:
        for column in column_starts:
            info = dset.id.get_chunk_info_by_coord((row, column) if len(shape) == 2 else (row,))
            if info.byte_offset is None:
                continue
            start, stop = info.byte_offset, info.byte_offset + info.size
            if (
                partial
            ):  # a chunk over the chunk cache's size is not cached: HDF5 reads just the selected rows
                chunk_row = width * itemsize
                start = info.byte_offset + (max(read.lo, row) - row) * chunk_row
                stop = info.byte_offset + (min(read.hi, row + rows) - row) * chunk_row
            spans.append((int(start), int(stop)))
    return spans


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
