"""Units summary and spike windows, checked against numpy on the full spike_times."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from engines.nwb.errors import NwbReadError
from engines.nwb.extract import InvalidRequest, UnsupportedData, read_spike_window, read_units_table
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR
from tests.support.range_server import RangeServer

UNITS_FILES = [
    ("sub-4_ses-4_ecephys+image.nwb", "/units"),
    ("anm369963.nwb", "/units"),
    ("A8604-211122_phy.nwb", "/units"),
    ("pynwb-types/test_Units.nwb", "/acquisition/UnitsTest"),
]


def write_units(
    path: Path, spike_times: np.ndarray, ends: np.ndarray, chunks: tuple[int] | None = None
) -> Path:
    """A minimal NWB file with /units holding the given ragged spike_times."""
    with h5py.File(path, "w") as h5:
        h5.attrs.update(nwb_version="2.7.0", neurodata_type="NWBFile", namespace="core")
        units = h5.create_group("units")
        units.attrs.update(
            neurodata_type="Units", namespace="core", colnames=["spike_times"], description="units"
        )
        units.create_dataset("id", data=np.arange(len(ends)) + 100).attrs["neurodata_type"] = (
            "ElementIdentifiers"
        )
        units.create_dataset("spike_times", data=spike_times, chunks=chunks).attrs["neurodata_type"] = (
            "VectorData"
        )
        index = units.create_dataset("spike_times_index", data=ends)
        index.attrs.update(neurodata_type="VectorIndex", target=units["spike_times"].ref)
    return path


def _truth(file: Path, path: str) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(file) as h5:
        return h5[f"{path}/spike_times"][()], h5[f"{path}/spike_times_index"][()].astype(np.int64)


def _select(times: np.ndarray, ends: np.ndarray, t0: float, t1: float, rows) -> tuple[np.ndarray, np.ndarray]:
    starts = np.concatenate([[0], ends[:-1]])
    picked = [(row, times[starts[row] : ends[row]]) for row in rows]
    picked = [(row, unit[(unit >= t0) & (unit < t1)]) for row, unit in picked]
    return (
        np.concatenate([np.full(len(u), row) for row, u in picked]),
        np.concatenate([u for _, u in picked]),
    )


def test_units_table_counts_and_span_match_spike_times_over_http(range_server, policy, index_store):
    f = open_nwb(range_server.url_for("sub-4_ses-4_ecephys+image.nwb"), policy, index_store)
    table = read_units_table(f)
    times, ends = _truth(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb", "/units")
    assert len(table.frame) == 35
    np.testing.assert_array_equal(table.frame["n_spikes"], np.diff(np.concatenate([[0], ends])))
    assert (table.t_start, table.t_stop) == (times.min(), times.max())
    np.testing.assert_allclose(table.frame["rate_hz"], table.frame["n_spikes"] / (times.max() - times.min()))
    assert list(table.frame.columns[:3]) == ["unit", "n_spikes", "rate_hz"]
    assert "electrodes" in table.frame.columns


def test_units_table_carries_the_other_scalar_columns(policy, index_store):
    table = read_units_table(open_nwb(str(DATA_DIR / "anm369963.nwb"), policy, index_store))
    row = table.frame.iloc[0]
    assert (row["unit"], row["n_spikes"], row["depth"], row["quality"], row["cell_type"]) == (
        1001,
        1679,
        780.0,
        "Excellent",
        "PTlower",
    )
    assert "electrodes" not in table.frame.columns, "ragged columns stay out of the summary"


@pytest.mark.parametrize("name,path", UNITS_FILES, ids=[n for n, _ in UNITS_FILES])
def test_spike_window_matches_numpy_selection(name, path, policy, index_store):
    f = open_nwb(str(DATA_DIR / name), policy, index_store)
    times, ends = _truth(DATA_DIR / name, path)
    rng = np.random.default_rng(1)
    for _ in range(5):
        t0 = float(rng.uniform(times.min(), times.max()))
        t1 = t0 + float(rng.uniform(0.5, 200.0))
        window = read_spike_window(f, path, t0, t1)
        rows, expected = _select(times, ends, t0, t1, range(len(ends)))
        np.testing.assert_array_equal(window.times, expected)
        np.testing.assert_array_equal(window.unit_rows, rows)
        assert not window.truncated and window.total_in_window == len(expected)


def test_spike_window_for_some_units_only(policy, index_store):
    name = "sub-4_ses-4_ecephys+image.nwb"
    times, ends = _truth(DATA_DIR / name, "/units")
    window = read_spike_window(
        open_nwb(str(DATA_DIR / name), policy, index_store), "/units", 500.0, 900.0, units=[30, 2]
    )
    rows, expected = _select(times, ends, 500.0, 900.0, [30, 2])
    np.testing.assert_array_equal(window.times, expected)
    np.testing.assert_array_equal(window.unit_rows, rows)
    assert window.units == [30, 2]


def test_crowded_window_is_cut_to_the_first_spikes_by_time(range_server, policy, index_store):
    f = open_nwb(range_server.url_for("sub-4_ses-4_ecephys+image.nwb"), policy, index_store)
    times, ends = _truth(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb", "/units")
    window = read_spike_window(f, "/units", 100.0, 2000.0, max_spikes=5000)
    assert window.truncated and 4500 <= len(window.times) <= 5000
    assert window.total_in_window == int(((times >= 100.0) & (times < 2000.0)).sum())
    assert window.t_start == 100.0 and 100.0 < window.t_stop < 2000.0
    rows, expected = _select(times, ends, 100.0, window.t_stop, range(len(ends)))
    np.testing.assert_array_equal(window.times, expected)


def test_large_unit_window_is_found_without_reading_the_whole_unit(workspace, policy, index_store):
    spikes = np.sort(np.random.default_rng(2).uniform(0, 20_000, 2_000_000))
    file = write_units(workspace / "big_units.nwb", spikes, np.array([1_000_000, 2_000_000]))
    with RangeServer(workspace) as server:
        f = open_nwb(server.url_for(file.name), policy, index_store)
        server.log.clear()
        window = read_spike_window(f, "/units", 5000.0, 5010.0)
        rows, expected = _select(spikes, np.array([1_000_000, 2_000_000]), 5000.0, 5010.0, [0, 1])
        np.testing.assert_array_equal(window.times, expected)
        assert server.log.bytes < 2**20, "16 MB of spike times, a few blocks read"
        assert server.log.count <= 10


def test_truncated_ragged_spike_array_raises_a_clear_read_error(workspace, policy, index_store):
    file = write_units(workspace / "cut.nwb", np.arange(10.0), np.array([4, 12]))
    f = open_nwb(str(file), policy, index_store)
    with pytest.raises(
        NwbReadError, match="truncated: spike_times_index expects 12 spikes but spike_times holds 10"
    ):
        read_spike_window(f, "/units")
    with pytest.raises(NwbReadError, match="truncated"):
        read_units_table(f)


def test_nan_spike_times_are_dropped_and_counted(workspace, policy, index_store):
    spikes = np.array([0.5, 1.0, np.nan, 2.0, 3.0, np.nan, np.nan])
    file = write_units(workspace / "nan.nwb", spikes, np.array([3, 7]))
    window = read_spike_window(open_nwb(str(file), policy, index_store), "/units")
    np.testing.assert_array_equal(window.times, [0.5, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(window.unit_rows, [0, 0, 1, 1])
    assert window.nan_dropped == 3


def test_units_without_spike_times_are_refused(policy, index_store):
    f = open_nwb(str(DATA_DIR / "pynwb-types/test_DynamicTable.nwb"), policy, index_store)
    with pytest.raises(UnsupportedData, match="no spike_times column.*Table view"):
        read_units_table(f, "/units")


def test_unknown_unit_row_is_rejected(policy, index_store):
    f = open_nwb(str(DATA_DIR / "A8604-211122_phy.nwb"), policy, index_store)
    with pytest.raises(InvalidRequest, match="unit row 3 does not exist"):
        read_spike_window(f, "/units", units=[0, 3])
