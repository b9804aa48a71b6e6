"""NWB files to training sessions through the NWB engine (real files from tests/data/nwb)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from engines.io.errors import SourceNotAllowed
from engines.training.data import convert_nwb
from engines.training.errors import DataError

HUMAN = "sub-4_ses-4_ecephys+image.nwb"


def test_units_become_binned_spikes_and_a_stimulus_table_becomes_ids(nwb_data_dir, policy, index_store):
    session = convert_nwb(str(nwb_data_dir / HUMAN), policy, index_store, bin_s=0.5)
    with h5py.File(nwb_data_dir / HUMAN, "r") as f:
        n_spikes, n_units = len(f["units/spike_times"]), len(f["units/spike_times_index"])
        categories = {
            c.decode() if isinstance(c, bytes) else str(c)
            for c in f["intervals/encoding_table/stimCategory"][:]
        }
    spikes = session.modalities["spikes"]
    assert spikes.shape[1] == n_units == 35 and spikes.sum() == n_spikes
    assert session.metadata["stimulus_column"] == "stimCategory"
    assert set(session.metadata["stimulus_labels"]) == categories
    assert (session.stimulus >= 0).any() and (session.stimulus == -1).any()
    assert session.species == "Homo sapiens" and session.behaviour is None


def test_behavioural_events_become_counts_and_missing_stop_times_are_filled(
    nwb_data_dir, policy, index_store
):
    session = convert_nwb(str(nwb_data_dir / "anm369963.nwb"), policy, index_store, bin_s=0.1)
    t0, t1 = session.metadata["t0"], session.metadata["t0"] + session.n_bins * 0.1
    with h5py.File(nwb_data_dir / "anm369963.nwb", "r") as f:
        left = f["acquisition/lick_times/lick_left_times/timestamps"][:]
    assert session.behaviour.shape[1] == 2
    assert session.behaviour[:, 0].sum() == ((left >= t0) & (left < t1)).sum()
    assert (session.stimulus >= 0).mean() > 0.9  # trials have NaN stop times: each runs to the next start
    assert session.metadata["stimulus_labels"] == ["lick left", "lick right"]


@pytest.mark.parametrize(
    "name, modality, channels",
    [
        ("test_LFP.nwb", "lfp", 4),
        ("test_ElectricalSeries.nwb", "lfp", 2),
        ("test_RoiResponseSeries.nwb", "calcium", 1),
    ],
)
def test_series_are_averaged_onto_the_bin_grid(nwb_data_dir, policy, index_store, name, modality, channels):
    session = convert_nwb(str(nwb_data_dir / "pynwb-types" / name), policy, index_store, bin_s=0.02)
    values = session.modalities[modality]
    assert values.shape == (session.n_bins, channels) and np.isfinite(values).all()
    if modality == "calcium":  # data 0..9 at 10 Hz: a linear ramp sampled every 20 ms
        np.testing.assert_allclose(np.diff(values[:, 0]), 0.2, atol=1e-5)


def test_modality_map_sends_a_series_to_another_modality(nwb_data_dir, policy, index_store):
    session = convert_nwb(
        str(nwb_data_dir / "pynwb-types" / "test_ElectricalSeries.nwb"),
        policy,
        index_store,
        bin_s=0.02,
        modality_map={"acquisition/test_eS": "eeg"},
    )
    assert set(session.modalities) == {"eeg"}


def test_a_file_without_neural_data_is_refused(nwb_data_dir, policy, index_store):
    with pytest.raises(DataError, match="no Units, ElectricalSeries or RoiResponseSeries"):
        convert_nwb(str(nwb_data_dir / "pynwb-types" / "test_Subject.nwb"), policy, index_store)


def test_remote_files_convert_over_http_and_disallowed_paths_are_refused(
    nwb_data_dir, policy, index_store, range_server, tmp_path
):
    remote = convert_nwb(range_server.url_for("A8604-211122_phy.nwb"), policy, index_store, bin_s=1.0)
    local = convert_nwb(str(nwb_data_dir / "A8604-211122_phy.nwb"), policy, index_store, bin_s=1.0)
    np.testing.assert_array_equal(remote.modalities["spikes"], local.modalities["spikes"])
    outside = tmp_path.parent / "elsewhere.nwb"
    outside.write_bytes((nwb_data_dir / "A8604-211122_phy.nwb").read_bytes())
    with pytest.raises(SourceNotAllowed):
        convert_nwb(str(outside), policy, index_store)
