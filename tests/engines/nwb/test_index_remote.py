"""The index built over HTTP (batched reads, pointer chasing, block caches) is the local index, and it is
cheap.

Equality is checked object by object, order included, for every file in tests/data/nwb; a
few files are also walked through 512-byte blocks and a 512-byte probe, so that nearly every
HDF5 structure is first met as a missing read and retried.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from engines.io.block_cache import flush_disk_writes
from engines.io.errors import SourceUnreachable
from engines.io.range_file import RangeFile
from engines.io.range_transport import RequestStats, probe_http
from engines.nwb._h5_superblock import root_chaser
from engines.nwb._walk import walk_h5py
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from tests.conftest import ALL_NWB_FILES, DATA_DIR
from tests.support.range_server import RangeServer

NAMES = [str(p.relative_to(DATA_DIR)) for p in ALL_NWB_FILES]
STRESSED = [
    "sub-4_ses-4_ecephys+image.nwb",
    "anm369963.nwb",
    "pynwb-types/test_timestamps_linking.nwb",
    "pynwb-types/test_TimeIntervals.nwb",
    "pynwb-types/test_EventWaveform.nwb",
]


def _rows(index) -> list[tuple[str, dict]]:
    return [(path, dataclasses.asdict(info)) for path, info in index.objects.items()]


@pytest.mark.parametrize("name", NAMES)
def test_remote_index_equals_local_index(name, range_server, policy, workspace):
    remote = open_nwb(range_server.url_for(name), policy, IndexStore(workspace / "remote"))
    local = open_nwb(str(DATA_DIR / name), policy, IndexStore(workspace / "local"))
    try:
        assert _rows(remote.index) == _rows(local.index)
        assert remote.index.lineage == local.index.lineage
        assert remote.index.nwb_version == local.index.nwb_version
    finally:
        remote.close()
        local.close()


@pytest.mark.parametrize("name", STRESSED)
def test_tiny_blocks_retry_every_structure_and_change_nothing(name, range_server, policy):
    stats = RequestStats()
    probe = probe_http(range_server.url_for(name), policy, stats, length=512)
    reader = RangeFile(probe, policy, stats, root_chaser(probe.first_chunk), block_size=512)
    with h5py.File(reader, "r") as h5:
        remote = walk_h5py(h5, reader)
    with h5py.File(DATA_DIR / name, "r") as h5:
        local = walk_h5py(h5)
    assert _rows(remote) == _rows(local)
    assert stats.requests > 10  # the walk really went through the network in small pieces


def _spread_file(path: Path, series: int, samples: int) -> Path:
    """NWB-shaped TimeSeries whose headers lie a data block apart: one header per request for a naive
    reader."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as h5:
        h5.attrs.update(nwb_version="2.7.0", neurodata_type="NWBFile", namespace="core")
        acquisition = h5.create_group("acquisition")
        for i in range(series):
            group = acquisition.create_group(f"series_{i:03d}")
            group.attrs.update(neurodata_type="TimeSeries", namespace="core", description=f"series {i}")
            data = group.create_dataset("data", data=rng.standard_normal(samples))
            data.attrs.update(unit="V", conversion=1.0)
            start = group.create_dataset("starting_time", data=0.0)
            start.attrs["rate"] = 1000.0
    return path


@pytest.fixture
def spread_server(tmp_path):
    _spread_file(tmp_path / "spread.nwb", series=60, samples=16_384)
    with RangeServer(tmp_path) as server:
        yield server


def test_wide_level_costs_a_few_round_trips_not_one_per_object(spread_server, policy, index_store):
    spread_server.latency_s = 0.2
    started = time.perf_counter()
    nwb = open_nwb(spread_server.url_for("spread.nwb"), policy, index_store)
    seconds = time.perf_counter() - started
    try:
        assert len(nwb.index.find_by_type("TimeSeries")) == 60
        assert nwb.index.get("/acquisition/series_059/starting_time").value == 0.0
        assert seconds < 20 * 0.2, (
            "requests overlap: a naive walk waits 60 round trips of 0.2 s, one per series"
        )
        assert spread_server.log.count <= 2 * 60
        assert spread_server.log.bytes < 0.3 * (spread_server.root / "spread.nwb").stat().st_size
    finally:
        nwb.close()


def test_a_walks_blocks_reach_the_disk_cache(spread_server, policy, workspace):
    """Blocks fetched during a walk are written after it: walking again with no index (a lost index
    store) reads them from disk, so it costs only the probe and gives the same index."""
    url = spread_server.url_for("spread.nwb")
    first = open_nwb(url, policy, IndexStore(workspace / "first"))
    first.close()
    flush_disk_writes()
    spread_server.log.clear()
    again = open_nwb(url, policy, IndexStore(workspace / "second"))
    try:
        assert spread_server.log.count == 1, "the probe alone: every metadata block came from the disk cache"
        assert _rows(again.index) == _rows(first.index)
    finally:
        again.close()


def test_reopen_is_the_probe_alone(spread_server, policy, workspace):
    url = spread_server.url_for("spread.nwb")
    open_nwb(url, policy, IndexStore(workspace)).close()
    spread_server.log.clear()
    again = open_nwb(url, policy, IndexStore(workspace))
    try:
        assert spread_server.log.count == 1
        assert "/acquisition/series_000" in again.index
    finally:
        again.close()


@pytest.fixture
def chunked_server(tmp_path):
    with h5py.File(tmp_path / "chunked.h5", "w") as h5:
        h5.create_dataset("big", data=np.arange(2_000_000, dtype=np.float64), chunks=(500_000,))
        h5.create_dataset("flat", data=np.arange(1_000_000, dtype=np.int32))
    with RangeServer(tmp_path) as server:
        yield server


def _open_plain(server: RangeServer, policy) -> h5py.File:
    stats = RequestStats()
    return h5py.File(_range_file(server.url_for("chunked.h5"), policy, stats), "r")


def _range_file(url: str, policy, stats: RequestStats) -> RangeFile:
    """A range reader as ``open_nwb`` makes one: warmed from the root group's pointers."""
    probe = probe_http(url, policy, stats)
    return RangeFile(probe, policy, stats, root_chaser(probe.first_chunk))


def test_data_reads_fetch_what_they_read_and_reuse_recent_chunks(chunked_server, policy):
    with _open_plain(chunked_server, policy) as h5:
        dset = h5["flat"]
        dset.id.get_offset()  # the header, so that only data is counted below
        chunked_server.log.clear()
        np.testing.assert_array_equal(dset[100_000:900_000], np.arange(100_000, 900_000, dtype=np.int32))
        assert chunked_server.log.bytes == 800_000 * 4  # exactly the slice: no read-ahead
        big = h5["big"]
        big[0]
        chunked_server.log.clear()
        for start in range(0, 500_000, 5_000):  # many small reads inside one 4 MB chunk
            assert big[start] == start
        assert chunked_server.log.count == 0  # HDF5 re-reads the chunk each time; the reader keeps it


def test_server_gone_mid_walk_is_a_clear_error(tmp_path, policy):
    shutil.copy(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb", tmp_path / "file.nwb")
    with RangeServer(tmp_path) as server:
        stats = RequestStats()
        reader = _range_file(server.url_for("file.nwb"), policy, stats)
        h5 = h5py.File(reader, "r")
        (tmp_path / "file.nwb").unlink()
        with pytest.raises(SourceUnreachable, match="HTTP 404"):
            walk_h5py(h5, reader)
        h5.close()
