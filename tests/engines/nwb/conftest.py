"""Fixtures that several NWB engine test modules share."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest

from engines.nwb.products import SpikeDensityPyramid, build_spike_density_pyramid

HUMAN = "sub-4_ses-4_ecephys+image.nwb"


@pytest.fixture(scope="session")
def human_pyramid(tmp_path_factory, nwb_data_dir: Path) -> SpikeDensityPyramid:
    """The spike-density pyramid of the 35-unit human recording, built once per run."""
    folder = tmp_path_factory.mktemp("human_pyramid")
    with h5py.File(nwb_data_dir / HUMAN, "r") as f:
        build_spike_density_pyramid(f["units/spike_times"], f["units/spike_times_index"], folder)
    return SpikeDensityPyramid.open(folder)
