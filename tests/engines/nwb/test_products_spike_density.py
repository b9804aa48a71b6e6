"""Spike density pyramid: every level equals a direct histogram, queries pick the right level, bad input is
typed."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from engines.errors import NeurodeckError
from engines.nwb.errors import NwbReadError
from engines.nwb.nwbfile import open_nwb
from engines.nwb.products import (
    MAX_LEVEL_BINS,
    ProductInputError,
    ProductNotFound,
    SpikeDensityPyramid,
    build_spike_density_pyramid,
)

HUMAN = "sub-4_ses-4_ecephys+image.nwb"


def ragged(units: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Flat spike times and their VectorIndex, as NWB stores them."""
    flat = np.concatenate(units) if units else np.empty(0)
    return flat, np.cumsum([len(u) for u in units]).astype(np.int64)


def poisson_units(
    n_units: int, duration: float, mean_rate: float, seed: int, start: float = 0.0
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    rates = rng.lognormal(0.0, 1.0, n_units)
    rates *= mean_rate / rates.mean()
    return [np.sort(rng.uniform(start, start + duration, rng.poisson(r * duration))) for r in rates]


def assert_levels_match_histograms(pyramid: SpikeDensityPyramid, units: list[np.ndarray]) -> None:
    for level in pyramid.levels:
        counts = pyramid.level_counts(level.index)
        assert counts.shape == (len(units), level.n_bins)
        edges = level.edges()
        for row, times in enumerate(units):
            expected, _ = np.histogram(times[~np.isnan(times)], edges)
            np.testing.assert_array_equal(counts[row], expected, err_msg=f"level {level.index}, unit {row}")


@pytest.fixture(scope="module")
def human_units(nwb_data_dir: Path) -> list[np.ndarray]:
    with h5py.File(nwb_data_dir / HUMAN, "r") as f:
        flat, index = f["units/spike_times"][:], f["units/spike_times_index"][:]
    return np.split(flat, index[:-1])


def test_human_recording_levels_equal_histograms(human_pyramid, human_units):
    summary = human_pyramid.summary
    assert (summary.n_units, summary.n_spikes) == (35, 214_278)
    assert summary.n_nan_dropped == summary.n_units_empty == summary.n_units_unsorted == 0
    assert summary.t0 == np.floor(min(u.min() for u in human_units))
    assert_levels_match_histograms(human_pyramid, human_units)
    for level in human_pyramid.levels:
        assert human_pyramid.level_counts(level.index).sum() == 214_278
        assert level.dtype == "uint8"
    np.testing.assert_array_equal(human_pyramid.spikes_per_unit, [len(u) for u in human_units])
    assert summary.stored_bytes < 214_278 * 8 / 2


def test_levels_shrink_by_factor_until_at_most_ten_thousand_bins(human_pyramid):
    levels = human_pyramid.levels
    assert [level.bin_s for level in levels] == pytest.approx([0.02, 0.08, 0.32])
    assert levels[-1].n_bins <= MAX_LEVEL_BINS < levels[-2].n_bins
    for finer, coarser in zip(levels, levels[1:]):
        assert finer.n_bins == coarser.n_bins * 4
    assert levels[0].t_stop > human_pyramid.summary.t_last_spike


def test_build_over_http_with_small_blocks_equals_local_build(
    tmp_path, policy, index_store, range_server, human_pyramid
):
    nwb = open_nwb(range_server.url_for(HUMAN), policy, index_store)
    try:
        build_spike_density_pyramid(
            nwb.dataset("/units/spike_times"),
            nwb.dataset("/units/spike_times_index"),
            tmp_path,
            max_block_spikes=50_000,
        )
    finally:
        nwb.close()
    remote = SpikeDensityPyramid.open(tmp_path)
    for level in human_pyramid.levels:
        np.testing.assert_array_equal(
            remote.level_counts(level.index), human_pyramid.level_counts(level.index)
        )


def test_recording_that_starts_at_1000_s(tmp_path):
    units = poisson_units(12, duration=300.0, mean_rate=8.0, seed=3, start=1000.25)
    summary = build_spike_density_pyramid(*ragged(units), tmp_path)
    assert summary.t0 == 1000.0
    assert (
        summary.levels[0].n_bins <= (summary.t_last_spike - 1000.0) / 0.02 + 4
    )  # bins from 1000 s, not from 0
    pyramid = SpikeDensityPyramid.open(tmp_path)
    assert_levels_match_histograms(pyramid, units)
    image = pyramid.query(1100.0, 1200.0, 500)
    inside = sum(((u >= image.t_edges[0]) & (u < image.t_edges[-1])).sum() for u in units)
    assert image.counts.sum() == inside


def test_larger_generated_recording_conserves_spikes(tmp_path):
    units = poisson_units(300, duration=1800.0, mean_rate=2.0, seed=4)
    progress: list[float] = []
    summary = build_spike_density_pyramid(*ragged(units), tmp_path, progress=lambda f, m: progress.append(f))
    assert summary.n_spikes == sum(len(u) for u in units)
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) > 3
    pyramid = SpikeDensityPyramid.open(tmp_path)
    for level in pyramid.levels:
        np.testing.assert_array_equal(pyramid.level_counts(level.index).sum(axis=1), [len(u) for u in units])
    rows = [0, 64, 65, 299]
    for level in pyramid.levels:
        counts = pyramid.level_counts(level.index, units=rows)
        for i, row in enumerate(rows):
            np.testing.assert_array_equal(counts[i], np.histogram(units[row], level.edges())[0])


