"""The first read of badly chunked remote data (Neurosift #52): its round trips on the Range server.

10 rows × 96 channels of a series chunked one channel per chunk touch 96 chunks: after the open,
the read must cost the chunk index's root, its leaves in one wave, then the rows' bytes of the 96
chunks in ONE concurrent wave (the server sees them all in progress at once), and no more bytes
than those rows' plus the index nodes.
"""

from __future__ import annotations

import numpy as np
import pytest

from engines.nwb.extract import read_trace_window
from engines.nwb.nwbfile import open_nwb
from tests.support.nwb_files.bad_chunks import (
    BAD_CHUNKS_PATH,
    CHANNELS,
    RATE,
    bad_chunks_values,
    write_bad_chunks_nwb,
)
from tests.support.range_server import RangeServer

ROWS = 1000
BAND = 10 * 2
"""Bytes of 10 int16 rows in a one-channel chunk."""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    write_bad_chunks_nwb(folder / "bad_chunks.nwb", rows=ROWS)
    # 0.5 s per request: a wave's requests overlap at the server even on a busy machine
    with RangeServer(folder, latency_s=0.5) as server:
        yield server


def test_the_open_from_an_empty_workspace_reads_headers_only(served, policy, index_store):
    """The probe and the header levels past it (this file's pynwb headers spill past the 100 KB probe):
    a few requests, no data and no chunk index."""
    served.log.clear()
    nwb = open_nwb(served.url_for("bad_chunks.nwb"), policy, index_store)
    assert served.log.count <= 4, served.log.entries
    assert served.log.bytes <= 256 * 1024, "headers only: no data, no chunk index"
    nwb.close()


def test_a_window_across_96_chunks_is_the_index_then_one_wave_of_the_rows_bytes(served, policy, index_store):
    nwb = open_nwb(served.url_for("bad_chunks.nwb"), policy, index_store)
    served.log.clear()
    window = read_trace_window(nwb, BAD_CHUNKS_PATH, 10 / RATE, 20 / RATE, max_channels=CHANNELS)
    entries = served.log.entries
    np.testing.assert_array_equal(window.values, bad_chunks_values(10, 20) * 1e-6)
    bands = [entry for entry in entries if entry[2] == BAND]
    index = [entry for entry in entries if entry[2] != BAND]
    assert len(bands) == CHANNELS, "one request per chunk, for just the rows' bytes"
    assert 1 <= len(index) <= 3, f"the index root and its leaves only: {index}"
    assert sum(entry[2] for entry in index) <= 3 * 64 * 1024
    # One wave: a pool of 64 threads (two waves of the 96) never has more than 64 in flight; a
    # loaded machine may start the last few of one wave after the first few have been answered.
    assert served.log.peak > 64, f"the 96 bands are fetched in one concurrent wave: {served.log.peak} at once"
    nwb.close()
