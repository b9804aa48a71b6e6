"""Position paths: every k-th sample of a SpatialSeries, scaled, with its time."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import numpy as np
import pytest
from pynwb import NWBHDF5IO, NWBFile
from pynwb.behavior import Position, SpatialSeries

from engines.nwb.extract import UnsupportedData, read_xy
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR

XY = np.column_stack([np.sin(np.arange(50_000) / 500), np.cos(np.arange(50_000) / 700)])
TRACK = np.linspace(0, 2, 3_000)
TRACK_TIMES = np.cumsum(np.full(3_000, 0.02)) + 7.0


@pytest.fixture
def behavior(workspace, policy, index_store):
    """A pynwb-written file with a 2-D position (rate, conversion) and a 1-D linear track (timestamps)."""
    nwb = NWBFile(
        session_description="behavior",
        identifier="behavior-1",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    module = nwb.create_processing_module(name="behavior", description="position")
    position = Position(name="Position")
    position.add_spatial_series(
        SpatialSeries(
            name="xy", data=XY, reference_frame="arena corner", rate=50.0, conversion=0.01, unit="meters"
        )
    )
    position.add_spatial_series(
        SpatialSeries(
            name="track", data=TRACK, reference_frame="track start", timestamps=TRACK_TIMES, unit="meters"
        )
    )
    module.add(position)
    path = workspace / "behavior.nwb"
    with warnings.catch_warnings(), NWBHDF5IO(str(path), "w") as io:
        warnings.simplefilter("ignore")
        io.write(nwb)
    return open_nwb(str(path), policy, index_store)


def test_long_path_is_decimated_by_stride_and_scaled(behavior):
    path = read_xy(behavior, "/processing/behavior/Position/xy", max_points=1_000)
    assert path.decimated and len(path.t) == 1_000
    np.testing.assert_allclose(path.x, XY[::50, 0] * 0.01)
    np.testing.assert_allclose(path.y, XY[::50, 1] * 0.01)
    np.testing.assert_allclose(path.t, np.arange(0, 50_000, 50) / 50.0)
    assert path.unit == "meters"


def test_short_one_dimensional_path_is_returned_whole_with_its_timestamps(behavior):
    path = read_xy(behavior, "/processing/behavior/Position/track")
    assert not path.decimated and path.y is None
    np.testing.assert_array_equal(path.x, TRACK)
    np.testing.assert_array_equal(path.t, TRACK_TIMES)


def test_image_series_is_not_a_path(policy, index_store):
    f = open_nwb(str(DATA_DIR / "pynwb-types/test_TwoPhotonSeries.nwb"), policy, index_store)
    with pytest.raises(UnsupportedData, match="3-D data"):
        read_xy(f, "/acquisition/test_2ps")
