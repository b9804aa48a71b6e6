"""Read a finished spike density pyramid: viewport images, spike-count estimates, whole levels.

``SpikeDensityPyramid.query`` answers a raster viewport from the one level whose bins are
just fine enough for the image width, so its cost depends on the width in pixels and the
number of units, not on the viewport's length or the number of spikes: for 1,000 units and
a 1,000-px image it decompresses at most about 8 MB (a few ms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from engines.nwb.products.errors import ProductInputError, ProductNotFound
from engines.nwb.products.spike_density import (
    FORMAT_VERSION,
    PYRAMID_DIRNAME,
    PyramidLevel,
    PyramidSummary,
)

__all__ = ["DensityImage", "SpikeDensityPyramid", "MAX_WIDTH_PX", "SPIKES_VISIBLE_MAX"]

MAX_WIDTH_PX = 20_000
SPIKES_VISIBLE_MAX = 50_000  # above this many spikes in view, draw density instead of ticks
MAX_LEVEL_READ_CELLS = 200_000_000


@dataclass(frozen=True)
class DensityImage:
    """Spike counts for one viewport: ``counts[row, col]`` spikes of unit ``units[row]`` in column ``col``.

    Column ``col`` spans ``[t_edges[col], t_edges[col + 1])``; columns are ``bins_per_column``
    bins of pyramid level ``level_used`` (``bin_s`` seconds wide) and sit on a grid fixed in
    time, so panning does not shift them. Columns outside the recording are zero.
    """

    counts: np.ndarray
    t_edges: np.ndarray
    level_used: int
    bin_s: float
    bins_per_column: int
    units: np.ndarray


class SpikeDensityPyramid:
    """A built pyramid, opened for reading (thread-safe reads; the arrays stay open)."""

    def __init__(self, root: zarr.Group, summary: PyramidSummary) -> None:
        self._root = root
        self.summary = summary
        self.levels: tuple[PyramidLevel, ...] = summary.levels
        self._arrays = [root[f"level_{level.index}"] for level in self.levels]
        totals = root["cumulative_spikes"]
        self._totals_level = self.levels[int(totals.attrs["level"])]
        self._cumulative = totals[:]
        self.spikes_per_unit: np.ndarray = root["spikes_per_unit"][:]

    @classmethod
    def open(cls, out_dir: Path | str) -> SpikeDensityPyramid:
        """Open the pyramid a build wrote under ``out_dir``; reads its attributes and two small arrays."""
        path = Path(out_dir) / PYRAMID_DIRNAME
        try:
            root = zarr.open_group(zarr.DirectoryStore(str(path)), mode="r")
            meta = dict(root.attrs["spike_density_pyramid"])
        except (KeyError, ValueError, OSError, zarr.errors.GroupNotFoundError) as exc:
            raise ProductNotFound(
                f"No finished spike density pyramid in {out_dir}: build it (again) first."
            ) from exc
        if meta.pop("format") != FORMAT_VERSION:
            raise ProductNotFound(
                f"The spike density pyramid in {out_dir} is from another version: build it again."
            )
        return cls(root, PyramidSummary.from_dict(meta))

    @property
    def n_units(self) -> int:
        return self.summary.n_units

    def level_for(self, seconds_per_px: float) -> PyramidLevel:
        """The coarsest level whose bins are at most ``seconds_per_px`` wide (the base level if none is)."""
        fitting = [level for level in self.levels if level.bin_s <= seconds_per_px * (1 + 1e-9)]
        return fitting[-1] if fitting else self.levels[0]

    def query(
        self, t_start: float, t_stop: float, width_px: int, units: Sequence[int] | np.ndarray | None = None
    ) -> DensityImage:
        """Counts for ``units`` (all, in stored order, when None) over ``[t_start, t_stop)`` at ~``width_px``
        columns.

        Picks ``level_for((t_stop - t_start) / width_px)`` and sums whole bins into columns so
        there are about ``width_px`` of them (fewer only when zoomed past the base bin). Reads
        the level's chunks that overlap the viewport: at most (units) x (width_px x factor +
        2 x 4,096) cells.
        """
        if not (math.isfinite(t_start) and math.isfinite(t_stop) and t_stop > t_start):
            raise ProductInputError(
                f"A viewport needs finite times with t_stop > t_start, got {t_start}..{t_stop}."
            )
        if not 1 <= int(width_px) <= MAX_WIDTH_PX:
            raise ProductInputError(f"width_px must be between 1 and {MAX_WIDTH_PX:,}, got {width_px}.")
        rows = self._rows(units)
        seconds_per_px = (t_stop - t_start) / int(width_px)
        level = self.level_for(seconds_per_px)
        per_column = max(1, int(seconds_per_px / level.bin_s * (1 + 1e-9)))
        first_col = math.floor((t_start - level.t0) / level.bin_s) // per_column
        stop_col = -(-math.ceil((t_stop - level.t0) / level.bin_s) // per_column)
        counts = np.zeros((len(rows), stop_col - first_col), dtype=np.float32)
        read_start = max(first_col * per_column, 0)
        read_stop = min(stop_col * per_column, level.n_bins)
        if read_stop > read_start:
            block = self._read(level, rows, units is None, read_start, read_stop)
            at = read_start // per_column - first_col
            for offset in range(min(per_column, block.shape[1])):
                part = block[:, offset::per_column]
                counts[:, at : at + part.shape[1]] += part
        edges = level.edge(np.arange(first_col, stop_col + 1) * per_column)
        return DensityImage(
            counts=counts,
            t_edges=edges,
            level_used=level.index,
            bin_s=level.bin_s * per_column,
            bins_per_column=per_column,
            units=rows,
        )

    def level_counts(self, level: int, units: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """A whole level as an array (units x bins, its stored integer type), e.g. for Rastermap.

        Refuses (``ProductInputError``) more than 200M cells; pick a coarser level.
        """
        chosen = self.levels[level]
        rows = self._rows(units)
        if len(rows) * chosen.n_bins > MAX_LEVEL_READ_CELLS:
            raise ProductInputError(
                f"Level {level} holds {len(rows) * chosen.n_bins:,} counts for these units; "
                f"read a coarser level (at most {MAX_LEVEL_READ_CELLS:,})."
            )
        return self._read(chosen, rows, units is None, 0, chosen.n_bins)

    def spikes_in_view(self, t_start: float, t_stop: float) -> int:
        """All units' spikes in the bins that overlap ``[t_start, t_stop)``: exact to within one bin at each
        end.

        Costs two lookups in a cumulative sum kept in memory (no chunk reads).
        """
        level = self._totals_level
        first = min(max(math.floor((t_start - level.t0) / level.bin_s), 0), level.n_bins)
        stop = min(max(math.ceil((t_stop - level.t0) / level.bin_s), first), level.n_bins)
        return int(self._cumulative[stop] - self._cumulative[first])

    def should_show_spikes(
        self,
        t_start: float,
        t_stop: float,
        n_spikes_estimate: int | None = None,
        max_spikes: int = SPIKES_VISIBLE_MAX,
    ) -> bool:
        """True when the viewport is zoomed in far enough to draw each spike (fewer than ``max_spikes``).

        Without an estimate, uses ``spikes_in_view`` (microseconds).
        """
        estimate = self.spikes_in_view(t_start, t_stop) if n_spikes_estimate is None else n_spikes_estimate
        return estimate < max_spikes

    def _rows(self, units: Sequence[int] | np.ndarray | None) -> np.ndarray:
        if units is None:
            return np.arange(self.n_units)
        rows = np.asarray(units)
        integers = np.issubdtype(rows.dtype, np.integer) or rows.size == 0
        if rows.ndim != 1 or not integers:
            raise ProductInputError("units must be a list of unit row numbers (integers).")
        rows = rows.astype(np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.n_units):
            raise ProductInputError(f"Unit rows must be between 0 and {self.n_units - 1}.")
        return rows

    def _read(self, level: PyramidLevel, rows: np.ndarray, all_rows: bool, start: int, stop: int) -> Any:
        array = self._arrays[level.index]
        if all_rows:
            return array[:, start:stop]
        return array.get_orthogonal_selection((rows, slice(start, stop)))
