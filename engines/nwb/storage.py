"""How a data set is stored, and what reading a window of it costs: for the storage view and its warning.

Facts come from the data set's header (h5py's creation properties: layout, chunk shape, each
filter with its settings), which the index walk already cached. A window's cost is counted
the way the reader fetches it (``engines.nwb.extract._chunks``: the chunks it touches, whole
when filtered, the rows' bands when not; ranges merged and split as ``fetch_spans`` does), so
the view shows the requests and bytes the window really costs, beside the whole chunks a
plain HDF5 reader (h5py over remfile) would fetch. Once the workspace holds a rechunked copy
(``engines.nwb.copies``), the cost is that of the copy's chunks on disk.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field, replace
from typing import Any

import h5py

from engines.errors import NeurodeckError
from engines.io.range_file import merge_spans, reader_of, request_parts
from engines.nwb.copies import copy_chunk_rows, rechunked_copy
from engines.nwb.errors import NwbReadError
from engines.nwb.extract._chunks import touched_chunks
from engines.nwb.extract.timeseries import DEFAULT_WINDOW_S, series_layout
from engines.nwb.index import child_path
from engines.nwb.nwbfile import NwbFile

__all__ = [
    "StorageFacts",
    "StorageReport",
    "WindowCost",
    "dataset_path",
    "size_text",
    "storage_facts",
    "storage_report",
    "verdict",
    "window_cost",
    "window_rows",
]

_LAYOUTS = {h5py.h5d.COMPACT: "compact", h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.CHUNKED: "chunked"}
_BLOSC_CODECS = ("blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd")
_BLOSC_SHUFFLE = ("no shuffle", "byte shuffle", "bit shuffle")


@dataclass(frozen=True)
class StorageFacts:
    """Layout, chunking and filters of one data set, and of its rechunked copy when there is one."""

    path: str
    shape: tuple[int, ...]
    dtype: str
    itemsize: int
    layout: str
    chunks: tuple[int, ...] | None
    filters: list[str]
    n_chunks: int
    """Chunks in the grid (written or not); 0 when not chunked."""
    chunk_bytes: int
    """Bytes of one chunk before compression."""
    copy_chunks: tuple[int, ...] | None = None
    copy_compressor: str = ""
    remote: bool = False


@dataclass(frozen=True)
class WindowCost:
    """What reading rows [lo, hi) of some columns costs, counted as the reader fetches them."""

    lo: int
    hi: int
    columns: int
    wanted_bytes: int
    chunks: int
    """Chunks touched (of the copy, when reads use it)."""
    chunk_rows: tuple[int, int] = (0, 0)
    chunk_columns: tuple[int, int] = (0, 0)
    """Indexes [first, last + 1) of the touched chunks along rows and columns of the grid."""
    whole_chunk_bytes: int = 0
    """Bytes of the touched chunks as stored: what a reader that fetches whole chunks downloads."""
    fetch_bytes: int = 0
    requests: int = 0
    """Bytes and requests this reader makes (0 requests for local files and copies)."""
    from_copy: bool = False
    copy_chunks: int = 0
    """Chunks a copy (existing or to be made) touches for the same rows."""
    notes: list[str] = field(default_factory=list)


def dataset_path(f: NwbFile, path: str) -> str:
    """The data set ``path`` names: itself, or a group's ``data`` (TimeSeries and the like)."""
    info = f.resolve(path)
    if info.kind == "group":
        data = child_path(info.path, "data")
        if data not in f.index or f.resolve(data).kind != "dataset":
            raise NwbReadError(
                f"'{path}' is a group without a 'data' data set; pick a data set to see its storage."
            )
        return f.resolve(data).path
    if info.kind != "dataset":
        raise NwbReadError(f"'{path}' is not a data set.")
    return info.path


def storage_facts(f: NwbFile, path: str) -> StorageFacts:
    """Layout, chunks and filters of the data set at ``path`` (a group: its ``data``). The header only."""
    where = dataset_path(f, path)
    dset = f.dataset(where)
    dcpl = dset.id.get_create_plist()
    layout = _LAYOUTS.get(dcpl.get_layout(), "virtual")
    if layout == "contiguous" and dcpl.get_external_count():
        layout = "contiguous, in external files"
    shape = tuple(int(n) for n in (dset.shape or ()))
    chunks = tuple(int(n) for n in dset.chunks) if dset.chunks else None
    n_chunks = math.prod(math.ceil(n / c) for n, c in zip(shape, chunks)) if chunks and shape else 0
    itemsize = dset.dtype.itemsize
    copy = rechunked_copy(f, where)
    return StorageFacts(
        path=where,
        shape=shape,
        dtype=dset.dtype.str if dset.dtype.kind in "biufc" else str(dset.dtype),
        itemsize=itemsize,
        layout=layout,
        chunks=chunks,
        filters=[_filter_text(*dcpl.get_filter(i)) for i in range(dcpl.get_nfilters())],
        n_chunks=n_chunks,
        chunk_bytes=math.prod(chunks) * itemsize if chunks else 0,
        copy_chunks=tuple(copy.chunks) if copy is not None else None,
        copy_compressor=str(copy.compressor) if copy is not None else "",
        remote=reader_of(f.h5) is not None,
    )


