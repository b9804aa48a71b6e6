"""Generate the NWB files the open benchmark reads, once, into a cache folder.

pynwb writes the skeleton (namespaces, electrodes, units, every group and attribute), so
the files look like real NWB files to any reader; the 1 GB ElectricalSeries is allocated
empty by pynwb and filled with h5py one 1-s chunk at a time, which takes seconds instead
of the minutes pynwb's iterators need. A file is written under a temporary name and
renamed at the end, so an interrupted run never leaves a half-written file to be reused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

__all__ = ["LARGE", "SPREAD", "ensure_large_file", "ensure_spread_file"]

LARGE = {
    "name": "large_ecephys.nwb",
    "channels": 64,
    "rate": 30_000.0,
    "seconds": 270,
    "chunk_seconds": 1,
    "units": 500,
    "spikes_per_unit": 10_000,
}
"""64-channel 30 kHz int16 ElectricalSeries of 270 s (1.04 GB) plus 500 units with 5M spikes."""

SPREAD = {"name": "spread_timeseries.nwb", "series": 200, "samples": 131_072}
"""200 acquisition TimeSeries of 1 MiB each (float64), headers about 1 MiB apart."""

ELECTRICAL_SERIES_PATH = "/acquisition/ElectricalSeries/data"


def _nwbfile(identifier: str):
    from pynwb import NWBFile

    return NWBFile(
        session_description="Neurodeck benchmark file",
        identifier=identifier,
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )


def _write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.nwb")
    partial.unlink(missing_ok=True)
    write(partial)
    partial.rename(path)
    return path


def _write_large(path: Path) -> None:
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO
    from pynwb.ecephys import ElectricalSeries

    spec = LARGE
    channels, rate = spec["channels"], spec["rate"]
    samples = int(rate * spec["seconds"])
    chunk = int(rate * spec["chunk_seconds"])
    nwb = _nwbfile("bench-large")
    device = nwb.create_device(name="probe")
    group = nwb.create_electrode_group(
        name="shank0", description="64-channel probe", location="CA1", device=device
    )
    for i in range(channels):
        nwb.add_electrode(group=group, location="CA1", x=0.0, y=float(20 * i), z=0.0)
    region = nwb.create_electrode_table_region(list(range(channels)), "all electrodes")
    data = H5DataIO(shape=(samples, channels), dtype=np.int16, chunks=(chunk, channels))
    nwb.add_acquisition(
        ElectricalSeries(
            name="ElectricalSeries",
            data=data,
            electrodes=region,
            rate=rate,
            starting_time=0.0,
            conversion=0.195e-6,
        )
    )
    rng = np.random.default_rng(0)
    duration = spec["seconds"]
    for _ in range(spec["units"]):
        times = np.sort(rng.uniform(0.0, duration, spec["spikes_per_unit"]))
        nwb.add_unit(spike_times=times, obs_intervals=[[0.0, float(duration)]])
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    t = np.arange(chunk) / rate
    waves = (200 * np.sin(2 * np.pi * 8.0 * t)[:, None] * np.linspace(0.5, 1.5, channels)[None, :]).astype(
        np.int16
    )
    with h5py.File(path, "r+") as h5:
        dset = h5[ELECTRICAL_SERIES_PATH]
        for start in range(0, samples, chunk):
            stop = min(start + chunk, samples)
            noise = rng.integers(-60, 60, size=(stop - start, channels), dtype=np.int16)
            dset[start:stop] = waves[: stop - start] + noise


def _write_spread(path: Path) -> None:
    from pynwb import NWBHDF5IO, TimeSeries

    nwb = _nwbfile("bench-spread")
    rng = np.random.default_rng(1)
    for i in range(SPREAD["series"]):
        nwb.add_acquisition(
            TimeSeries(
                name=f"series_{i:03d}",
                data=rng.standard_normal(SPREAD["samples"]),
                unit="V",
                rate=1000.0,
                starting_time=0.0,
                description=f"benchmark series {i}",
            )
        )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def ensure_large_file(folder: Path) -> Path:
    """The 1 GB ecephys file in ``folder``; written the first time (about half a minute, 1.1 GB disk)."""
    return _write_atomic(folder / LARGE["name"], _write_large)


def ensure_spread_file(folder: Path) -> Path:
    """The 200-series file in ``folder``; written the first time (a few seconds, 210 MB disk)."""
    return _write_atomic(folder / SPREAD["name"], _write_spread)
