"""Units: one summary row per unit, and the spikes of a time window for a raster.

``spike_times`` is one long sorted-per-unit array cut into units by ``spike_times_index``.
The index (n_units integers) is read once per call; each unit's window is then found by
searching its own slice block by block (``_search``), so a window costs a few 64 KB block
reads per unit plus the spikes in it, never the whole array.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engines.nwb.errors import NwbReadError
from engines.nwb.extract._common import child, is_numeric, read, read_rows
from engines.nwb.extract._search import SortedColumn
from engines.nwb.extract.errors import InvalidRequest, UnsupportedData
from engines.nwb.extract.tables import read_column, table_columns
from engines.nwb.nwbfile import NwbFile

__all__ = ["UnitsTable", "SpikeWindow", "SpikeCount", "read_units_table", "read_spike_window", "count_spikes"]

_SUMMARY_ROWS = 100_000
"""Units tables up to this many rows get their other scalar columns in the summary."""

_CUT_STEPS = 40


@dataclass
class UnitsTable:
    """One row per unit: ``unit`` (id), ``n_spikes``, ``rate_hz`` and the table's other scalar columns.

    ``rate_hz`` is spikes over the whole recording's span (``t_start`` .. ``t_stop``, first
    to last spike of any unit); ``n_spikes`` counts NaN entries too.
    """

    frame: pd.DataFrame
    t_start: float
    t_stop: float


@dataclass
class SpikeWindow:
    """Spikes of some units with ``t_start <= t < t_stop``, grouped by unit, in time order within each.

    When more than ``max_spikes`` fall in the asked window, the window is cut short: ``t_stop``
    moves back to where the first spikes by time (at most ``max_spikes``) end, and
    ``truncated`` is set; ``total_in_window`` counts the spikes of the whole asked window.
    ``nan_dropped`` counts NaN spike times that were read and left out.
    """

    unit_rows: np.ndarray
    times: np.ndarray
    units: list[int]
    t_start: float
    t_stop: float
    truncated: bool
    total_in_window: int
    nan_dropped: int = 0


@dataclass
class SpikeCount:
    """Spikes in a window (``t_start <= t < t_stop``; None: open end): in all, and per unit row of
    ``units``."""

    total: int
    per_unit: np.ndarray
    units: list[int]
    t_start: float | None
    t_stop: float | None


def _spike_layout(f: NwbFile, path: str) -> tuple[SortedColumn, np.ndarray]:
    """The spike_times column and each unit's end offset; checks the ragged array is whole (one small
    read)."""
    times = child(f, path, "spike_times")
    index = child(f, path, "spike_times_index")
    if times is None:
        raise UnsupportedData(
            f"'{path}' has no spike_times column, so there are no spikes to plot. "
            "Open it in the Table view to see its other columns."
        )
    if index is None or times.kind != "dataset" or index.kind != "dataset":
        raise NwbReadError(
            f"'{path}' has spike_times without spike_times_index, so spikes cannot be assigned "
            "to units. The file does not follow the NWB schema."
        )
    if not (is_numeric(times) and is_numeric(index)) or len(times.shape or []) != 1:
        raise NwbReadError(
            f"The spike_times of '{path}' are not a list of numbers. The file does not follow the NWB schema."
        )
    ends = np.asarray(read(f, index, slice(None)), dtype=np.int64).reshape(-1)
    n_stored = (times.shape or [0])[0]
    if len(ends) and ends[-1] > n_stored:
        raise NwbReadError(
            f"The spike times of '{path}' are truncated: spike_times_index expects {int(ends[-1]):,} "
            f"spikes but spike_times holds {n_stored:,}. The file was written incompletely; "
            "export it again."
        )
    if len(ends) and (ends[0] < 0 or np.any(np.diff(ends) < 0)):
        raise NwbReadError(
            f"The spike_times_index of '{path}' is not increasing, so units' spikes overlap. "
            "The file is damaged; export it again."
        )
    return SortedColumn(f, times), ends


def _starts(ends: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], ends[:-1]]).astype(np.int64)


def _span(column: SortedColumn, starts: np.ndarray, ends: np.ndarray) -> tuple[float, float]:
    """First and last spike over the given units: one read of 2 values per non-empty unit."""
    full = ends > starts
    if not full.any():
        return math.nan, math.nan
    edges = np.asarray(
        read_rows(column.f, column.info, np.concatenate([starts[full], ends[full] - 1]).tolist()),
        dtype=np.float64,
    )
    half = int(full.sum())
    first, last = edges[:half], edges[half:]
    if np.isnan(first).all() or np.isnan(last).all():
        return math.nan, math.nan
    return float(np.nanmin(first)), float(np.nanmax(last))


def _summary_columns(f: NwbFile, path: str, n_units: int) -> dict[str, object]:
    """The table's other 1-D scalar columns (quality, depth, location, ...), one read each."""
    if n_units > _SUMMARY_ROWS:
        return {}
    out: dict[str, object] = {}
    for name in table_columns(f, path):
        info = child(f, path, name)
        if (
            name == "spike_times"
            or info is None
            or info.kind != "dataset"
            or len(info.dims) != 1
            or info.dims[0] != n_units
            or child(f, path, f"{name}_index") is not None
            or (info.dtype or "").startswith(("compound", "vlen"))
        ):
            continue
        out[name] = read_column(f, path, name, 0, n_units)
    return out


