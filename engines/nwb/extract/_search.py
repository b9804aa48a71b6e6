"""Search in a sorted 1-D dataset (timestamps, one unit's spike times) without reading it whole.

The dataset is read in aligned blocks (its chunk along time, or 8192 elements = 64 KB of
float64 when contiguous or chunked coarsely: below the ~100 KB a remote read costs anyway). A search reads the
blocks at both ends of its range, then guesses where the value lies by interpolation
(times grow nearly linearly, so one or two guesses usually land in the right block),
falling back to halving the range every other step so the worst case stays about
2·log2(n / block) block reads. Blocks are cached, so later searches nearby are free.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from engines.nwb.errors import NwbReadError
from engines.nwb.extract._common import read
from engines.nwb.index import ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = ["SortedColumn"]

_CONTIGUOUS_BLOCK = 8192
_LARGEST_CHUNK_BYTES = 2 << 20
"""Chunks up to this size are the blocks (HDF5 reads a chunk whole anyway); larger ones are read in parts."""
_GUESSES_FIRST = 3
"""Interpolation steps before every other step becomes a halving."""


class SortedColumn:
    """Search and read ``info[start:stop]``, a range of a 1-D dataset sorted ascending (NaN counts as
    largest)."""

    def __init__(self, f: NwbFile, info: ObjectInfo, start: int = 0, stop: int | None = None) -> None:
        self.f = f
        self.info = info
        self.start = start
        if stop is None and len(info.dims) != 1:  # callers check this; a plain error beats a TypeError
            raise NwbReadError(f"'{info.path}' is not a 1-D column of values, so it cannot be searched.")
        self.stop = info.dims[0] if stop is None else stop
        self.itemsize = np.dtype(info.dtype).itemsize
        chunk = info.chunks[0] if info.chunks else 0
        self.block = chunk if 0 < chunk * self.itemsize <= _LARGEST_CHUNK_BYTES else _CONTIGUOUS_BLOCK
        self.bytes_read = 0
        self.reads = 0
        self._blocks: dict[int, np.ndarray] = {}

    def values(self, lo: int, hi: int) -> np.ndarray:
        """``dataset[lo:hi]`` (absolute indices) as float64: from the cache when one block holds it, else one
        read."""
        if hi <= lo:
            return np.empty(0)
        number = lo // self.block
        if number == (hi - 1) // self.block and number in self._blocks:
            base = number * self.block
            return self._blocks[number][lo - base : hi - base]
        self.reads += 1
        self.bytes_read += (hi - lo) * self.itemsize
        return np.asarray(read(self.f, self.info, slice(lo, hi)), dtype=np.float64)

    def _block(self, number: int) -> tuple[int, np.ndarray]:
        """(first index, values) of aligned block ``number`` clipped to [start, stop); cached."""
        lo = max(number * self.block, self.start)
        if number not in self._blocks:
            hi = min((number + 1) * self.block, self.stop)
            values = np.full(self.block, np.nan)
            values[lo - number * self.block : hi - number * self.block] = self.values(lo, hi)
            self._blocks[number] = values
        hi = min((number + 1) * self.block, self.stop)
        base = number * self.block
        return lo, self._blocks[number][lo - base : hi - base]

    def element(self, i: int) -> float:
        """One value by absolute index (reads its block unless cached)."""
        first, values = self._block(i // self.block)
        return float(values[i - first])

    def searchsorted(
        self,
        value: float,
        side: Literal["left", "right"] = "left",
        lo: int | None = None,
        hi: int | None = None,
    ) -> int:
        """Like ``np.searchsorted`` on ``dataset[lo:hi]``, returning an absolute index in [lo, hi]."""
        lo = self.start if lo is None else lo
        hi = self.stop if hi is None else hi

        def right_of(x: float) -> bool:  # the answer lies after an element holding x
            return x < value if side == "left" else x <= value

        left = right = (0, float("nan"))  # (index, value) just outside [lo, hi), once seen
        step = 0
        while hi > lo:
            if step == 0:
                probe = lo
            elif step == 1:
                probe = hi - 1
            elif step < 2 + _GUESSES_FIRST or step % 2 == 0:
                spread = right[1] - left[1]
                fraction = (value - left[1]) / spread if spread > 0 and np.isfinite(spread) else 0.5
                probe = left[0] + int(min(max(fraction, 0.0), 1.0) * (right[0] - left[0]))
                probe = min(max(probe, lo), hi - 1)
            else:
                probe = (lo + hi) // 2
            step += 1
            start, block = self._block(probe // self.block)
            a, b = max(lo, start), min(hi, start + len(block))
            inside = block[a - start : b - start]
            if right_of(inside[-1]):
                lo, left = b, (b - 1, float(inside[-1]))
            elif not right_of(inside[0]):
                hi, right = a, (a, float(inside[0]))
            else:
                return a + int(np.searchsorted(inside, value, side=side))
        return lo