def _filter_text(code: int, _flags: int, values: tuple[int, ...], name: bytes) -> str:
    """One filter in words, with its settings: ``gzip (level 4)``, ``blosc (zstd, level 5, bit shuffle)``."""
    if code == h5py.h5z.FILTER_DEFLATE:
        return f"gzip (level {values[0] if values else '?'})"
    if code == h5py.h5z.FILTER_SHUFFLE:
        return "shuffle"
    if code == h5py.h5z.FILTER_FLETCHER32:
        return "fletcher32 checksum"
    if code == h5py.h5z.FILTER_SCALEOFFSET:
        return "scale-offset"
    if code == h5py.h5z.FILTER_SZIP:
        return "szip"
    if code == 32001 and len(values) >= 7:
        codec = _BLOSC_CODECS[values[6]] if values[6] < len(_BLOSC_CODECS) else f"codec {values[6]}"
        shuffle = _BLOSC_SHUFFLE[values[5]] if values[5] < len(_BLOSC_SHUFFLE) else "shuffle ?"
        return f"blosc ({codec}, level {values[4]}, {shuffle})"
    if code == 32015:
        return f"zstd (level {values[0] if values else 'default'})"
    label = name.decode("utf-8", "replace").strip() if isinstance(name, bytes) else str(name)
    return f"{label or 'filter'} (id {code})"


