"""A file whose TimeSeries clocks are broken the ways real converters break them, and scalars to show.

pynwb refuses a series with both ``timestamps`` and ``starting_time``, or with neither, so
pynwb writes valid series and h5py then breaks them in place:

* ``/acquisition/stamped``: timestamps (from 5 s, 10 Hz) and a NaN ``starting_time`` (rate 10);
* ``/acquisition/nan_start``: a NaN ``starting_time`` with a rate and no timestamps;
* ``/acquisition/no_clock``: neither (its ``starting_time`` deleted);
* ``/acquisition/fine``: a valid rate series (``starting_time`` 2.0, rate 30000.0);
* ``/acquisition/frames``: an ImageSeries of 5 frames with timestamps (from 7 s) and a NaN ``starting_time``;
* ``/session_description``: a scalar string longer than the tree shows, with markup in it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

__all__ = ["SESSION_DESCRIPTION", "write_nan_clock_nwb"]

SESSION_DESCRIPTION = "<b>bold</b> & a session description far longer than the tree shows beside a name"


def write_nan_clock_nwb(path: Path) -> Path:
    """Write the file to ``path`` (a temporary name, then renamed) and return ``path``."""
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.image import ImageSeries

    nwb = NWBFile(
        session_description=SESSION_DESCRIPTION,
        identifier="nan-clock",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    values = np.sin(np.linspace(0, 6 * np.pi, 200))
    nwb.add_acquisition(
        TimeSeries(name="stamped", data=values, unit="V", timestamps=5.0 + np.arange(200) / 10.0)
    )
    for name in ("nan_start", "no_clock"):
        nwb.add_acquisition(TimeSeries(name=name, data=values, unit="V", rate=10.0, starting_time=0.0))
    nwb.add_acquisition(TimeSeries(name="fine", data=values, unit="V", rate=30000.0, starting_time=2.0))
    frames = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4)
    nwb.add_acquisition(ImageSeries(name="frames", data=frames, unit="n.a.", timestamps=7.0 + np.arange(5.0)))
    path = Path(path)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.nwb")
    with NWBHDF5IO(str(partial), "w") as io:
        io.write(nwb)
    with h5py.File(partial, "r+") as h5:
        for series in ("stamped", "frames"):
            start = h5.create_dataset(f"acquisition/{series}/starting_time", data=np.nan)
            start.attrs.update(rate=10.0, unit="seconds")
        h5["acquisition/nan_start/starting_time"][()] = np.nan
        del h5["acquisition/no_clock/starting_time"]
    partial.replace(path)
    return path
