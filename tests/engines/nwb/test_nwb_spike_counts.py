"""Counting a raster window's spikes before reading them, so a view never draws a truncated spike set."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from engines.nwb.extract import count_spikes, read_spike_window
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR
from tests.engines.nwb.test_extract_units import write_units
from tests.support.range_server import RangeServer

DEMO = DATA_DIR / "sub-4_ses-4_ecephys+image.nwb"


@pytest.fixture(scope="module")
def truth() -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(DEMO) as h5:
        return h5["units/spike_times"][()], h5["units/spike_times_index"][()].astype(np.int64)


def _numpy_counts(times: np.ndarray, ends: np.ndarray, t0: float | None, t1: float | None) -> np.ndarray:
    starts = np.concatenate([[0], ends[:-1]])
    out = []
    for a, b in zip(starts, ends):
        unit = times[a:b]
        keep = np.ones(len(unit), bool)
        if t0 is not None:
            keep &= unit >= t0
        if t1 is not None:
            keep &= unit < t1
        out.append(int(keep.sum()))
    return np.array(out)


@pytest.mark.parametrize("window", [(None, None), (0.0, 100.0), (2600.0, 2900.0), (1000.0, 1000.5)])
def test_counts_match_numpy_per_unit(window, truth, policy, index_store):
    nwb = open_nwb(str(DEMO), policy, index_store)
    counted = count_spikes(nwb, "/units", *window)
    expected = _numpy_counts(*truth, *window)
    np.testing.assert_array_equal(counted.per_unit, expected)
    assert counted.total == expected.sum() and counted.units == list(range(35))


def test_count_tells_beforehand_what_a_capped_read_would_cut(truth, policy, index_store):
    nwb = open_nwb(str(DEMO), policy, index_store)
    total = count_spikes(nwb, "/units").total
    assert total == len(truth[0]) == 214_278
    capped = read_spike_window(nwb, "/units", max_spikes=200_000)
    assert capped.truncated and capped.total_in_window == total, (
        "the cap cuts the window: what the raster must avoid"
    )
    whole = read_spike_window(nwb, "/units", max_spikes=total)
    assert not whole.truncated and len(whole.times) + whole.nan_dropped == total


def test_count_for_some_units(truth, policy, index_store):
    nwb = open_nwb(str(DEMO), policy, index_store)
    counted = count_spikes(nwb, "/units", 500.0, 900.0, units=[3, 0, 17])
    expected = _numpy_counts(*truth, 500.0, 900.0)[[3, 0, 17]]
    np.testing.assert_array_equal(counted.per_unit, expected)


def test_pyramid_estimate_bounds_the_exact_count(human_pyramid, truth, policy, index_store):
    """The pyramid's ``spikes_in_view`` (microseconds) counts whole bins: never fewer than the exact count."""
    nwb = open_nwb(str(DEMO), policy, index_store)
    for t0, t1 in [(0.0, 2900.0), (100.0, 400.0), (1234.5, 1250.0)]:
        exact = count_spikes(nwb, "/units", t0, t1).total
        assert human_pyramid.spikes_in_view(t0, t1) >= exact


def test_counting_a_short_window_of_long_units_reads_a_few_blocks(workspace, policy, index_store):
    rng = np.random.default_rng(2)
    units = [np.sort(rng.uniform(0.0, 3600.0, 400_000)) for _ in range(4)]  # 12.8 MB of spike times
    file = write_units(
        workspace / "long_units.nwb", np.concatenate(units), np.cumsum([len(u) for u in units])
    )
    with RangeServer(workspace) as server:
        nwb = open_nwb(server.url_for(file.name), policy, index_store)
        before = nwb.stats.bytes
        counted = count_spikes(nwb, "/units", 1800.0, 1810.0)
        assert counted.per_unit.tolist() == [int(((u >= 1800.0) & (u < 1810.0)).sum()) for u in units]
        assert nwb.stats.bytes - before < 0.1 * 1_600_000 * 8, "searches, not the spikes"