def read_units_table(f: NwbFile, path: str = "/units") -> UnitsTable:
    """One row per unit with spike counts and rates.

    Costs the index read, one read of each unit's first and last spike, and one read per
    summary column; spikes themselves are not read.
    """
    column, ends = _spike_layout(f, path)
    n_units = len(ends)
    ids_info = child(f, path, "id")
    ids = np.asarray(read(f, ids_info, slice(0, n_units))) if ids_info is not None else np.arange(n_units)
    counts = np.diff(np.concatenate([[0], ends]))
    t_start, t_stop = _span(column, _starts(ends), ends)
    duration = t_stop - t_start
    rates = counts / duration if duration > 0 else np.full(n_units, np.nan)
    frame = pd.DataFrame({"unit": ids, "n_spikes": counts, "rate_hz": rates})
    for name, values in _summary_columns(f, path, n_units).items():
        if name not in frame:
            frame[name] = values
    return UnitsTable(frame=frame, t_start=t_start, t_stop=t_stop)


def _cut_time(
    column: SortedColumn, lo: np.ndarray, hi: np.ndarray, t0: float, t1: float, total: int, max_spikes: int
) -> float:
    """A time T in (t0, t1) with at most ``max_spikes`` spikes in [t0, T), close to it.

    Starts from the time a steady rate would give, then bisects; each step searches every
    unit's own range, reusing blocks already read.
    """

    def count(t: float) -> int:
        return sum(column.searchsorted(t, "left", int(a), int(b)) - int(a) for a, b in zip(lo, hi) if b > a)

    below, above = t0, t1
    guess = t0 + (t1 - t0) * max_spikes / total
    for _ in range(_CUT_STEPS):
        found = count(guess)
        if found <= max_spikes:
            below = guess
            if found >= 0.9 * max_spikes:
                break
        else:
            above = guess
        guess = (below + above) / 2
    return below


