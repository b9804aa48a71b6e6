"""A small NWB file with one object of every kind the aligned view stacks, and two that test its edges.

Traces (a 3-channel TimeSeries at 200 Hz; 120 s unless asked otherwise), coded events (TTL codes at
timestamps), bare events (an AnnotationSeries and an EventsTable), trials (every 10 s), units (4
units), a series whose name is markup (``CRAFTED_NAME``: it must show as text) and a series whose
``starting_time`` lost its ``rate`` (``BROKEN``: its panel must say why it cannot be read while the
others draw). Written with pynwb; the broken attribute is removed with h5py afterwards, since pynwb
refuses to write it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
from pynwb import NWBHDF5IO, NWBFile, TimeSeries
from pynwb.misc import AnnotationSeries

__all__ = ["write_aligned_nwb", "CRAFTED_NAME", "BROKEN", "DURATION_S"]

CRAFTED_NAME = "<img src=x onerror=alert(1)> & co"
BROKEN = "no_rate"
DURATION_S = 120.0


def _file(duration_s: float) -> NWBFile:
    nwb = NWBFile(
        session_description="aligned view test file",
        identifier="aligned-view-test",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    rng = np.random.default_rng(17)
    t = np.arange(0, duration_s, 1 / 200.0)
    waves = np.stack([np.sin(2 * np.pi * f * t) for f in (0.5, 1.0, 2.0)], axis=1)
    nwb.add_acquisition(TimeSeries(name="lfp", data=waves.astype("f4"), unit="mV", rate=200.0))
    ttl_times = np.arange(1.0, duration_s, 4.0)
    nwb.add_acquisition(
        TimeSeries(
            name="ttl",
            data=(np.arange(len(ttl_times)) % 3 + 1).astype("i4"),
            unit="n.a.",
            timestamps=ttl_times,
        )
    )
    notes = np.arange(2.5, duration_s, 10.0)
    nwb.add_acquisition(
        AnnotationSeries(name="notes", data=[f"note {i}" for i in range(len(notes))], timestamps=notes)
    )
    nwb.add_acquisition(
        TimeSeries(name=CRAFTED_NAME, data=np.cos(t[::10]).astype("f4"), unit="a.u.", rate=20.0)
    )
    nwb.add_acquisition(TimeSeries(name=BROKEN, data=np.zeros(100, "f4"), unit="a.u.", rate=10.0))
    table = nwb.create_events_table(name="lever_presses", description="lever presses")
    for press in np.arange(3.0, duration_s, 7.0):
        table.add_row(timestamp=float(press))
    for start in np.arange(0.0, duration_s - 10, 10.0):
        nwb.add_trial(start_time=float(start), stop_time=float(start + 6.0))
    for unit in range(4):
        nwb.add_unit(
            spike_times=np.sort(rng.uniform(0, duration_s, int(200 * (unit + 1) * duration_s / 120)))
        )
    return nwb


def write_aligned_nwb(path: Path, broken: bool = True, duration_s: float = DURATION_S) -> Path:
    """Write the file at ``path`` (a temporary name first, then renamed) and return ``path``.

    ``broken=False`` leaves ``BROKEN`` whole: pynwb refuses to read a file with that series at all, and
    the benchmark's baseline reads the file with pynwb. ``duration_s`` longer than the tests' 120 s makes
    every object longer at the same rates (the benchmark's hour: about 30 MB, a few seconds to write).
    """
    path = Path(path)
    part = path.with_name(f".{path.stem}.{os.getpid()}.part.nwb")
    with NWBHDF5IO(str(part), "w") as io:
        io.write(_file(duration_s))
    if broken:
        with h5py.File(part, "r+") as f:
            del f[f"acquisition/{BROKEN}/starting_time"].attrs["rate"]
    os.replace(part, path)
    return path
