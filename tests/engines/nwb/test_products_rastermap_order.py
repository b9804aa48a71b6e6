"""Rastermap ordering: the same order as calling Rastermap directly, sensible parameters for few units."""

from __future__ import annotations

import numpy as np
import pytest
from rastermap import Rastermap

from engines.nwb.products import ProductInputError, ProductNotFound
from engines.nwb.products.rastermap_order import (
    RastermapOrder,
    compute_rastermap_order,
    rastermap_order_from_pyramid,
    rastermap_params,
    zscore_units,
)

HUMAN = "sub-4_ses-4_ecephys+image.nwb"


def test_human_recording_order_equals_calling_rastermap_directly(human_pyramid, tmp_path):
    progress: list[float] = []
    result = rastermap_order_from_pyramid(human_pyramid, tmp_path, progress=lambda f, m: progress.append(f))
    assert sorted(result.order.tolist()) == list(range(35))
    assert result.source["level"] == 2 and result.source["bin_s"] == pytest.approx(0.32)
    assert result.params["n_PCs"] == 35 and result.params["n_clusters"] <= 17
    assert progress[0] == 0.0 and progress[-1] == 1.0
    counts = human_pyramid.level_counts(result.source["level"])
    with pytest.warns(UserWarning):  # Rastermap says it sorts the <= 50 units directly
        direct = Rastermap(**result.params).fit(zscore_units(counts))
    np.testing.assert_array_equal(result.order, direct.isort)
    stored = RastermapOrder.open(tmp_path)
    np.testing.assert_array_equal(stored.order, result.order)
    assert stored.params == result.params and stored.source == result.source


def test_assemblies_end_up_next_to_each_other():
    rng = np.random.default_rng(0)
    n_bins, groups = 3000, 3
    drive = rng.gamma(0.3, 1.0, (groups, n_bins))
    membership = np.repeat(np.arange(groups), 20)
    shuffled = rng.permutation(len(membership))
    counts = rng.poisson(0.2 + 2.0 * drive[membership[shuffled]])
    result = compute_rastermap_order(counts)
    assert result.params["n_clusters"] == 30
    ordered_groups = membership[shuffled][result.order]
    assert (np.diff(ordered_groups) != 0).sum() <= 4


def test_silent_units_go_last_and_too_few_units_keep_stored_order(tmp_path):
    rng = np.random.default_rng(1)
    counts = rng.poisson(1.0, (8, 400))
    counts[[2, 5]] = 0
    counts[6] = 3
    result = compute_rastermap_order(counts, out_dir=tmp_path)
    np.testing.assert_array_equal(result.silent_units, [2, 5, 6])
    np.testing.assert_array_equal(result.order[-3:], [2, 5, 6])
    assert sorted(result.order.tolist()) == list(range(8))
    assert result.source["n_fitted"] == 5
    np.testing.assert_array_equal(RastermapOrder.open(tmp_path).order, result.order)

    few = rng.poisson(1.0, (3, 400))
    few[0] = 0
    skipped = compute_rastermap_order(few)
    np.testing.assert_array_equal(skipped.order, [1, 2, 0])
    assert "needs 3" in skipped.source["skipped"]


def test_parameters_are_clamped_to_the_data():
    assert rastermap_params(1000, 11_000)["n_clusters"] == 100
    assert rastermap_params(1000, 11_000, n_clusters=500)["n_clusters"] == 199
    small = rastermap_params(35, 20)
    assert (small["n_PCs"], small["n_clusters"], small["time_lag_window"]) == (20, 17, 5)
    assert rastermap_params(35, 4)["time_lag_window"] == 3


def test_bad_counts_and_missing_results(tmp_path):
    with pytest.raises(ProductInputError):
        compute_rastermap_order(np.zeros(10))
    with pytest.raises(ProductInputError):
        compute_rastermap_order(np.zeros((5, 1)))
    with pytest.raises(ProductNotFound):
        RastermapOrder.open(tmp_path)
