"""A session with a realistic units table (spike times, electrodes, quality) and a trials table.

Each call with another ``seed`` writes a different session (other spike counts, trial outcomes),
so a folder of them stands for the sessions of a study: what "tables across files" reads.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

__all__ = ["write_session_tables_nwb", "UNITS", "TRIALS"]

UNITS = 300
TRIALS = 300


def _session(seed: int, units: int, trials: int):
    from pynwb import NWBFile

    rng = np.random.default_rng(seed)
    nwb = NWBFile(
        session_description=f"generated session {seed}",
        identifier=f"session-tables-{seed}",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    device = nwb.create_device(name="probe")
    group = nwb.create_electrode_group(name="shank0", description="shank", location="CA1", device=device)
    for _ in range(32):
        nwb.add_electrode(group=group, location="CA1")
    nwb.add_unit_column(name="quality", description="curation label")
    nwb.add_unit_column(name="depth", description="depth along the probe (um)")
    nwb.add_unit_column(name="firing_rate", description="mean rate (Hz)")
    duration = 600.0
    for unit in range(units):
        count = int(rng.integers(50, 1500))
        nwb.add_unit(
            spike_times=np.sort(rng.uniform(0, duration, count)),
            electrodes=[unit % 32],
            quality=("good", "mua", "noise")[int(rng.integers(0, 3))],
            depth=float(rng.uniform(0, 3840)),
            firing_rate=count / duration,
        )
    nwb.add_trial_column(name="correct", description="the animal answered correctly")
    nwb.add_trial_column(name="stimulus", description="which stimulus was shown")
    nwb.add_trial_column(name="reaction_time", description="seconds from stimulus to answer")
    starts = np.sort(rng.uniform(0, duration - 2, trials))
    for start in starts:
        nwb.add_trial(
            start_time=float(start),
            stop_time=float(start + 1.5),
            correct=bool(rng.random() < 0.7),
            stimulus=("grating", "noise", "blank")[int(rng.integers(0, 3))],
            reaction_time=float(rng.uniform(0.2, 1.2)),
        )
    return nwb


def write_session_tables_nwb(path: Path, seed: int = 0, units: int = UNITS, trials: int = TRIALS) -> Path:
    """Write the session of ``seed`` to ``path`` (a temporary name, then renamed) and return ``path``."""
    from pynwb import NWBHDF5IO

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.nwb")
    with NWBHDF5IO(str(partial), "w") as io:
        io.write(_session(seed, units, trials))
    partial.replace(path)
    return path
