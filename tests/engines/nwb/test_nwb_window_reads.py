"""Remote trace windows: chunks fetched together (one round trip, not one per chunk), exactly the bytes
shown."""

from __future__ import annotations

import time

import h5py
import numpy as np
import pytest

from engines.nwb.extract import read_trace_window
from engines.nwb.nwbfile import open_nwb
from tests.engines.nwb.test_extract_timeseries import write_nwb
from tests.support.range_server import RangeServer

RATE = 1000.0


@pytest.fixture
def series_server(workspace):
    raw = (np.arange(40_000 * 8, dtype=np.int64).reshape(40_000, 8) % 2000).astype(np.int16)
    write_nwb(
        workspace / "chunks.nwb",
        {
            "/acquisition/gzip": {
                "data": raw,
                "rate": RATE,
                "chunks": (1000, 8),
                "attrs": {"compression": "x"},
            },
            "/acquisition/plain": {"data": raw, "rate": RATE, "chunks": (1000, 8)},
            "/acquisition/contiguous": {"data": raw, "rate": RATE},
        },
    )
    with h5py.File(workspace / "chunks.nwb", "a") as h5:  # recompress one series with gzip
        del h5["/acquisition/gzip/data"]
        h5.create_dataset("/acquisition/gzip/data", data=raw, chunks=(1000, 8), compression="gzip").attrs[
            "unit"
        ] = "V"
    wide = np.tile(raw[:, :1], (4, 64))[:140_000]  # chunks of 9 MB: more than HDF5's 8 MB chunk cache
    write_nwb(
        workspace / "wide.nwb", {"/acquisition/s": {"data": wide, "rate": RATE, "chunks": (70_000, 64)}}
    )
    with RangeServer(workspace, latency_s=0.15) as server:
        yield server, raw, wide


def _window(server: RangeServer, nwb, path: str, t0: float, t1: float):
    """Read a window after a first read of the series (its chunk index is then cached); (window, requests,
    bytes, s)."""
    read_trace_window(nwb, path, 39.0, 39.1, max_points=10**6)
    server.log.clear()
    started = time.perf_counter()
    window = read_trace_window(nwb, path, t0, t1, max_points=10**6)
    seconds = time.perf_counter() - started
    return window, server.log.count, server.log.bytes, seconds


@pytest.mark.parametrize("path", ["/acquisition/gzip", "/acquisition/plain", "/acquisition/contiguous"])
def test_a_window_over_many_chunks_costs_one_round_trip(path, series_server, policy, index_store):
    server, raw, _ = series_server
    nwb = open_nwb(server.url_for("chunks.nwb"), policy, index_store)
    window, requests, _, seconds = _window(server, nwb, path, 2.0, 14.0)
    np.testing.assert_array_equal(window.values, raw[2000:14_000].astype(float))
    assert requests <= 2, "12 chunks, fetched together"
    assert seconds < 6 * 0.15, "one after another they would take 12 round trips of 0.15 s"


def test_a_chunk_aligned_window_reads_exactly_its_chunks(series_server, policy, index_store):
    server, raw, _ = series_server
    nwb = open_nwb(server.url_for("chunks.nwb"), policy, index_store)
    window, _, nbytes, _ = _window(server, nwb, "/acquisition/plain", 3.0, 5.0)
    assert len(window.t) == 2000, "half-open: the sample at 5.0 s belongs to the next window"
    assert nbytes == 2 * 1000 * 8 * 2 == window.bytes_read


def test_large_unfiltered_chunks_are_read_only_where_the_window_is(series_server, policy, index_store):
    server, _, wide = series_server
    nwb = open_nwb(server.url_for("wide.nwb"), policy, index_store)
    window, _, nbytes, _ = _window(server, nwb, "/acquisition/s", 12.0, 12.5)
    np.testing.assert_array_equal(window.values, wide[12_000:12_500].astype(float))
    assert nbytes == 500 * 64 * 2 == window.bytes_read, "500 rows of a 9 MB chunk, not the whole chunk"


def test_consecutive_windows_tile_the_series(workspace, policy, index_store):
    file = write_nwb(workspace / "tile.nwb", {"/acquisition/s": {"data": np.arange(1000.0), "rate": 100.0}})
    nwb = open_nwb(str(file), policy, index_store)
    parts = [
        read_trace_window(nwb, "/acquisition/s", t, t + 2.5, max_points=10**6) for t in (0.0, 2.5, 5.0, 7.5)
    ]
    np.testing.assert_array_equal(np.concatenate([p.values[:, 0] for p in parts]), np.arange(1000.0))
    assert read_trace_window(nwb, "/acquisition/s", 9.0, 9.99).values[-1, 0] == 998.0
    assert read_trace_window(nwb, "/acquisition/s", 9.0, 20.0).values[-1, 0] == 999.0, (
        "past the end: the last sample"
    )