def test_dense_unit_after_the_first_group_widens_the_count_type(tmp_path):
    units = poisson_units(70, duration=120.0, mean_rate=3.0, seed=5)
    units[68] = np.sort(np.concatenate([units[68], np.full(300, 50.005), np.linspace(60.0, 60.5, 70_000)]))
    summary = build_spike_density_pyramid(*ragged(units), tmp_path)
    assert summary.levels[0].dtype == "uint16"
    pyramid = SpikeDensityPyramid.open(tmp_path)
    assert_levels_match_histograms(pyramid, units)
    assert pyramid.level_counts(0)[68].max() >= 300


def test_empty_units_unsorted_times_and_nan(tmp_path):
    rng = np.random.default_rng(6)
    sorted_unit = np.sort(rng.uniform(5.0, 65.0, 500))
    shuffled = rng.permutation(sorted_unit)
    with_nan = np.concatenate([np.sort(rng.uniform(5.0, 65.0, 200)), [np.nan, np.nan, np.nan]])
    units = [sorted_unit, np.empty(0), shuffled, with_nan, np.empty(0)]
    summary = build_spike_density_pyramid(*ragged(units), tmp_path)
    assert (summary.n_units_empty, summary.n_units_unsorted, summary.n_nan_dropped) == (2, 1, 3)
    assert summary.n_spikes == 500 + 500 + 200
    pyramid = SpikeDensityPyramid.open(tmp_path)
    assert_levels_match_histograms(pyramid, units)
    counts = pyramid.level_counts(0)
    np.testing.assert_array_equal(counts[0], counts[2])
    assert counts[1].sum() == counts[4].sum() == 0


def test_unit_ranges_select_and_reorder_units(tmp_path):
    units = poisson_units(6, duration=60.0, mean_rate=5.0, seed=7)
    flat, index = ragged(units)
    starts = np.concatenate(([0], index[:-1]))
    chosen = [4, 1, 5]
    build_spike_density_pyramid(flat, np.stack([starts[chosen], index[chosen]], axis=1), tmp_path)
    assert_levels_match_histograms(SpikeDensityPyramid.open(tmp_path), [units[i] for i in chosen])


def test_spike_times_exactly_on_bin_edges(tmp_path):
    edges = np.arange(0, 2000) * 0.02
    units = [edges, edges[::3] + 0.04, np.array([7.0, 7.02, 7.04, 39.98])]
    build_spike_density_pyramid(*ragged(units), tmp_path)
    assert_levels_match_histograms(SpikeDensityPyramid.open(tmp_path), units)


def test_index_past_the_data_is_a_truncated_ragged_array(tmp_path):
    flat, index = ragged(poisson_units(3, 10.0, 5.0, seed=8))
    index[-1] += 10
    with pytest.raises(NwbReadError, match="truncated ragged array") as caught:
        build_spike_density_pyramid(flat, index, tmp_path)
    assert isinstance(caught.value, NeurodeckError) and isinstance(caught.value, OSError)


@pytest.mark.parametrize(
    "units, message",
    [
        ([np.empty(0), np.empty(0)], "No spike times"),
        ([np.array([np.nan, np.nan])], "No spike times"),
        ([np.array([1.0, np.inf])], "infinite"),
        ([np.array([0.0, 1e9])], "outlier spike times"),
    ],
)
def test_unbinnable_spike_times_are_refused(tmp_path, units, message):
    with pytest.raises(ProductInputError, match=message) as caught:
        build_spike_density_pyramid(*ragged(units), tmp_path)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("options", [{"base_bin_s": 0.0}, {"base_bin_s": float("nan")}, {"factor": 1}])
