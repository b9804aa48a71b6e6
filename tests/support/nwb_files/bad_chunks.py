"""An NWB file whose raw series is chunked one channel per chunk, as in Neurosift issue #52.

A ``(rows, 96)`` int16 TimeSeries chunked ``(298022, 1)``: a window of 10 rows touches 96
chunks of 596 KB each. pynwb writes the file (a valid NWBFile with the series' metadata);
the data set is then recreated with that chunking by h5py and filled a chunk row at a time,
which takes seconds for a gigabyte where pynwb's iterators would take minutes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

__all__ = ["BAD_CHUNKS", "BAD_CHUNKS_PATH", "RATE", "CHANNELS", "bad_chunks_values", "write_bad_chunks_nwb"]

BAD_CHUNKS = (298022, 1)
CHANNELS = 96
RATE = 30_000.0
BAD_CHUNKS_PATH = "/acquisition/raw"
"""The series; its samples are at ``BAD_CHUNKS_PATH + '/data'``."""


def bad_chunks_values(lo: int, hi: int) -> np.ndarray:
    """Rows [lo, hi) of the series' data: each sample tells its row and channel (tests check exact values)."""
    rows = np.arange(lo, hi, dtype=np.int64)[:, None]
    channels = np.arange(CHANNELS, dtype=np.int64)[None, :]
    return ((rows * 7 + channels * 101) % 65_536 - 32_768).astype(np.int16)


def write_bad_chunks_nwb(path: Path, rows: int = 3 * BAD_CHUNKS[0]) -> Path:
    """Write the file at ``path`` (a temporary name, then renamed) and return ``path``.

    Rows may be fewer than a chunk's (the data set is extendible, as pynwb writes them)."""
    import pynwb

    path = Path(path)
    temporary = path.with_name(f".{os.getpid()}-{path.name}")
    nwbfile = pynwb.NWBFile(
        session_description="one chunk per channel (Neurosift issue #52)",
        identifier="bad-chunks",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    nwbfile.add_acquisition(
        pynwb.TimeSeries(
            name="raw", data=np.zeros((1, CHANNELS), np.int16), unit="V", rate=RATE, conversion=1e-6
        )
    )
    with pynwb.NWBHDF5IO(str(temporary), "w") as io:
        io.write(nwbfile)
    with h5py.File(temporary, "a") as h5:
        old = h5[f"{BAD_CHUNKS_PATH}/data"]
        attrs = dict(old.attrs)
        del h5[f"{BAD_CHUNKS_PATH}/data"]
        data = h5.create_dataset(
            f"{BAD_CHUNKS_PATH}/data",
            shape=(rows, CHANNELS),
            maxshape=(None, CHANNELS),
            dtype=np.int16,
            chunks=BAD_CHUNKS,
        )
        data.attrs.update(attrs)
        for lo in range(0, rows, BAD_CHUNKS[0]):
            hi = min(lo + BAD_CHUNKS[0], rows)
            data[lo:hi] = bad_chunks_values(lo, hi)
    temporary.replace(path)
    return path
