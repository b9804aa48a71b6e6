"""The ``rechunk`` job kind: a zarr copy of one data set, chunked for windowed reads, in the workspace.

A data set chunked one channel per chunk (Neurosift issue #52: ``(298022, 1)`` chunks of a
``(1220698000, 96)`` array) costs a request per channel for every short read. The copy has
chunks of all channels and about 1 MB (``copies.copy_chunk_rows``), compressed with Blosc
(zstd, byte shuffle), so a window is one or a few chunk files on local disk. The source is read
in blocks of whole copy chunks, each block's chunks fetched concurrently
(``extract._chunks``), with progress per block and a cancel check between blocks. The copy
is written into the job's temporary folder and published whole by the job system, so a
cancelled or failed job leaves nothing that reads would use (``copies.rechunked_copy``).
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from engines._progress import Progress
from engines.io.policy import SourcePolicy
from engines.jobs import JobContext, JobEnvironment, JobKind
from engines.nwb.copies import COPY_NAME, RECHUNK, RECHUNK_VERSION, copy_chunk_rows
from engines.nwb.errors import NwbReadError
from engines.nwb.extract._chunks import RowRead, prefetch_rows, read_unfiltered_rows
from engines.nwb.extract._common import is_numeric
from engines.nwb.index_store import workspace_index_store
from engines.nwb.nwbfile import NwbFile, open_nwb

__all__ = ["job_kinds", "run_rechunk", "write_rechunked_copy"]

_BLOCK_BYTES = 64 << 20
"""Rows are copied in blocks of about this many bytes (whole copy chunks)."""
_FETCH_BYTES = 16 << 20
"""Each block is fetched in column groups of about this many bytes, well under what the reader keeps."""


def run_rechunk(inputs: dict[str, Any], ctx: JobContext, *, policy: SourcePolicy) -> dict[str, Any]:
    """Copy ``inputs["path"]`` of ``inputs["source"]`` (at ``inputs["version"]``) into the job's folder."""
    nwb = open_nwb(inputs["source"], policy, workspace_index_store(policy.workspace))
    try:
        if nwb.version_key != inputs["version"]:
            raise NwbReadError(
                "The file changed since this copy was asked for; open it again and ask for a new copy."
            )
        return write_rechunked_copy(nwb, inputs["path"], ctx.output_dir / COPY_NAME, ctx.report)
    finally:
        nwb.close()


def write_rechunked_copy(nwb: NwbFile, path: str, target: Path, progress: Progress) -> dict[str, Any]:
    """Write the data set at ``path`` as a zarr array at ``target``; returns its shape, chunks and size.

    ``progress`` is called after every block and may raise ``Cancelled`` (a job's ``ctx.report``)."""
    import numcodecs
    import zarr

    info = nwb.resolve(path)
    if info.kind != "dataset" or not is_numeric(info) or not info.shape:
        raise NwbReadError(f"'{path}' is not an array of numbers; only those can be rechunked.")
    dset = nwb.dataset(info.path)
    shape = tuple(int(n) for n in dset.shape)
    rows = copy_chunk_rows(shape, dset.dtype.itemsize)
    copy = zarr.open_array(
        str(target),
        mode="w",
        shape=shape,
        chunks=(rows, *shape[1:]),
        dtype=dset.dtype,
        compressor=numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.SHUFFLE),
        fill_value=dset.fillvalue,
    )
    row_bytes = math.prod(shape[1:]) * dset.dtype.itemsize
    block = max(1, _BLOCK_BYTES // max(row_bytes * rows, 1)) * rows
    for lo in range(0, shape[0], block):
        hi = min(lo + block, shape[0])
        copy[lo:hi] = _read_block(nwb, info.path, dset, lo, hi)
        progress(hi / shape[0], f"{hi:,} of {shape[0]:,} rows copied")
    stored = sum(p.stat().st_size for p in Path(target).rglob("*") if p.is_file())
    return {
        "shape": list(shape),
        "chunks": list(copy.chunks),
        "stored_bytes": stored,
        "compressor": "blosc zstd",
    }


def _read_block(nwb: NwbFile, path: str, dset: Any, lo: int, hi: int) -> np.ndarray:
    """Rows [lo, hi) of every column, fetched a column group at a time (concurrent requests per group)."""
    info = nwb.resolve(path)
    if len(dset.shape) == 1:
        return _read_columns(nwb, info, dset, lo, hi, [0]).reshape(-1)
    width = dset.shape[1]
    if len(dset.shape) > 2:  # frames and the like: whole rows, h5py decodes them
        prefetch_rows(nwb, [RowRead(info, lo, hi)])
        return np.asarray(dset[lo:hi])
    chunk_width = dset.chunks[1] if dset.chunks else width
    per_group = max(1, _FETCH_BYTES // max((hi - lo) * dset.dtype.itemsize * chunk_width, 1)) * chunk_width
    out = np.empty((hi - lo, width), dtype=dset.dtype)
    for first in range(0, width, per_group):
        columns = list(range(first, min(first + per_group, width)))
        out[:, first : columns[-1] + 1] = _read_columns(nwb, info, dset, lo, hi, columns)
    return out


def _read_columns(nwb: NwbFile, info: Any, dset: Any, lo: int, hi: int, columns: list[int]) -> np.ndarray:
    """Rows [lo, hi) of adjacent ``columns``: the rows' bytes of unfiltered remote chunks, else through h5py
    after fetching the touched chunks together."""
    found = read_unfiltered_rows(nwb, info, lo, hi, columns)
    if found is not None:
        return found
    prefetch_rows(nwb, [RowRead(info, lo, hi, columns if len(dset.shape) == 2 else None)])
    if len(dset.shape) == 1:
        return np.asarray(dset[lo:hi]).reshape(-1, 1)
    return np.asarray(dset[lo:hi, columns[0] : columns[-1] + 1])


def job_kinds(env: JobEnvironment) -> list[JobKind]:
    """The rechunk kind, reading files under ``env.source_policy``; inputs ``{"source", "path", "version"}``
    (``copies.copy_inputs``)."""
    return [
        JobKind(
            RECHUNK,
            partial(run_rechunk, policy=env.source_policy),
            RECHUNK_VERSION,
            "Copy of a data set with chunks fitted to windowed reads (zarr, ~1 MB chunks)",
            ("source", "path", "version"),
        )
    ]
