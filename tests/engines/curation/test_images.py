"""Group images: drawn off-screen, cached on disk under a key of analyzer, units and parameters."""

from __future__ import annotations

import numpy as np
import pytest

from engines.curation import AnalyzerData, CurationError, GroupImages, ImageParams
from engines.curation.analyzer import analyzer_fingerprint

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def images(review) -> GroupImages:
    return review.images


def test_each_feature_is_a_png_for_a_pair_and_for_a_larger_group(images, review):
    units = review.data.unit_ids
    for group in (units[:2], units[:5]):
        for feature in ("crosscorrelograms", "amplitude_plot", "templates"):
            path = images.image(group, feature)
            assert path.read_bytes().startswith(PNG) and path.stat().st_size > 5000


def test_a_cached_image_is_reused_and_a_different_group_or_parameter_gets_its_own(images, review, workspace):
    units = review.data.unit_ids
    first = images.image(units[:2], "crosscorrelograms")
    stamp = first.stat().st_mtime_ns
    assert images.image(units[:2], "crosscorrelograms") == first and first.stat().st_mtime_ns == stamp
    assert images.image(units[1::-1], "crosscorrelograms") != first  # unit order changes the picture
    other = GroupImages(
        review.data, workspace / "curation" / "images", images.fingerprint, ImageParams(dpi=60)
    )
    assert other.image(units[:2], "crosscorrelograms") != first
    assert not list(first.parent.glob(".*.partial"))  # atomic_write's temporary files


def test_the_cache_key_changes_when_the_correlograms_change(demo_analyzer):
    analyzer = demo_analyzer.copy()
    before = analyzer_fingerprint(analyzer)
    analyzer.compute("correlograms", window_ms=40.0, bin_ms=1.0)
    assert analyzer_fingerprint(analyzer) != before


def test_correlogram_grid_is_a_slice_of_the_one_correlogram_computation(review, demo_analyzer):
    counts, bins = demo_analyzer.get_extension("correlograms").get_data()
    units = review.data.unit_ids[2:5]
    group_counts, group_bins = review.data.correlograms(units)
    idx = [list(review.data.unit_ids).index(u) for u in units]
    assert np.array_equal(group_counts, counts[np.ix_(idx, idx)]) and np.array_equal(group_bins, bins)


def test_an_image_that_cannot_be_drawn_is_an_error_for_that_group_only(demo_analyzer, workspace):
    analyzer = demo_analyzer.copy()
    analyzer.delete_extension("spike_amplitudes")
    images = GroupImages(AnalyzerData(analyzer), workspace / "images", analyzer_fingerprint(analyzer))
    units = tuple(analyzer.unit_ids[:2].tolist())
    with pytest.raises(CurationError, match="amplitude_plot image of units .* spike_amplitudes"):
        images.image(units, "amplitude_plot")
    assert images.image(units, "crosscorrelograms").exists()
    with pytest.raises(CurationError, match="unknown image"):
        images.image(units, "spike_locations")
