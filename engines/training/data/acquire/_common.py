"""What the acquisition modules share: importing an optional package, and turning failures into clear
errors."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

import numpy as np

from engines.training.errors import DatasetUnavailable, OptionalDependencyMissing

__all__ = ["require", "fetching", "bin_events", "bin_samples"]

T = TypeVar("T")


def require(module: str, package: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise ``OptionalDependencyMissing`` saying which package to install.

    Any import error counts as "not installed": some of these packages fail at import time
    on machines without their compiled parts.
    """
    try:
        return importlib.import_module(module)
    except Exception as exc:  # ImportError, or a broken install raising anything at import
        raise OptionalDependencyMissing(
            f"{purpose} needs the optional package '{package}' "
            f"(pip install {package}); importing {module} failed: {exc}"
        ) from None


def fetching(what: str, where: str, call: Callable[[], T]) -> T:
    """Run a library's download/load call; network and cache failures become ``DatasetUnavailable``."""
    try:
        return call()
    except (OptionalDependencyMissing, DatasetUnavailable):
        raise
    except Exception as exc:  # each library raises its own types for "offline" and "not in cache"
        raise DatasetUnavailable(
            f"{what} could not be loaded ({type(exc).__name__}: {str(exc)[:300]}). It is not in "
            f"the local cache ({where}) and the server could not be reached. Connect once to "
            "download it, or point the cache setting at a folder that holds it."
        ) from exc


def bin_events(
    times: np.ndarray, t0: float, n_bins: int, bin_s: float, labels: np.ndarray | None = None
) -> np.ndarray:
    """Counts per bin of event times (one column), or per (bin, label) when ``labels`` (0..k-1) is given."""
    bins = ((np.asarray(times, dtype=np.float64) - t0) / bin_s).astype(np.int64)
    keep = (bins >= 0) & (bins < n_bins) & np.isfinite(times)
    if labels is None:
        return np.bincount(bins[keep], minlength=n_bins).astype(np.float32)[:, None]
    labels = np.asarray(labels, dtype=np.int64)[keep]
    width = int(labels.max()) + 1 if len(labels) else 1
    counts = np.bincount(bins[keep] * width + labels, minlength=n_bins * width)
    return counts.reshape(n_bins, width).astype(np.float32)


def bin_samples(t: np.ndarray, values: np.ndarray, t0: float, n_bins: int, bin_s: float) -> np.ndarray:
    """Samples (n, channels) averaged within each bin; empty bins interpolated from their neighbours."""
    values = np.asarray(values, dtype=np.float64).reshape(len(t), -1)
    bins = np.clip(((np.asarray(t) - t0) / bin_s).astype(np.int64), 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    filled = counts > 0
    centres = np.arange(n_bins)
    out = np.empty((n_bins, values.shape[1]), dtype=np.float32)
    for c in range(values.shape[1]):
        sums = np.bincount(bins, np.nan_to_num(values[:, c]), n_bins)
        out[:, c] = np.interp(centres, centres[filled], sums[filled] / counts[filled])
    return out
