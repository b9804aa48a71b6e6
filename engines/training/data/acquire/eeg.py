"""PhysioNet EEG motor movement/imagery runs through MNE (optional extra ``mne``).

64-channel EEG at 160 Hz -> ``eeg`` averaged into bins; annotations T0 (rest), T1, T2 (left/
right fist or both fists/feet, by run) -> stimulus ids. MNE downloads each run's EDF file
(about 2.5 MB) into ``data_dir`` once; with ``offline`` it only reads files already there.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np

from engines.training.config import EegMotorSource
from engines.training.data.acquire._common import bin_samples, fetching, require
from engines.training.data.session import Session
from engines.training.errors import DatasetUnavailable

__all__ = ["fetch_eeg_motor"]


def _edf_paths(mne, source: EegMotorSource) -> list[str]:
    loader = mne.datasets.eegbci.load_data
    path = str(Path(source.data_dir).expanduser()) if source.data_dir else None
    kwargs: dict[str, Any] = {"path": path, "update_path": False}
    if source.offline:
        if "download" not in inspect.signature(loader).parameters:
            raise DatasetUnavailable(
                "This MNE version cannot load EEG motor imagery runs offline; install mne>=1.6 "
                "or turn offline off."
            )
        kwargs["download"] = False
    where = path or "MNE's data folder"
    paths = fetching(
        f"EEG motor imagery subject {source.subject} runs {source.runs}",
        where,
        lambda: loader(source.subject, source.runs, **kwargs),
    )
    if not paths:
        raise DatasetUnavailable(f"No EEG motor imagery files for subject {source.subject} in {where}.")
    return [str(p) for p in paths]


def fetch_eeg_motor(source: EegMotorSource, bin_s: float = 1 / 160) -> Session:
    """The chosen runs, concatenated, as a validated session with EEG and stimulus ids."""
    mne = require("mne", "mne", "Loading PhysioNet EEG motor imagery")
    raws = [mne.io.read_raw_edf(p, preload=True, verbose="error") for p in _edf_paths(mne, source)]
    raw = mne.concatenate_raws(raws)
    data, times = raw.get_data(return_times=True)
    n_bins = int(np.ceil((times[-1] - times[0]) / bin_s)) + 1
    eeg = bin_samples(times, data.T * 1e6, float(times[0]), n_bins, bin_s)
    labels = ["T0", "T1", "T2"]
    stimulus = np.full(n_bins, -1, dtype=np.int64)
    for onset, duration, name in zip(
        raw.annotations.onset, raw.annotations.duration, raw.annotations.description
    ):
        if name in labels:
            a = int((onset - times[0]) / bin_s)
            stimulus[max(a, 0) : a + int(duration / bin_s) + 1] = labels.index(name)
    return Session(
        session_id=f"eegbci-S{source.subject:03d}",
        bin_s=bin_s,
        modalities={"eeg": eeg},
        stimulus=stimulus,
        species="human",
        metadata={
            "source": "physionet-eegmmidb",
            "subject": source.subject,
            "runs": source.runs,
            "features": list(raw.ch_names),
            "sampling_rate_hz": float(raw.info["sfreq"]),
            "stimulus_labels": ["rest", "task 1", "task 2"],
        },
    ).validate()
