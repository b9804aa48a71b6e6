"""How a TimeSeries places its samples in time: the one rule every reader of ``starting_time`` follows.

NWB gives a series either ``timestamps`` or ``starting_time`` with a ``rate``. Real files
also hold both, with ``starting_time`` NaN (some converters write it as a placeholder), or a
NaN ``starting_time`` alone. So: timestamps win whenever they exist; a ``starting_time`` is
used only when it is a finite number with a positive rate; anything else is a clear error,
not NaN times that draw an empty plot. Traces, events, spatial series and frames read the
index (``series_clock``); the products read h5py-like groups (``group_clock``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.nwb.errors import NwbReadError
from engines.nwb.extract._common import attr_float, child, read_scalar
from engines.nwb.index import ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = ["SeriesClock", "series_clock", "group_clock"]


@dataclass(frozen=True)
class SeriesClock:
    """Either ``timestamps`` (the index's entry, or an h5py-like dataset) or ``starting_time`` + ``rate``."""

    timestamps: Any
    starting_time: float
    rate: float


def _checked(where: str, start: float | None, rate: float) -> SeriesClock:
    """The clock of a series without timestamps, or the error that says what is missing."""
    if start is None:
        raise NwbReadError(
            f"'{where}' has neither timestamps nor starting_time, so its samples cannot be "
            "placed in time. The file needs fixing."
        )
    if not math.isfinite(start):
        raise NwbReadError(
            f"'{where}' has no timestamps and its starting_time is {start}, so its samples cannot be "
            "placed in time. The file needs fixing."
        )
    if rate <= 0:
        raise NwbReadError(
            f"'{where}' has a starting_time without a valid 'rate' attribute, so its samples "
            "cannot be placed in time. The file needs fixing."
        )
    return SeriesClock(None, start, rate)


def series_clock(f: NwbFile, path: str) -> SeriesClock:
    """The clock of the series at ``path`` from the index (one scalar read when the index lacks
    ``starting_time``'s value)."""
    timestamps: ObjectInfo | None = child(f, path, "timestamps")
    if timestamps is not None:
        return SeriesClock(timestamps, 0.0, 0.0)
    starting = child(f, path, "starting_time")
    if starting is None:
        return _checked(path, None, 0.0)
    return _checked(path, read_scalar(f, starting), attr_float(starting, "rate", 0.0))


def group_clock(series: Any) -> SeriesClock:
    """The clock of an h5py-like series group (products run on groups, not on the index)."""
    where = getattr(series, "name", None) or "this series"
    if "timestamps" in series:
        return SeriesClock(series["timestamps"], 0.0, 0.0)
    if "starting_time" not in series:
        return _checked(where, None, 0.0)
    start = series["starting_time"]
    value = np.asarray(start[()], dtype=np.float64).reshape(-1)
    try:
        rate = float(start.attrs.get("rate", 0.0))
    except (TypeError, ValueError):
        rate = 0.0
    return _checked(where, float(value[0]) if value.size else math.nan, rate if math.isfinite(rate) else 0.0)
