"""Aligned view: the first stacked picture of a remote file (traces, events, trials, spikes), and a zoom.

A generated hour (``write_aligned_nwb(duration_s=3600)``). Ours: open the file (fresh index) and read
the 30-s window of each of the four objects through
``read_stacked``; then a new 5-s window of all four on the open file (what a zoom costs). The
baseline is what a notebook user does: ``pynwb`` over ``remfile``, then each object's window
(the traces' rows by rate, the event timestamps searched after reading them, the trials table
as a DataFrame, each unit's spike times).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from engines.io.policy import SourcePolicy
from engines.nwb.extract.stacked import read_stacked, stack_item
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from tests.support.nwb_files.aligned import write_aligned_nwb
from tests.support.range_server import RangeServerProcess

__all__ = ["measure"]

ROOT = Path(__file__).resolve().parents[1]
OBJECTS = ("/acquisition/lfp", "/acquisition/ttl", "/intervals/trials", "/units")
FIRST, ZOOM = (1800.0, 1830.0), (1810.0, 1815.0)


def _ours(url: str, workspace: Path) -> tuple[float, float]:
    policy = SourcePolicy(workspace=workspace, allow_private_urls=True, request_timeout_s=30.0)
    started = time.perf_counter()
    nwb = open_nwb(url, policy, IndexStore(workspace))
    try:
        items = [stack_item(nwb.index, path) for path in OBJECTS]
        for item in items:
            read_stacked(nwb, item, *FIRST)
        first = time.perf_counter() - started
        started = time.perf_counter()
        for item in items:
            read_stacked(nwb, item, *ZOOM)
        return first, time.perf_counter() - started
    finally:
        nwb.close()


def _baseline_window(nwb: Any, t0: float, t1: float) -> int:
    lfp = nwb.acquisition["lfp"]
    rate, start = lfp.rate, lfp.starting_time or 0.0
    rows = lfp.data[int((t0 - start) * rate) : int((t1 - start) * rate)]
    ttl = np.asarray(nwb.acquisition["ttl"].timestamps[:])
    events = ttl[(ttl >= t0) & (ttl < t1)]
    trials = nwb.trials.to_dataframe()
    shown = trials[(trials.start_time < t1) & (trials.stop_time >= t0)]
    spikes = 0
    for unit in range(len(nwb.units)):
        times = np.asarray(nwb.units["spike_times"][unit])
        spikes += int(((times >= t0) & (times < t1)).sum())
    return len(rows) + len(events) + len(shown) + spikes


def _baseline(url: str) -> tuple[float, float]:
    import h5py
    import remfile
    from pynwb import NWBHDF5IO

    started = time.perf_counter()
    with h5py.File(remfile.File(url), "r") as h5, NWBHDF5IO(file=h5, mode="r", load_namespaces=True) as io:
        nwb = io.read()
        _baseline_window(nwb, *FIRST)
        first = time.perf_counter() - started
        started = time.perf_counter()
        _baseline_window(nwb, *ZOOM)
        return first, time.perf_counter() - started


def measure(server: RangeServerProcess, data: Path, runs: int) -> dict[str, Any]:
    path = data / "aligned_hour.nwb"
    if not path.exists():  # whole: pynwb (the baseline) cannot read the broken series' file
        write_aligned_nwb(path, broken=False, duration_s=3600.0)
    url = server.url_for(path.resolve().relative_to(ROOT))
    ours, baseline = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
            ours.append(_ours(url, Path(tmp)))
        baseline.append(_baseline(url))
    first, zoom = (statistics.median(r[i] for r in ours) for i in (0, 1))
    base_first, base_zoom = (statistics.median(r[i] for r in baseline) for i in (0, 1))
    print(
        f"aligned: first picture {first:.2f} s (pynwb+remfile {base_first:.2f} s), "
        f"zoom {zoom:.3f} s (pynwb+remfile {base_zoom:.3f} s)"
    )
    return {
        "aligned_first_s": round(first, 3),
        "aligned_first_baseline_s": round(base_first, 3),
        "aligned_first_ratio": round(base_first / first, 2),
        "aligned_zoom_s": round(zoom, 4),
        "aligned_zoom_baseline_s": round(base_zoom, 4),
        "aligned_zoom_ratio": round(base_zoom / zoom, 2),
    }
