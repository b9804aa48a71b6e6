"""Positions over time (SpatialSeries, or any TimeSeries of 1 to 3 columns) for an x/y path plot."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engines.nwb.extract._common import attr_float, attr_text, read
from engines.nwb.extract.errors import InvalidRequest
from engines.nwb.extract.timeseries import series_layout
from engines.nwb.nwbfile import NwbFile

__all__ = ["XYPath", "read_xy"]


@dataclass
class XYPath:
    """Every ``step``-th sample of a position series, in the series' unit (``y`` is None for 1-D data)."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray | None
    unit: str
    decimated: bool


def read_xy(f: NwbFile, path: str, max_points: int = 20_000) -> XYPath:
    """The path of a position series, every k-th sample when it has more than ``max_points``.

    One strided read of the first two columns and one of the timestamps. Locally that reads
    ``max_points`` rows; remotely HDF5 may fetch the rows in between too (a position series
    is small: an hour at 60 Hz is 3.5 MB).
    """
    if max_points < 1:
        raise InvalidRequest("max_points must be at least 1.")
    series = series_layout(f, path)
    n = series.n_samples
    step = max(1, math.ceil(n / max_points))
    rows = slice(0, n, step)
    two_d = len(series.data.dims) == 2
    raw = read(f, series.data, (rows, slice(0, min(2, series.n_channels))) if two_d else rows)
    values = np.asarray(raw, dtype=np.float64).reshape(len(range(0, n, step)), -1)
    values = values * attr_float(series.data, "conversion", 1.0) + attr_float(series.data, "offset", 0.0)
    if series.timestamps is not None:
        t = np.asarray(read(f, series.timestamps.info, rows), dtype=np.float64)
    else:
        t = series.starting_time + np.arange(0, n, step) / series.rate
    return XYPath(
        t=t,
        x=values[:, 0],
        y=values[:, 1] if values.shape[1] > 1 else None,
        unit=attr_text(series.data, "unit", ""),
        decimated=step > 1,
    )
