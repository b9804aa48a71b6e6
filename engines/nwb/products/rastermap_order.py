"""Rastermap unit ordering: sort units so that units with similar activity sit next to each other.

A raster in stored unit order looks like noise; sorted by Rastermap (Stringer et al. 2024)
sequences and assemblies appear as diagonal bands and blocks. The ordering runs once, as a
job, over one level of the spike density pyramid, and is stored as a small JSON file.

Parameters follow Rastermap's advice for spiking data (``n_clusters=100, n_PCs=128,
locality=0.75, time_lag_window=5``), clamped to what the data allow:
- units that never fire (zero variance) cannot be z-scored; they are left out of the fit and
  placed last, in stored order;
- ``n_PCs`` is at most the number of fitted units and of time bins;
- ``n_clusters`` is at most half the fitted units (Rastermap's own rule, applied up front so the
  stored parameters are the ones used); with 50 units or fewer Rastermap skips clustering and
  sorts the units themselves, so the 35 units of a typical human recording sort directly;
- fewer than 3 fitted units cannot be sorted (Rastermap's solver fails on 1-2 nodes): they
  keep stored order and ``params`` says why.
Cost: about 1 s for 35 units x 10,000 bins; for 1,000 units, 1-3 min on 2 cores (its
travelling-salesman step over 100 clusters dominates); memory about 3 x units x bins x 4 bytes.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engines._progress import Progress
from engines.nwb.products.errors import ProductInputError, ProductNotFound
from engines.nwb.products.spike_density_query import SpikeDensityPyramid

__all__ = [
    "RastermapOrder",
    "compute_rastermap_order",
    "rastermap_order_from_pyramid",
    "rastermap_params",
    "zscore_units",
    "RASTERMAP_FILENAME",
]


RASTERMAP_FILENAME = "rastermap_order.json"
MIN_UNITS_TO_SORT = 3
DEFAULT_MAX_BINS = 20_000


@dataclass(frozen=True)
class RastermapOrder:
    """Unit rows from top to bottom (``order``), the Rastermap arguments used, and what was left out."""

    order: np.ndarray
    params: dict[str, Any]
    silent_units: np.ndarray
    source: dict[str, Any] = field(default_factory=dict)

    def save(self, out_dir: Path | str) -> Path:
        """Write ``out_dir / RASTERMAP_FILENAME`` (a few bytes per unit)."""
        path = Path(out_dir) / RASTERMAP_FILENAME
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "order": self.order.tolist(),
            "params": self.params,
            "silent_units": self.silent_units.tolist(),
            "source": self.source,
        }
        path.write_text(json.dumps(payload))
        return path

    @classmethod
    def open(cls, out_dir: Path | str) -> RastermapOrder:
        path = Path(out_dir) / RASTERMAP_FILENAME
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ProductNotFound(
                f"No finished Rastermap ordering in {out_dir}: compute it (again) first."
            ) from exc
        return cls(
            order=np.asarray(payload["order"], dtype=np.int64),
            params=payload["params"],
            silent_units=np.asarray(payload["silent_units"], dtype=np.int64),
            source=payload["source"],
        )


def zscore_units(counts: np.ndarray) -> np.ndarray:
    """Each row minus its mean, over its standard deviation, as float32 (rows must vary)."""
    data = np.asarray(counts, dtype=np.float32)
    data = data - data.mean(axis=1, keepdims=True)
    return data / data.std(axis=1, keepdims=True)


def rastermap_params(
    n_units: int,
    n_bins: int,
    n_clusters: int = 100,
    n_PCs: int = 128,
    locality: float = 0.75,
    time_lag_window: int = 5,
    grid_upsample: int = 10,
) -> dict[str, Any]:
    """Rastermap constructor arguments for ``n_units`` fitted units over ``n_bins`` bins (see module
    notes)."""
    return {
        "n_clusters": int(max(1, min(n_clusters, n_units // 2, 199))),
        "n_PCs": int(max(1, min(n_PCs, n_units, n_bins))),
        "locality": float(locality),
        "time_lag_window": int(max(0, min(time_lag_window, n_bins - 1))),
        "grid_upsample": int(grid_upsample),
        "random_state": 0,
        "verbose": False,
    }


def compute_rastermap_order(
    counts: np.ndarray,
    n_clusters: int = 100,
    n_PCs: int = 128,
    locality: float = 0.75,
    time_lag_window: int = 5,
    grid_upsample: int = 10,
    out_dir: Path | str | None = None,
    progress: Progress | None = None,
) -> RastermapOrder:
    """Order the rows of ``counts`` (units x time bins) with Rastermap; save to ``out_dir`` when given.

    Equivalent to ``Rastermap(**order.params).fit(zscore_units(counts[fitted])).isort`` over the
    units that fire, followed by the silent units.
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] < 2:
        raise ProductInputError(
            f"Rastermap needs counts shaped (units, time bins) with 2+ bins, got {counts.shape}."
        )
    varies = counts.max(axis=1) != counts.min(axis=1)
    fitted, silent = np.flatnonzero(varies), np.flatnonzero(~varies)
    params = rastermap_params(
        len(fitted), counts.shape[1], n_clusters, n_PCs, locality, time_lag_window, grid_upsample
    )
    source: dict[str, int | str] = {
        "n_units": int(counts.shape[0]),
        "n_bins": int(counts.shape[1]),
        "n_fitted": int(len(fitted)),
    }
    if progress is not None:
        progress(0.05, f"Sorting {len(fitted):,} units with Rastermap")
    if len(fitted) < MIN_UNITS_TO_SORT:
        order = fitted
        source["skipped"] = f"Only {len(fitted)} unit(s) vary in time; Rastermap needs {MIN_UNITS_TO_SORT}+."
    else:
        from rastermap import Rastermap

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Rastermap warns that it skips clustering for <= 50 units
            model = Rastermap(**params).fit(zscore_units(counts[fitted]))
        order = fitted[np.asarray(model.isort, dtype=np.int64)]
    result = RastermapOrder(
        order=np.concatenate((order, silent)).astype(np.int64),
        params=params,
        silent_units=silent.astype(np.int64),
        source=source,
    )
    if out_dir is not None:
        result.save(out_dir)
    if progress is not None:
        progress(1.0, "Rastermap ordering ready")
    return result


def rastermap_order_from_pyramid(
    pyramid: SpikeDensityPyramid,
    out_dir: Path | str | None = None,
    max_bins: int = DEFAULT_MAX_BINS,
    progress: Progress | None = None,
    **params: Any,
) -> RastermapOrder:
    """Order all units over the finest pyramid level with at most ``max_bins`` bins (else the coarsest).

    ``params`` go to ``compute_rastermap_order``. For one hour at the default 20 ms x 4 levels,
    ``max_bins=20,000`` picks 1.28 s bins; for a 47-min recording, 0.32 s bins.
    """
    fitting = [level for level in pyramid.levels if level.n_bins <= max_bins]
    level = fitting[0] if fitting else pyramid.levels[-1]
    if progress is not None:
        progress(0.0, f"Reading level {level.index} ({level.bin_s:g} s bins)")
    result = compute_rastermap_order(pyramid.level_counts(level.index), progress=progress, **params)
    result.source.update({"level": level.index, "bin_s": level.bin_s})
    if out_dir is not None:
        result.save(out_dir)
    return result
