"""One Allen Brain Observatory 2-photon experiment through AllenSDK (optional extra ``allensdk``).

dF/F traces -> ``calcium``, running speed -> behaviour, the stimulus epochs -> stimulus ids.
``BrainObservatoryCache`` downloads the experiment's NWB file (hundreds of MB) into
``cache_dir`` once and reads it from there afterwards, offline too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engines.training.config import AllenSource
from engines.training.data.acquire._common import bin_samples, fetching, require
from engines.training.data.session import Session

__all__ = ["fetch_allen_experiment"]


def fetch_allen_experiment(source: AllenSource, bin_s: float = 1 / 30) -> Session:
    """The experiment as a validated session, on a grid of ``bin_s`` (the 2-photon frame period by
    default)."""
    module = require(
        "allensdk.core.brain_observatory_cache", "allensdk", "Loading Allen 2-photon experiments"
    )
    cache = Path(source.cache_dir or Path.home() / ".neurodeck" / "allen").expanduser()
    boc = module.BrainObservatoryCache(manifest_file=str(cache / "manifest.json"))
    data = fetching(
        f"Allen experiment {source.experiment_id}",
        str(cache),
        lambda: boc.get_ophys_experiment_data(source.experiment_id),
    )
    t, dff = data.get_dff_traces()
    speed, speed_t = data.get_running_speed()
    t0 = float(t[0])
    n_bins = int(np.ceil((t[-1] - t0) / bin_s)) + 1
    calcium = bin_samples(t, np.asarray(dff).T, t0, n_bins, bin_s)
    behaviour = bin_samples(speed_t, np.nan_to_num(speed), t0, n_bins, bin_s)
    epochs = data.get_stimulus_epoch_table()
    labels = sorted(set(epochs["stimulus"]))
    stimulus = np.full(n_bins, -1, dtype=np.int64)
    for _, row in epochs.iterrows():
        a, b = (
            int((t[int(row["start"])] - t0) / bin_s),
            int((t[min(int(row["end"]), len(t) - 1)] - t0) / bin_s),
        )
        stimulus[max(a, 0) : b + 1] = labels.index(row["stimulus"])
    return Session(
        session_id=f"allen-{source.experiment_id}",
        bin_s=bin_s,
        modalities={"calcium": calcium},
        behaviour=behaviour,
        stimulus=stimulus,
        species="mouse",
        metadata={
            "source": "allen",
            "experiment_id": source.experiment_id,
            "t0": t0,
            "behaviour_names": ["running speed"],
            "stimulus_labels": labels,
        },
    ).validate()