def _window_rows(
    f: NwbFile, path: str, t_start: float | None, t_stop: float | None, units: Sequence[int] | None
) -> tuple[SortedColumn, list[int], np.ndarray, np.ndarray]:
    """(spike column, unit rows, first and end spike index of each unit's window): searches only, no spikes
    read."""
    column, ends = _spike_layout(f, path)
    starts = _starts(ends)
    rows = list(range(len(ends))) if units is None else [int(u) for u in units]
    outside = [u for u in rows if not 0 <= u < len(ends)]
    if outside:
        raise InvalidRequest(f"'{path}' has units 0–{len(ends) - 1}; unit row {outside[0]} does not exist.")
    if t_start is not None and t_stop is not None and t_stop < t_start:
        raise InvalidRequest(f"The window {t_start}–{t_stop} s is not valid: t_stop must be after t_start.")
    lo, hi = starts[rows].copy(), ends[rows].copy()
    for k, (a, b) in enumerate(zip(lo.tolist(), hi.tolist())):
        if t_start is not None:
            lo[k] = column.searchsorted(t_start, "left", a, b)
        if t_stop is not None:
            hi[k] = column.searchsorted(t_stop, "left", int(lo[k]), b)
    return column, rows, lo, hi


def count_spikes(
    f: NwbFile,
    path: str,
    t_start: float | None = None,
    t_stop: float | None = None,
    units: Sequence[int] | None = None,
) -> SpikeCount:
    """How many spikes ``read_spike_window`` would find (``t_start <= t < t_stop``), without reading them.

    Ask this before reading a raster window when no spike-density pyramid is ready (with one,
    ``SpikeDensityPyramid.spikes_in_view`` answers in microseconds): when the count is more than
    can be drawn (or than ``max_spikes``), draw density instead, so a raster never shows a
    truncated spike set. Costs the searches a read makes (the index, a few 64 KB block reads
    per unit and bound, shared by units in the same block; remote blocks are cached for the read
    that follows), but no spikes are read or held. NaN spike times are counted.
    """
    _, rows, lo, hi = _window_rows(f, path, t_start, t_stop, units)
    per_unit = (hi - lo).astype(np.int64)
    return SpikeCount(
        total=int(per_unit.sum()), per_unit=per_unit, units=rows, t_start=t_start, t_stop=t_stop
    )


def read_spike_window(
    f: NwbFile,
    path: str,
    t_start: float | None = None,
    t_stop: float | None = None,
    units: Sequence[int] | None = None,
    max_spikes: int = 200_000,
) -> SpikeWindow:
    """Spikes of ``units`` (row numbers; default all) with ``t_start <= t < t_stop`` (open ends: no bound).

    Costs the index read, a few block reads per unit and bound (often shared: a block holds
    8192 spikes, so small units share blocks), and the spikes returned (at most
    ``max_spikes``, 8 bytes each, one read per unit). More spikes than ``max_spikes`` cut the
    window short (``truncated``); ``count_spikes`` tells beforehand, at the cost of the searches.
    """
    column, rows, lo, hi = _window_rows(f, path, t_start, t_stop, units)
    total = int(np.sum(hi - lo))
    first, last = (t_start, t_stop) if t_start is not None and t_stop is not None else _span(column, lo, hi)
    t0 = t_start if t_start is not None else first
    t1 = t_stop if t_stop is not None else math.nextafter(last, math.inf)
    truncated = total > max_spikes
    if truncated and math.isfinite(t0) and math.isfinite(t1):
        t1 = _cut_time(column, lo, hi, t0, t1, total, max_spikes)
        hi = np.array(
            [column.searchsorted(t1, "left", int(a), int(b)) for a, b in zip(lo, hi)], dtype=np.int64
        )
    unit_rows, times, dropped, budget = [], [], 0, max_spikes
    for row, a, b in zip(rows, lo.tolist(), hi.tolist()):
        values = column.values(a, min(b, a + budget))
        budget -= len(values)
        keep = ~np.isnan(values)
        dropped += int(len(values) - keep.sum())
        times.append(values[keep])
        unit_rows.append(np.full(int(keep.sum()), row, dtype=np.int64))
    return SpikeWindow(
        unit_rows=np.concatenate(unit_rows) if unit_rows else np.empty(0, dtype=np.int64),
        times=np.concatenate(times) if times else np.empty(0),
        units=rows,
        t_start=float(t0),
        t_stop=float(t1),
        truncated=truncated,
        total_in_window=total,
        nan_dropped=dropped,
    )
