"""What the data looks like: histograms, box statistics and auto-contrast of an image layer, plus the
layer's bounds in the state's coordinates (for "zoom to fit").

Reads stream chunk by chunk: 8- and 16-bit data is counted exactly in a fixed number of bins
without holding the volume; wider types hold the values of the box (capped by ``max_voxels``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from engines._progress import Cancel, Progress
from engines.io.policy import SourcePolicy
from engines.ngstate._precomputed import to_mip
from engines.ngstate.errors import NgStateError, VolumeError, VolumeTooLarge
from engines.ngstate.layers import set_lut_range
from engines.ngstate.state import NgState
from engines.ngstate.view import Bounds
from engines.ngstate.volume import Volume, open_volume

__all__ = [
    "Histogram",
    "open_layer_volume",
    "compute_histogram",
    "compute_roi_statistics",
    "auto_contrast_range",
    "apply_auto_contrast",
    "choose_mip",
    "layer_bounds",
    "state_point_to_voxel",
    "box_around",
]

_EXACT_TYPES = {"uint8", "int8", "uint16", "int16", "bool"}
_FLOAT_BINS = 1024
_SI = {"": 1.0, "p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "m": 1e-3, "c": 1e-2, "k": 1e3}


@dataclass(frozen=True)
class Histogram:
    """Counts of voxel values in bins ``[edges[i], edges[i+1])`` with summary statistics.

    8/16-bit data has one bin per value (exact percentiles); wider types 1024 bins between
    the minimum and maximum (percentiles within 1/1024 of that range).
    """

    counts: np.ndarray
    edges: np.ndarray
    dtype: str
    mip: int
    voxels: int
    minimum: float
    maximum: float
    mean: float
    std: float
    box: tuple[tuple[int, ...], tuple[int, ...]]
    """The box read, in voxels at ``mip`` (``hi`` exclusive)."""

    def percentile(self, p: float) -> float:
        """The value below which ``p`` percent of the voxels lie."""
        if not 0 <= p <= 100:
            raise NgStateError("A percentile is between 0 and 100.")
        cumulative = np.cumsum(self.counts)
        target = p / 100 * self.voxels
        index = int(np.searchsorted(cumulative, target, side="left"))
        index = min(index, len(self.counts) - 1)
        if self.dtype in _EXACT_TYPES:
            return float(self.edges[index])
        before = cumulative[index - 1] if index else 0
        inside = self.counts[index]
        fraction = (target - before) / inside if inside else 0.0
        return float(self.edges[index] + fraction * (self.edges[index + 1] - self.edges[index]))

    def to_frame(self, max_bins: int = 256) -> pl.DataFrame:
        """Bins (merged to at most ``max_bins``) as a table the page can plot: start, stop, count."""
        step = max(1, math.ceil(len(self.counts) / max_bins))
        starts = self.edges[:-1][::step]
        stops = np.append(starts[1:], self.edges[-1])
        counts = np.add.reduceat(self.counts, np.arange(0, len(self.counts), step))
        return pl.DataFrame(
            {"start": starts.astype(float), "stop": stops.astype(float), "count": counts.astype(np.int64)}
        )

    def summary(self) -> dict[str, Any]:
        """JSON-able statistics: voxels, min, max, mean, std and the 1/50/99th percentiles."""
        return {
            "mip": self.mip,
            "voxels": self.voxels,
            "min": self.minimum,
            "max": self.maximum,
            "mean": self.mean,
            "std": self.std,
            "p1": self.percentile(1),
            "p50": self.percentile(50),
            "p99": self.percentile(99),
            "box_lo": list(self.box[0]),
            "box_hi": list(self.box[1]),
        }


def open_layer_volume(
    state: NgState, layer: str, policy: SourcePolicy, aliases: Mapping[str, Path] | None = None
) -> Volume:
    """The volume behind a layer of the state (its first data source); one request for ``info``.

    ``aliases`` maps URL prefixes the app serves itself (the demo) to local folders. Layer
    source transforms are not applied: positions map to voxels through the dimension scales.
    """
    source = state.layer_source(layer)
    if not source or source.startswith("local://"):
        raise VolumeError(f"Layer '{layer}' has no data source to read (local annotations have none).")
    return open_volume(source, policy, aliases)


def choose_mip(volume: Volume, target_voxels: int = 16 * 1024**2) -> int:
    """The finest mip whose whole volume holds at most ``target_voxels`` (else the coarsest)."""
    for mip, scale in enumerate(volume.info.scales):
        if int(np.prod(scale.size)) <= target_voxels:
            return mip
    return len(volume.info.scales) - 1


def _box_at_mip(volume: Volume, mip: int, lo: tuple[float, ...] | None, hi: tuple[float, ...] | None):
    scale = volume.info.scale(mip)
    if lo is None or hi is None:
        return scale.voxel_offset, scale.upper
    return to_mip(volume.info, mip, lo, hi)


def _summarise_counts(counts: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray, int, float, float]:
    """Counts per integer value trimmed to the values present, their unit-wide bin edges, the voxel
    count, mean and standard deviation (8/16-bit data, counted exactly)."""
    count = int(counts.sum())
    nonzero = np.flatnonzero(counts)
    if count == 0:
        raise VolumeError("The box holds no voxels.")
    first, last = int(nonzero[0]), int(nonzero[-1])
    counts = counts[first : last + 1]
    edges = np.arange(first + offset, last + offset + 2, dtype=np.float64)
    centers = edges[:-1]
    mean = float(np.dot(counts, centers) / count)
    std = math.sqrt(max(float(np.dot(counts, (centers - mean) ** 2) / count), 0.0))
    return counts, edges, count, mean, std


def _summarise_values(values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int, float, float]:
    """The same for wider types, binned over the finite values' range (NaN and inf left out)."""
    every = np.concatenate(values).astype(np.float64) if values else np.zeros(0)
    finite = every[np.isfinite(every)]
    if finite.size == 0:
        raise VolumeError("The box holds no finite voxel values.")
    low, high = float(finite.min()), float(finite.max())
    counts, edges = np.histogram(finite, bins=_FLOAT_BINS, range=(low, high if high > low else low + 1))
    return counts, edges, int(finite.size), float(finite.mean()), float(finite.std())


