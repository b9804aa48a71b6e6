"""Real recordings shipped inside the nitime package, as sessions (no download needed).

- ``grasshopper``: one auditory receptor neuron of a grasshopper (spike times in µs) and the
  sound-amplitude stimulus it heard (20 kHz, 10 s); behaviour = the binned stimulus amplitude.
- ``fmri_roi``: 31 ROI time series of one fMRI run (TR 1.89 s, 250 volumes); no behaviour.
- ``fmri_event``: one ROI's BOLD signal (TR 2 s, 3360 volumes) with 6 event types; stimulus ids
  are the events and behaviour is the events' regressors convolved with a canonical HRF.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.training.config import NitimeSource
from engines.training.data.session import Session
from engines.training.errors import OptionalDependencyMissing

__all__ = ["load_nitime_session", "nitime_data_dir", "canonical_hrf"]

_FMRI_ROI_TR = 1.89
_FMRI_EVENT_TR = 2.0
_GLOBAL_SIGNALS = ("WM", "Vent", "Brain")


def nitime_data_dir() -> Path:
    try:
        import nitime
    except ImportError:
        raise OptionalDependencyMissing(
            "The nitime demo data needs the 'nitime' package: pip install nitime."
        ) from None
    return Path(nitime.__file__).parent / "data"


def canonical_hrf(dt: float, duration_s: float = 30.0) -> np.ndarray:
    """The double-gamma haemodynamic response sampled every ``dt`` seconds, summing to 1."""
    from scipy.stats import gamma

    t = np.arange(0, duration_s, dt)
    hrf = gamma.pdf(t, 6) - gamma.pdf(t, 16) / 6
    return hrf / hrf.sum()


def _grasshopper(recording: int, bin_s: float) -> Session:
    folder = nitime_data_dir()
    stimulus = np.loadtxt(folder / f"grasshopper_stimulus{recording}.txt")
    spikes_us = np.loadtxt(folder / f"grasshopper_spike_times{recording}.txt", ndmin=1)
    stim_t = stimulus[:, 0] * 1e-6
    duration = stim_t[-1] + (stim_t[1] - stim_t[0])
    edges = np.arange(0, duration + bin_s / 2, bin_s)
    counts = np.histogram(spikes_us * 1e-6, edges)[0].astype(np.float32)[:, None]
    which = np.clip(np.searchsorted(edges, stim_t, side="right") - 1, 0, len(edges) - 2)
    amplitude = np.bincount(which, stimulus[:, 1], len(edges) - 1) / np.maximum(
        np.bincount(which, None, len(edges) - 1), 1
    )
    return Session(
        session_id=f"nitime-grasshopper-{recording}",
        bin_s=bin_s,
        modalities={"spikes": counts},
        behaviour=amplitude.astype(np.float32)[:, None],
        species="grasshopper",
        metadata={
            "source": "nitime",
            "dataset": "grasshopper",
            "recording": recording,
            "behaviour_names": ["stimulus amplitude"],
            "units": ["receptor neuron"],
        },
    ).validate()


def _fmri_roi() -> Session:
    import pandas as pd

    frame = pd.read_csv(nitime_data_dir() / "fmri_timeseries.csv")
    rois = [c for c in frame.columns if c not in _GLOBAL_SIGNALS]
    return Session(
        session_id="nitime-fmri-roi",
        bin_s=_FMRI_ROI_TR,
        modalities={"fmri": frame[rois].to_numpy(np.float32)},
        species="human",
        metadata={"source": "nitime", "dataset": "fmri_roi", "features": rois},
    ).validate()


def _fmri_event() -> Session:
    import pandas as pd

    frame = pd.read_csv(nitime_data_dir() / "event_related_fmri.csv")
    events = frame["events"].to_numpy().astype(np.int64)
    kinds = sorted(int(k) for k in np.unique(events) if k > 0)
    hrf = canonical_hrf(_FMRI_EVENT_TR)
    design = np.stack([np.convolve((events == k).astype(float), hrf)[: len(events)] for k in kinds], axis=1)
    design /= design.std(axis=0, keepdims=True) + 1e-12
    stimulus = np.where(events > 0, events - 1, -1)
    return Session(
        session_id="nitime-fmri-event",
        bin_s=_FMRI_EVENT_TR,
        modalities={"fmri": frame[["bold"]].to_numpy(np.float32)},
        behaviour=design.astype(np.float32),
        stimulus=stimulus,
        species="human",
        metadata={
            "source": "nitime",
            "dataset": "fmri_event",
            "features": ["bold"],
            "behaviour_names": [f"event {k} (HRF)" for k in kinds],
            "stimulus_labels": [f"event {k}" for k in kinds],
        },
    ).validate()


def load_nitime_session(source: NitimeSource, bin_s: float = 0.005) -> Session:
    """The chosen nitime recording as a session; ``bin_s`` applies to the grasshopper spikes only.

    Reads a few MB of text from the installed package (the grasshopper stimulus is 200,000 rows).
    """
    if source.dataset == "grasshopper":
        return _grasshopper(source.recording, bin_s)
    if source.dataset == "fmri_roi":
        return _fmri_roi()
    return _fmri_event()
