"""Min/max decimation of many channels: the envelope a line plot needs, in a bounded amount of memory.

Used by every traces reader (NWB series, EDF/BDF files), so one view draws them all alike.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["min_max_envelope"]

_SLAB_VALUES = 1 << 22
"""Decimation works on this many values at a time, bounding its temporary arrays."""


def min_max_envelope(t: np.ndarray, values: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Per bin of equal sample count: its first and last time, and per channel its min and max in the
    order they occur, so the drawn line keeps the signal's shape and every extreme.

    Works on the stored dtype, a few million values at a time, so decimating a 64 MB window
    needs little more memory than the window itself. NaN samples are skipped.
    """
    n, n_channels = values.shape
    size = math.ceil(n / n_bins)
    n_bins = math.ceil(n / size)
    out = np.empty((2 * n_bins, n_channels), dtype=values.dtype)
    per_slab = max(1, _SLAB_VALUES // (size * n_channels))
    for b0 in range(0, n_bins, per_slab):
        b1 = min(n_bins, b0 + per_slab)
        slab = values[b0 * size : min(b1 * size, n)]
        if len(slab) < (b1 - b0) * size:  # the last bin is short: repeating its last row changes no extreme
            slab = np.concatenate([slab, np.repeat(slab[-1:], (b1 - b0) * size - len(slab), axis=0)])
        # bins × channels × samples: the searched axis last and contiguous, which numpy scans fastest
        bins = np.ascontiguousarray(slab.reshape(b1 - b0, size, n_channels).transpose(0, 2, 1))
        if values.dtype.kind == "f" and np.isnan(bins).any():
            missing = np.isnan(bins)
            low, high = (
                np.where(missing, np.inf, bins).argmin(axis=2),
                np.where(missing, -np.inf, bins).argmax(axis=2),
            )
        else:
            low, high = bins.argmin(axis=2), bins.argmax(axis=2)
        out[2 * b0 : 2 * b1 : 2] = np.take_along_axis(bins, np.minimum(low, high)[..., None], axis=2)[..., 0]
        out[2 * b0 + 1 : 2 * b1 : 2] = np.take_along_axis(bins, np.maximum(low, high)[..., None], axis=2)[
            ..., 0
        ]
    starts = np.arange(n_bins) * size
    times = np.empty(2 * n_bins)
    times[0::2] = t[starts]
    times[1::2] = t[np.minimum(starts + size, n) - 1]
    return times, out
