"""The session format, splits, training windows, synthetic and nitime data, and the optional acquisitions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from engines.training.config import (
    AllenSource,
    DataConfig,
    EegMotorSource,
    IblSource,
    NilearnSource,
    NitimeSource,
    SyntheticSource,
)
from engines.training.data import (
    Session,
    WindowDataset,
    generate_synthetic_sessions,
    load_nitime_session,
    load_session,
    save_session,
    split_segments,
)
from engines.training.data.acquire import (
    fetch_allen_experiment,
    fetch_eeg_motor,
    fetch_ibl_session,
    fetch_nilearn_fmri,
)
from engines.training.data.nitime_data import nitime_data_dir
from engines.training.errors import DataError, OptionalDependencyMissing


def _session(n: int = 200, **changes) -> Session:
    rng = np.random.default_rng(0)
    fields: dict[str, Any] = dict(
        session_id="s",
        bin_s=0.02,
        modalities={
            "spikes": rng.poisson(1, (n, 5)).astype(np.float32),
            "lfp": rng.normal(size=(n, 3)).astype(np.float32),
        },
        behaviour=rng.normal(size=(n, 2)).astype(np.float32),
        stimulus=rng.integers(-1, 3, n),
        species="mouse",
        metadata={"source": "test"},
    )
    fields.update(changes)
    return Session(**fields)


def test_session_round_trips_through_its_file(tmp_path):
    session = _session(latents=np.ones((200, 2), dtype=np.float32))
    loaded = load_session(save_session(session, tmp_path / "s.npz"))
    assert loaded.session_id == "s" and loaded.species == "mouse" and loaded.metadata == {"source": "test"}
    np.testing.assert_array_equal(loaded.modalities["spikes"], session.modalities["spikes"])
    np.testing.assert_array_equal(loaded.stimulus, session.stimulus)
    np.testing.assert_array_equal(loaded.latents, session.latents)
    assert list(tmp_path.iterdir()) == [tmp_path / "s.npz"]  # no temporary file left behind


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(behaviour=np.zeros((150, 2), np.float32)), "different lengths .*behaviour 150"),
        (
            dict(modalities={"lfp": np.full((200, 2), np.nan, np.float32)}),
            "400 NaN or infinite values .*bin 0",
        ),
        (dict(modalities={"spikes": -np.ones((200, 2), np.float32)}), "must not be negative"),
        (dict(modalities={"ecog": np.zeros((200, 2), np.float32)}), "modality 'ecog'"),
        (dict(modalities={}), "no neural data"),
        (
            dict(modalities={"lfp": np.zeros((10, 2), np.float32)}, behaviour=None, stimulus=None),
            "only 10 bins",
        ),
    ],
)
def test_bad_sessions_are_refused_with_the_problem_named(change, message, tmp_path):
    with pytest.raises(DataError, match=message):
        save_session(_session(**change), tmp_path / "bad.npz")
    assert not list(tmp_path.iterdir())


def test_a_file_that_is_not_a_session_is_refused(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a session file"):
        load_session(tmp_path / "x.npz")


def test_splits_are_contiguous_disjoint_and_80_10_10():
    for blocks in (1, 4):
        segments = split_segments(1000, blocks)
        covered = sorted((a, b, name) for name, parts in segments.items() for a, b in parts)
        assert covered[0][0] == 0 and covered[-1][1] == 1000
        assert all(prev[1] == nxt[0] for prev, nxt in zip(covered, covered[1:]))
        sizes = {name: sum(b - a for a, b in parts) for name, parts in segments.items()}
        assert sizes == {"train": 800, "val": 100, "test": 100}
        assert len(segments["test"]) == blocks


def test_training_windows_stay_inside_the_train_split_and_depend_only_on_the_step():
    config = DataConfig(sources=[SyntheticSource()], seq_len=20, batch_size=6, split_blocks=3)
    dataset = WindowDataset([_session(n=900)], config, seed=1)
    train = dataset.items[0].segments["train"]
    for step in range(20):
        batch = dataset.train_batch(step)
        assert all(any(a <= s and s + 20 <= b for a, b in train) for s in batch.starts)
    again = WindowDataset([_session(n=900)], config, seed=1)
    np.testing.assert_array_equal(again.train_batch(7).starts, dataset.train_batch(7).starts)
    np.testing.assert_array_equal(
        again.train_batch(7).masks["spikes"], dataset.train_batch(7).masks["spikes"]
    )
    assert not np.array_equal(dataset.train_batch(7).starts, dataset.train_batch(8).starts)


def test_held_out_units_are_hidden_from_the_inputs_but_kept_in_the_targets():
    config = DataConfig(
        sources=[SyntheticSource()], seq_len=10, batch_size=2, heldout_fraction=0.4, modality_dropout=0
    )
    dataset = WindowDataset([_session()], config)
    heldout = dataset.heldout_units(0)
    batch = dataset.train_batch(0)
    assert len(heldout) == 2 and batch.targets["spikes"].shape[-1] == 5
    assert batch.inputs["spikes"].shape[-1] == 3
    assert dataset.spec.sessions[0].inputs["spikes"] == 3 and dataset.spec.sessions[0].outputs["spikes"] == 5


def test_asking_for_a_modality_no_session_has_is_refused():
    config = DataConfig(sources=[SyntheticSource()], modalities=["spikes", "fmri"], seq_len=10)
    with pytest.raises(DataError, match="No session has fmri data .*has lfp, spikes"):
        WindowDataset([_session()], config)
    with pytest.raises(DataError, match="has no eeg data"):
        _session().require("eeg")


def test_synthetic_sessions_share_latent_dynamics_and_carry_every_modality():
    sessions = generate_synthetic_sessions(
        SyntheticSource(n_sessions=2, n_bins=500, species=["mouse", "rat"])
    )
    assert [s.species for s in sessions] == ["mouse", "rat"]
    for s in sessions:
        assert set(s.modalities) == {"spikes", "lfp", "calcium", "eeg", "fmri"} and s.latents.shape == (
            500,
            4,
        )
        weights, *_ = np.linalg.lstsq(np.c_[s.latents, np.ones(500)], s.behaviour, rcond=None)
        residual = s.behaviour - np.c_[s.latents, np.ones(500)] @ weights
        assert residual.var() < 0.05 * s.behaviour.var()  # behaviour is a linear read-out of the true latents


def test_nitime_grasshopper_session_bins_every_spike_of_the_shipped_file():
    session = load_nitime_session(NitimeSource(dataset="grasshopper", recording=2), bin_s=0.01)
    spikes = np.loadtxt(nitime_data_dir() / "grasshopper_spike_times2.txt")
    assert session.modalities["spikes"].sum() == len(spikes) and session.n_bins == 1000
    assert session.behaviour.shape == (1000, 1) and 0 < session.behaviour.min() < session.behaviour.max() <= 1


def test_nitime_fmri_sessions_have_rois_and_events():
    rois = load_nitime_session(NitimeSource(dataset="fmri_roi"))
    assert rois.modalities["fmri"].shape == (250, 28) and rois.bin_s == 1.89
    events = load_nitime_session(NitimeSource(dataset="fmri_event"))
    assert events.behaviour.shape == (3360, 6) and set(np.unique(events.stimulus)) == {-1, 0, 1, 2, 3, 4, 5}


@pytest.mark.parametrize(
    "fetch, source, package",
    [
        (fetch_ibl_session, IblSource(eid="4b7fbad4-f6de-43b4-9b15-c7c7ef44db4b", offline=True), "ONE-api"),
        (fetch_allen_experiment, AllenSource(experiment_id=501940850), "allensdk"),
        (fetch_eeg_motor, EegMotorSource(subject=1, runs=[4], offline=True), "mne"),
        (fetch_nilearn_fmri, NilearnSource(dataset="haxby"), "nilearn"),
    ],
)
def test_acquisition_without_its_library_says_what_to_install(fetch, source, package):
    module = {"ONE-api": "one", "allensdk": "allensdk", "mne": "mne", "nilearn": "nilearn"}[package]
    try:
        __import__(module)
    except ImportError:
        with pytest.raises(OptionalDependencyMissing, match=f"pip install {package}"):
            fetch(source)
    else:
        pytest.skip(f"{module} is installed here; its offline path is exercised where it is not")