def compute_histogram(
    volume: Volume,
    mip: int | None = None,
    lo: tuple[float, ...] | None = None,
    hi: tuple[float, ...] | None = None,
    channel: int = 0,
    max_voxels: int = 64 * 1024**2,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Histogram:
    """Histogram of one channel over the whole volume, or the mip-0 voxel box ``[lo, hi)``, read at ``mip``.

    ``mip=None`` picks one with at most 16 M voxels. Costs one read per chunk of the box;
    memory stays at a few chunks for 8/16-bit data, the box's values for wider types.
    """
    mip = choose_mip(volume) if mip is None else mip
    box_lo, box_hi = _box_at_mip(volume, mip, lo, hi)
    if not 0 <= channel < volume.info.num_channels:
        raise VolumeError(
            f"The volume has {volume.info.num_channels} channel(s); channel {channel} does not exist."
        )
    dtype = np.dtype(volume.info.data_type)
    exact = dtype.name in _EXACT_TYPES
    if not exact:
        voxels = int(np.prod([max(0, b - a) for a, b in zip(box_lo, box_hi)]))
        if voxels > max_voxels:
            raise VolumeTooLarge(
                f"{voxels:,} {dtype.name} voxels at mip {mip} exceed the limit of {max_voxels:,}. "
                "Choose a coarser mip or a smaller box."
            )
    offset = int(np.iinfo(dtype).min) if exact and dtype.kind == "i" else 0
    length = 2 if dtype.name == "bool" else (2 ** (8 * dtype.itemsize) if exact else 0)
    counts = np.zeros(length, dtype=np.int64)
    values: list[np.ndarray] = []
    for _origin, block in volume.iter_blocks(box_lo, box_hi, mip, progress, cancel):
        data = block[..., channel].ravel(order="K")  # chunks are Fortran-ordered: no copy
        if exact:
            counts += np.bincount(data if offset == 0 else data.astype(np.int32) - offset, minlength=length)
        else:
            values.append(data)
    if exact:
        counts, edges, count, mean, std = _summarise_counts(counts, offset)
    else:
        counts, edges, count, mean, std = _summarise_values(values)
    scale = volume.info.scale(mip)
    lo_clip = tuple(max(a, o) for a, o in zip(box_lo, scale.voxel_offset))
    hi_clip = tuple(min(b, u) for b, u in zip(box_hi, scale.upper))
    return Histogram(
        counts=counts,
        edges=edges,
        dtype=dtype.name,
        mip=mip,
        voxels=count,
        minimum=float(edges[0]),
        maximum=float(edges[-1] - 1 if exact else edges[-1]),
        mean=mean,
        std=std,
        box=(lo_clip, hi_clip),
    )


def compute_roi_statistics(
    volume: Volume,
    lo: tuple[float, ...],
    hi: tuple[float, ...],
    mip: int = 0,
    channel: int = 0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> dict[str, Any]:
    """Statistics of the mip-0 voxel box ``[lo, hi)`` read at ``mip``: voxels, min, max, mean, std,
    percentiles."""
    return compute_histogram(volume, mip, lo, hi, channel, progress=progress, cancel=cancel).summary()


def auto_contrast_range(
    volume: Volume,
    low_percentile: float = 1.0,
    high_percentile: float = 99.0,
    mip: int | None = None,
    channel: int = 0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> tuple[float, float]:
    """A contrast range from two percentiles of the volume's histogram at a coarse mip."""
    if not 0 <= low_percentile < high_percentile <= 100:
        raise NgStateError("Auto-contrast needs 0 <= low percentile < high percentile <= 100.")
    histogram = compute_histogram(volume, mip, channel=channel, progress=progress, cancel=cancel)
    low, high = histogram.percentile(low_percentile), histogram.percentile(high_percentile)
    if high <= low:
        high = low + (1 if histogram.dtype in _EXACT_TYPES else max(abs(low) * 1e-6, 1e-12))
    return low, high


def apply_auto_contrast(
    state: NgState,
    layer: str,
    volume: Volume,
    low_percentile: float = 1.0,
    high_percentile: float = 99.0,
    mip: int | None = None,
) -> tuple[NgState, tuple[float, float]]:
    """Set an image layer's contrast from percentiles of its volume; returns the new state and the range."""
    low, high = auto_contrast_range(volume, low_percentile, high_percentile, mip)
    return set_lut_range(state, layer, low, high), (low, high)


def _metres_per_unit(unit: str) -> float | None:
    if unit.endswith("m") and unit[:-1] in _SI:
        return _SI[unit[:-1]]
    return None


def _axis_factors(state: NgState) -> dict[str, float]:
    """nm per global coordinate unit for the state's length dimensions named x, y, z."""
    factors = {}
    for dim in state.dimensions:
        per_unit = _metres_per_unit(dim.unit)
        if dim.name in ("x", "y", "z") and per_unit is not None:
            factors[dim.name] = dim.scale * per_unit * 1e9
    return factors


def layer_bounds(state: NgState, volume: Volume) -> Bounds:
    """The volume's extent in the state's coordinates (dimensions named x, y, z with length units)."""
    factors = _axis_factors(state)
    ranges = {
        name: (lo / factors[name], hi / factors[name])
        for name, (lo, hi) in zip("xyz", volume.info.bounds_nm)
        if name in factors
    }
    if not ranges:
        raise NgStateError("The state has no x, y or z dimension in length units to place the volume in.")
    return Bounds(ranges)


def state_point_to_voxel(
    state: NgState, volume: Volume, point: dict[str, float] | None = None
) -> tuple[float, float, float]:
    """A point in the state's coordinates (default: its position) as mip-0 voxel coordinates of the volume."""
    point = point or state.position or {}
    factors = _axis_factors(state)
    resolution = volume.info.scales[0].resolution
    voxel = []
    for axis, res in zip("xyz", resolution):
        if axis not in point or axis not in factors:
            raise NgStateError(
                f"The point has no '{axis}' coordinate in length units; the volume needs x, y and z."
            )
        voxel.append(point[axis] * factors[axis] / res)
    return voxel[0], voxel[1], voxel[2]


def box_around(
    state: NgState, volume: Volume, half_size: int = 32, point: dict[str, float] | None = None
) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A mip-0 voxel box of ``2 * half_size`` voxels a side around a point (default: the position)."""
    center = state_point_to_voxel(state, volume, point)
    lo = tuple(int(math.floor(c)) - half_size for c in center)
    hi = tuple(int(math.floor(c)) + half_size for c in center)
    return lo, hi  # type: ignore[return-value]
