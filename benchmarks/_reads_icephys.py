"""Section ``icephys``: the first picture of the Sweeps view of a remote patch-clamp file.

Ours: ``open_nwb`` on an empty workspace, ``list_sweeps`` (the icephys tables' columns) and
``read_sweeps`` of the first sequential recording (three sweeps, response and stimulus).
Baseline, what a user would otherwise write: pynwb over remfile, ``io.read()``, then the same
three recordings through pynwb's own tables (``TimeSeriesReference.data`` scaled by
``conversion``). Both on the test file of ``tests/support/nwb_files/icephys.py`` (9 sweeps,
five icephys tables) served with the Range server's added latency.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from engines.io.policy import SourcePolicy
from engines.nwb.extract.icephys import list_sweeps, read_sweeps
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from tests.support.nwb_files.icephys import write_icephys_nwb
from tests.support.range_server import RangeServerProcess

__all__ = ["measure"]


def _ours(url: str) -> int:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder)
        policy = SourcePolicy(workspace=workspace, allow_private_urls=True)
        f = open_nwb(url, policy, IndexStore(workspace))
        try:
            listing = list_sweeps(f)
            first = listing.sweeps[0].groups["sequential"]
            chosen = [s for s in listing.sweeps if s.groups["sequential"] == first]
            data = read_sweeps(f, chosen)
            return sum(len(d.response.values) + len(d.stimulus.values) for d in data)
        finally:
            f.close()


def _pynwb(url: str) -> int:
    import pynwb
    import remfile

    with (
        h5py.File(remfile.File(url), "r") as h5,
        pynwb.NWBHDF5IO(file=h5, mode="r", load_namespaces=True) as io,
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nwb = io.read()
            samples = 0
            for simultaneous in nwb.icephys_sequential_recordings["simultaneous_recordings"][0].index:
                for row in nwb.icephys_simultaneous_recordings["recordings"][int(simultaneous)].index:
                    for category, column in (("responses", "response"), ("stimuli", "stimulus")):
                        ref = nwb.intracellular_recordings[category][column][int(row)]
                        values = np.asarray(ref.data, dtype=np.float64) * ref.timeseries.conversion
                        samples += len(values)
        return samples


def _timed(server: RangeServerProcess, work: Callable[[], int], runs: int) -> tuple[float, int, int, int]:
    """Median seconds, and the requests, bytes and samples of the last run."""
    seconds, samples = [], 0
    for _ in range(runs):
        server.log.clear()
        started = time.perf_counter()
        samples = work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), server.log.count, server.log.bytes, samples


def measure(server: RangeServerProcess, data: Path, runs: int) -> dict[str, Any]:
    path = data / "icephys.nwb"
    if not path.exists():
        write_icephys_nwb(path)
    url = server.url_for(path.resolve().relative_to(server.root))
    _ours(url), _pynwb(url)  # imports and thread start-up are not timed
    ours = _timed(server, lambda: _ours(url), runs)
    base = _timed(server, lambda: _pynwb(url), runs)
    assert ours[3] == base[3], "both read the same sweeps"
    print(
        f"icephys first plot: ours {ours[0]:.2f} s ({ours[1]} requests, {ours[2] / 1e3:.0f} KB), "
        f"pynwb+remfile {base[0]:.2f} s ({base[1]} requests, {base[2] / 1e3:.0f} KB)"
    )
    return {
        "icephys_first_plot_s": round(ours[0], 3),
        "icephys_first_plot_requests": ours[1],
        "icephys_first_plot_kb": round(ours[2] / 1e3, 1),
        "icephys_pynwb_s": round(base[0], 3),
        "icephys_pynwb_requests": base[1],
        "icephys_speedup": round(base[0] / ours[0], 2),
    }