def window_cost(f: NwbFile, path: str, lo: int, hi: int, columns: list[int] | None = None) -> WindowCost:
    """What reading rows [lo, hi) of ``columns`` (None: all) of the data set at ``path`` costs.

    Reads the chunk index for the touched chunks (cached after the first read of the data set)."""
    facts = storage_facts(f, path)
    shape = facts.shape or (1,)
    lo, hi = max(0, min(lo, shape[0])), max(0, min(hi, shape[0]))
    width = math.prod(shape[1:])
    picked = list(range(width)) if columns is None else sorted({int(c) for c in columns})
    wanted = (hi - lo) * len(picked) * facts.itemsize
    copy = rechunked_copy(f, facts.path)
    rows = copy.chunks[0] if copy is not None else copy_chunk_rows(shape, facts.itemsize)
    copy_chunks = (math.ceil(hi / rows) - lo // rows) if hi > lo else 0
    if copy is not None:
        return _copy_cost(copy, lo, hi, len(picked), wanted, copy_chunks)
    base = WindowCost(
        lo=lo, hi=hi, columns=len(picked), wanted_bytes=wanted, chunks=0, copy_chunks=copy_chunks
    )
    if hi <= lo:
        return base
    if facts.chunks is None:
        nbytes = (hi - lo) * width * facts.itemsize
        requests = len(request_parts([(0, nbytes)])) if facts.remote else 0
        return replace(base, whole_chunk_bytes=nbytes, fetch_bytes=nbytes, requests=requests)
    return _chunked_cost(f, facts, base, None if columns is None else picked)


def _chunked_cost(f: NwbFile, facts: StorageFacts, base: WindowCost, columns: list[int] | None) -> WindowCost:
    """``base`` with the chunks rows [lo, hi) of ``columns`` touch, and what fetching them costs."""
    assert facts.chunks is not None  # the caller's check
    lo, hi = base.lo, base.hi
    picked = columns if columns is not None else list(range(math.prod(facts.shape[1:])))
    touched = touched_chunks(f.dataset(facts.path), lo, hi, columns, bands=True, reader=reader_of(f.h5))
    chunk_width = facts.chunks[1] if len(facts.chunks) > 1 else 1
    grid_rows = (lo // facts.chunks[0], math.ceil(hi / facts.chunks[0]))
    columns_grid = sorted({c // chunk_width for c in picked}) or [0]
    base = replace(base, chunk_rows=grid_rows, chunk_columns=(columns_grid[0], columns_grid[-1] + 1))
    if touched is None:  # too many chunks to locate: estimate from the grid
        n = (grid_rows[1] - grid_rows[0]) * len(columns_grid)
        whole = n * facts.chunk_bytes
        return replace(
            base,
            chunks=n,
            whole_chunk_bytes=whole,
            fetch_bytes=whole,
            requests=n if facts.remote else 0,
            notes=[f"over {n:,} chunks: estimated from the chunk grid"],
        )
    merged = merge_spans([(s.start, s.stop) for s in touched if s.offset is not None], sys.maxsize)
    return replace(
        base,
        chunks=len(touched),
        whole_chunk_bytes=sum(s.size for s in touched if s.offset is not None),
        fetch_bytes=sum(b - a for a, b in merged),
        requests=len(request_parts(merged)) if facts.remote else 0,
    )


def _copy_cost(copy: Any, lo: int, hi: int, columns: int, wanted: int, n: int) -> WindowCost:
    """The cost of rows [lo, hi) from a rechunked copy: its chunk files' sizes on disk, no requests."""
    rows = copy.chunks[0]
    first, last = lo // rows, math.ceil(hi / rows) if hi > lo else lo // rows
    suffix = ".0" * (len(copy.shape) - 1)
    store = getattr(copy.store, "path", None)
    sizes = [
        os.path.getsize(os.path.join(store, f"{i}{suffix}"))
        for i in range(first, last)
        if store and os.path.exists(os.path.join(store, f"{i}{suffix}"))
    ]
    return WindowCost(
        lo=lo,
        hi=hi,
        columns=columns,
        wanted_bytes=wanted,
        chunks=last - first,
        chunk_rows=(first, last),
        chunk_columns=(0, 1),
        whole_chunk_bytes=sum(sizes),
        fetch_bytes=sum(sizes),
        requests=0,
        from_copy=True,
        copy_chunks=n,
    )


def size_text(nbytes: float) -> str:
    """Bytes as a person reads them: ``596 KB``, ``57 MB``, ``1.9 KB``."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if nbytes < 1000 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" or nbytes >= 10 else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"


def verdict(facts: StorageFacts, cost: WindowCost) -> str | None:
    """A plain-words warning when the chunking makes windowed reads pathological, with numbers; else None.

    Pathological: a short read touches 16 or more chunks, or downloads 64 MB or more, of stored chunks
    at least 10 times the data asked for."""
    if cost.from_copy or not facts.chunks or cost.chunks == 0:
        return None
    heavy = cost.whole_chunk_bytes >= 10 * max(cost.wanted_bytes, 1)
    if not heavy or (cost.chunks < 16 and cost.whole_chunk_bytes < 64 << 20):
        return None
    rows = cost.hi - cost.lo
    text = (
        f"Reading {rows:,} row{'s' if rows != 1 else ''} × {cost.columns:,} channel"
        f"{'s' if cost.columns != 1 else ''} touches {cost.chunks:,} chunks of "
        f"{size_text(facts.chunk_bytes)}: {size_text(cost.whole_chunk_bytes)} for "
        f"{size_text(cost.wanted_bytes)} of data; a rechunked copy would read {cost.copy_chunks:,} "
        f"chunk{'s' if cost.copy_chunks != 1 else ''}."
    )
    if facts.filters:
        return text + " The chunks are compressed, so each must be fetched and decompressed whole."
    if facts.remote:
        return text + (
            f" The chunks are not compressed, so Neurodeck fetches only the rows' bytes in each "
            f"({size_text(cost.fetch_bytes)} in {cost.requests:,} concurrent requests), but every read "
            "still costs that many requests."
        )
    return text


SHORT_READ_ROWS = 10
"""The short read the warning is about (a few samples of every channel: scrolling, a spike's snippet)."""
_SLICE_ROWS = 1000
"""Rows of the slice shown for data sets that are not a series' samples."""


@dataclass(frozen=True)
class StorageReport:
    """Everything the storage view shows: facts, the visible window's cost, a short read's, the warning."""

    facts: StorageFacts
    window: WindowCost
    window_label: str
    short: WindowCost
    warning: str | None


def window_rows(f: NwbFile, path: str, time_window: tuple[float, float] | None) -> tuple[int, int, str]:
    """Rows [lo, hi) of the data set at ``path`` shown in ``time_window`` (a series' samples; None: its
    first 10 s), or its first rows when it is no series' data; with a label saying which."""
    where = dataset_path(f, path)
    parent = where.rsplit("/", 1)[0] or "/"
    if where.endswith("/data") and f.index.is_a(parent, "TimeSeries"):
        try:
            layout = series_layout(f, parent)
            t0, t1 = time_window or (layout.time_range()[0], layout.time_range()[0] + DEFAULT_WINDOW_S)
            lo, hi = layout.index_range(t0, t1)
            return lo, hi, f"{t0:g}–{t1:g} s"
        except NeurodeckError:  # no usable time axis: the first rows, like any data set
            pass
    shape = f.resolve(where).shape or [1]
    return 0, min(shape[0], _SLICE_ROWS), "the first rows"


def storage_report(f: NwbFile, path: str, time_window: tuple[float, float] | None) -> StorageReport:
    """The storage view's content for ``path`` and the visible window; reads the header and chunk index."""
    facts = storage_facts(f, path)
    lo, hi, label = window_rows(f, path, time_window)
    window = window_cost(f, facts.path, lo, hi)
    start = min(lo, max((facts.shape or (1,))[0] - SHORT_READ_ROWS, 0))
    short = window_cost(f, facts.path, start, start + SHORT_READ_ROWS)
    return StorageReport(facts, window, label, short, verdict(facts, short) or verdict(facts, window))