def test_bad_parameters_are_refused(tmp_path, options):
    with pytest.raises(ProductInputError):
        build_spike_density_pyramid(np.array([1.0, 2.0]), np.array([2]), tmp_path, **options)


def test_index_that_goes_backwards_is_a_read_error(tmp_path):
    with pytest.raises(NwbReadError, match="backwards"):
        build_spike_density_pyramid(np.arange(10.0), np.array([5, 3, 10]), tmp_path)


def test_query_picks_the_coarsest_level_that_fits_and_sums_its_bins(human_pyramid):
    pyramid = human_pyramid
    cases = [
        (0.0, 2800.0, 1000, 2, 8),
        (100.0, 1100.0, 1000, 2, 3),
        (100.0, 400.0, 1000, 1, 3),
        (100.0, 180.0, 1000, 1, 1),
        (100.0, 120.0, 1000, 0, 1),
        (100.0, 101.0, 1000, 0, 1),
    ]
    for t_start, t_stop, width, level_index, per_column in cases:
        image = pyramid.query(t_start, t_stop, width)
        level = pyramid.levels[image.level_used]
        assert (image.level_used, image.bins_per_column) == (level_index, per_column)
        assert image.bin_s == pytest.approx(level.bin_s * per_column)
        assert image.t_edges[0] <= t_start and image.t_edges[-1] >= t_stop
        assert image.counts.shape == (35, len(image.t_edges) - 1)
        if t_stop - t_start >= width * level.bin_s:  # not zoomed past the base bin: about width_px columns
            assert width <= image.counts.shape[1] <= width * (per_column + 1) / per_column + 2
        first_bin = int(round((image.t_edges[0] - level.t0) / level.bin_s))
        stop_bin = first_bin + image.counts.shape[1] * per_column
        full = pyramid.level_counts(level.index)[:, first_bin:stop_bin]
        expected = full.reshape(35, -1, per_column).sum(axis=2)
        np.testing.assert_array_equal(image.counts, expected)
        np.testing.assert_allclose(image.t_edges, level.edges()[first_bin : stop_bin + 1 : per_column])


def test_query_units_outside_the_recording_and_bad_viewports(human_pyramid):
    subset = human_pyramid.query(500.0, 600.0, 400, units=[7, 3, 30])
    whole = human_pyramid.query(500.0, 600.0, 400)
    np.testing.assert_array_equal(subset.counts, whole.counts[[7, 3, 30]])
    np.testing.assert_array_equal(subset.units, [7, 3, 30])
    edge = human_pyramid.query(-100.0, 100.0, 200)
    before = edge.t_edges[:-1] < 0
    assert before.any() and edge.counts[:, before].sum() == 0 and edge.counts.sum() > 0
    assert human_pyramid.query(1e6, 1e6 + 10, 100).counts.sum() == 0
    for args in [(10.0, 10.0, 100), (10.0, 5.0, 100), (0.0, 10.0, 0), (0.0, float("nan"), 10)]:
        with pytest.raises(ProductInputError):
            human_pyramid.query(*args)
    with pytest.raises(ProductInputError):
        human_pyramid.query(0.0, 10.0, 100, units=[35])


def test_spike_estimate_and_when_to_draw_spikes(human_pyramid, human_units):
    flat = np.concatenate(human_units)
    for t_start, t_stop in [(100.0, 110.0), (0.0, 3000.0), (1234.5, 1300.25)]:
        estimate = human_pyramid.spikes_in_view(t_start, t_stop)
        exact = int(((flat >= t_start) & (flat < t_stop)).sum())
        assert exact <= estimate <= exact + 2 * 35 * 20
    assert human_pyramid.spikes_in_view(0.0, 3000.0) == 214_278
    assert human_pyramid.should_show_spikes(100.0, 110.0)
    assert not human_pyramid.should_show_spikes(0.0, 3000.0)
    assert human_pyramid.should_show_spikes(0.0, 3000.0, n_spikes_estimate=10)
    assert not human_pyramid.should_show_spikes(100.0, 110.0, max_spikes=10)


def test_opening_a_folder_without_a_finished_pyramid(tmp_path):
    with pytest.raises(ProductNotFound):
        SpikeDensityPyramid.open(tmp_path)
