"""Rechunked copies of data sets, found by the file's identity and the data set's path.

The ``rechunk`` job (``engines.nwb.rechunk``) writes a zarr copy of one data set into the
workspace's result store, chunked for windowed reads. Reads look the copy up here by the
same inputs the job was asked with (source, data set path, file version): a copy exists only
once the job published its whole folder (``ResultStore`` renames it into place in one
step), so a cancelled or failed job leaves nothing that a read would use, and a changed file
(another version key) never reads an old copy.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from engines.jobs.model import hash_inputs
from engines.jobs.results import ResultStore
from engines.nwb.nwbfile import NwbFile

__all__ = [
    "RECHUNK",
    "RECHUNK_VERSION",
    "COPY_NAME",
    "TARGET_CHUNK_BYTES",
    "copy_chunk_rows",
    "copy_inputs",
    "rechunked_copy",
]

RECHUNK = "rechunk"
RECHUNK_VERSION = "1"
"""Bump when the copy's layout changes: copies are found per (inputs, version)."""
COPY_NAME = "data.zarr"
TARGET_CHUNK_BYTES = 1 << 20
"""A copy's chunk holds about this many bytes of all channels: a window of a second or less is one or a
few requests from disk, and a chunk decompresses in about a millisecond."""

_found: weakref.WeakKeyDictionary[NwbFile, dict[str, Any]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def copy_chunk_rows(shape: tuple[int, ...] | list[int], itemsize: int) -> int:
    """Rows per chunk of a copy: all channels, about ``TARGET_CHUNK_BYTES``, at most the data set's rows."""
    row_bytes = itemsize
    for size in shape[1:]:
        row_bytes *= max(int(size), 1)
    return max(1, min(TARGET_CHUNK_BYTES // max(row_bytes, 1), int(shape[0]) if shape else 1))


def copy_inputs(f: NwbFile, path: str) -> dict[str, Any]:
    """The rechunk job's inputs for the data set at ``path`` (soft links followed) of this file version."""
    return {"source": f.source.location, "path": f.resolve(path).path, "version": f.version_key}


def rechunked_copy(f: NwbFile, path: str) -> Any | None:
    """The published zarr copy of the data set at ``path`` (a ``zarr.Array``), or None. A few ``stat``
    calls the first time; a found copy is remembered for the file's life."""
    if f.workspace is None:
        return None
    with _lock:
        known = _found.get(f, {}).get(path)
    if known is not None:
        return known
    folder = ResultStore(f.workspace).path_for(RECHUNK, hash_inputs(copy_inputs(f, path)), RECHUNK_VERSION)
    if folder is None or not (folder / COPY_NAME).is_dir():
        return None
    import zarr

    array = zarr.open_array(str(folder / COPY_NAME), mode="r")
    with _lock:
        _found.setdefault(f, {})[path] = array
    return array
