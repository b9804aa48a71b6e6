"""Per-unit spike times from an NWB ragged array, read in bounded blocks.

NWB stores all units' spike times in one flat ``spike_times`` dataset and, per unit, the end
offset of its run in ``spike_times_index``. Products read that flat array here, a block at a
time, so a file with 100M spikes costs one block of memory (``max_spikes`` x 8 bytes), not all.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from engines.nwb.errors import NwbReadError
from engines.nwb.products.errors import ProductInputError

__all__ = ["UnitRanges", "unit_ranges", "iter_spike_blocks", "SpikeTimeScan", "scan_spike_times"]


@dataclass(frozen=True)
class UnitRanges:
    """Each unit's run ``[starts[i], stops[i])`` in the flat spike-time array."""

    starts: np.ndarray
    stops: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)

    def part(self, first: int, last: int) -> UnitRanges:
        return UnitRanges(self.starts[first:last], self.stops[first:last])


def unit_ranges(spike_times_index: Any, n_spike_times: int) -> UnitRanges:
    """Per-unit runs from a VectorIndex (1-D end offsets) or from ``(n_units, 2)`` [start, stop) rows.

    Costs one read of the index (n_units integers). Raises ``NwbReadError`` when the index
    points past the data (a truncated ragged array) or goes backwards.
    """
    index = np.asarray(spike_times_index)
    if index.ndim == 1:
        stops = index.astype(np.int64)
        starts = np.concatenate(([0], stops[:-1])).astype(np.int64)
        if len(stops) and np.any(np.diff(stops) < 0):
            unit = int(np.flatnonzero(np.diff(stops) < 0)[0]) + 1
            raise NwbReadError(
                f"spike_times_index goes backwards at unit {unit}: the ragged array is corrupt. "
                "Re-export the Units table."
            )
    elif index.ndim == 2 and index.shape[1] == 2:
        starts, stops = index[:, 0].astype(np.int64), index[:, 1].astype(np.int64)
        if np.any(stops < starts):
            raise ProductInputError("Unit ranges must be [start, stop) rows with start <= stop.")
    else:
        raise ProductInputError(
            f"Expected a spike_times_index (n_units,) or unit ranges (n_units, 2), "
            f"got an array of shape {index.shape}."
        )
    if len(starts) == 0:
        raise ProductInputError("There are no units: the spike_times_index is empty.")
    if starts.min() < 0 or stops.max() > n_spike_times:
        raise NwbReadError(
            f"The spike_times_index points past the data ({int(stops.max()):,} > "
            f"{n_spike_times:,} spike times): a truncated ragged array. The file may be an "
            "incomplete copy; download or export it again."
        )
    return UnitRanges(starts, stops)


def iter_spike_blocks(
    spike_times: Any, ranges: UnitRanges, max_spikes: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(rows, times)`` blocks of at most ``max_spikes`` spikes, units in order.

    ``rows`` is each spike's unit position within ``ranges`` (int64) and ``times`` are float64.
    Consecutive runs are read with one call (for h5py: one contiguous read per block); a unit
    larger than a block is split across blocks. Memory: about 16 bytes per spike of one block.
    """
    pieces: list[tuple[int, int, int]] = []
    n = 0
    for row, (start, stop) in enumerate(zip(ranges.starts.tolist(), ranges.stops.tolist())):
        pos = start
        while pos < stop:
            take = min(stop - pos, max_spikes - n)
            pieces.append((row, pos, pos + take))
            n += take
            pos += take
            if n == max_spikes:
                yield _read_pieces(spike_times, pieces)
                pieces, n = [], 0
    if pieces:
        yield _read_pieces(spike_times, pieces)


def _read_pieces(spike_times: Any, pieces: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    runs: list[list[int]] = []
    for _, start, stop in pieces:
        if runs and runs[-1][1] == start:
            runs[-1][1] = stop
        else:
            runs.append([start, stop])
    parts = [np.asarray(spike_times[a:b], dtype=np.float64) for a, b in runs]
    times = parts[0] if len(parts) == 1 else np.concatenate(parts)
    rows = np.repeat(
        np.array([p[0] for p in pieces], dtype=np.int64),
        np.array([p[2] - p[1] for p in pieces], dtype=np.int64),
    )
    return rows, times


@dataclass(frozen=True)
class SpikeTimeScan:
    """What one pass over the spike times found: their range, how many are NaN, and the data if it was small.

    ``in_memory`` holds every unit's spikes back to back when they fit in one block, with
    ``in_memory_ranges`` locating each unit in it; a second pass then reads from memory.
    """

    t_min: float
    t_max: float
    n_valid: int
    n_nan: int
    in_memory: np.ndarray | None
    in_memory_ranges: UnitRanges | None


def scan_spike_times(spike_times: Any, ranges: UnitRanges, max_spikes: int) -> SpikeTimeScan:
    """First and last spike time and the NaN count, over the units' runs.

    One read of every spike time (for h5py: ``n_spikes`` x 8 bytes in blocks). When all runs
    fit in one block, the block is kept (``in_memory``) so a second pass reads nothing again.
    Infinite times are refused: they cannot be binned.
    """
    t_min, t_max, n_valid, n_nan = math.inf, -math.inf, 0, 0
    kept: np.ndarray | None = None
    lengths = ranges.stops - ranges.starts
    total = int(lengths.sum())
    for _, times in iter_spike_blocks(spike_times, ranges, max_spikes):
        finite = times[~np.isnan(times)]
        if np.isinf(finite).any():
            raise ProductInputError("Some spike times are infinite; fix or drop them before binning.")
        n_nan += len(times) - len(finite)
        n_valid += len(finite)
        if len(finite):
            t_min, t_max = min(t_min, float(finite.min())), max(t_max, float(finite.max()))
        if total <= max_spikes:
            kept = times
    if kept is None:
        return SpikeTimeScan(t_min, t_max, n_valid, n_nan, None, None)
    stops = np.cumsum(lengths)
    return SpikeTimeScan(t_min, t_max, n_valid, n_nan, kept, UnitRanges(stops - lengths, stops))
