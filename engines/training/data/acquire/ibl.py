"""One International Brain Laboratory session through the ONE API (optional extra ``ONE-api``).

Spikes of one probe -> ``spikes`` (good clusters), wheel velocity -> behaviour, trial stimulus
contrast and side -> stimulus ids. With ``offline`` ONE runs in local mode and reads only its
cache; otherwise it uses the public OpenAlyx server. Costs the session's spike files (tens to
hundreds of MB) on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engines.training.config import IblSource
from engines.training.data.acquire._common import bin_events, bin_samples, fetching, require
from engines.training.data.session import Session

__all__ = ["fetch_ibl_session", "OPENALYX_URL"]

OPENALYX_URL = "https://openalyx.internationalbrainlab.org"


def _connect(source: IblSource):
    api = require("one.api", "ONE-api", "Loading IBL sessions")
    cache = Path(source.cache_dir).expanduser() if source.cache_dir else None
    kwargs: dict[str, Any] = {"mode": "local" if source.offline else "auto", "silent": True}
    if cache is not None:
        kwargs["cache_dir"] = cache
    if not source.offline:
        kwargs.update(base_url=OPENALYX_URL, password="international")
    return fetching("The ONE connection", str(cache or "ONE's default cache"), lambda: api.ONE(**kwargs))


def fetch_ibl_session(source: IblSource, bin_s: float = 0.02) -> Session:
    """The session ``source.eid`` as a validated session (raises ``OptionalDependencyMissing`` or
    ``DatasetUnavailable`` with what to do when ONE is missing or the data is out of reach)."""
    one = _connect(source)
    where = str(source.cache_dir or "ONE's cache")
    probe = source.probe or "probe00"
    spikes = fetching(
        f"IBL spikes of {source.eid}/{probe}",
        where,
        lambda: one.load_object(source.eid, "spikes", collection=f"alf/{probe}*"),
    )
    wheel = fetching(f"IBL wheel of {source.eid}", where, lambda: one.load_object(source.eid, "wheel"))
    trials = fetching(f"IBL trials of {source.eid}", where, lambda: one.load_object(source.eid, "trials"))
    times, clusters = np.asarray(spikes["times"]), np.asarray(spikes["clusters"]).astype(np.int64)
    t0, t1 = float(times.min()), float(times.max())
    n_bins = int(np.ceil((t1 - t0) / bin_s)) + 1
    counts = bin_events(times, t0, n_bins, bin_s, clusters)
    position = bin_samples(np.asarray(wheel["timestamps"]), np.asarray(wheel["position"]), t0, n_bins, bin_s)
    velocity = np.gradient(position[:, 0]) / bin_s
    contrast = np.nan_to_num(np.asarray(trials["contrastLeft"]), nan=0.0) - np.nan_to_num(
        np.asarray(trials["contrastRight"]), nan=0.0
    )
    levels = np.unique(contrast)
    stimulus = np.full(n_bins, -1, dtype=np.int64)
    for start, stop, value in zip(trials["stimOn_times"], trials["response_times"], contrast):
        if np.isfinite(start) and np.isfinite(stop):
            stimulus[max(0, int((start - t0) / bin_s)) : max(0, int((stop - t0) / bin_s)) + 1] = int(
                np.searchsorted(levels, value)
            )
    return Session(
        session_id=f"ibl-{source.eid[:8]}-{probe}",
        bin_s=bin_s,
        modalities={"spikes": counts},
        behaviour=velocity.astype(np.float32)[:, None],
        stimulus=stimulus,
        species="mouse",
        metadata={
            "source": "ibl",
            "eid": source.eid,
            "probe": probe,
            "t0": t0,
            "behaviour_names": ["wheel velocity"],
            "stimulus_labels": [f"contrast {v:+.3g}" for v in levels],
        },
    ).validate()
