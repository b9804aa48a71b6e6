"""Latent units most predictive of a behaviour, ranked by mutual information (kNN estimator, in bits)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.feature_selection import mutual_info_regression

from engines.training.errors import DataError

__all__ = ["predictive_units"]


def predictive_units(
    activity: np.ndarray,
    behaviour: np.ndarray,
    top: int | None = 10,
    names: list[str] | None = None,
    max_samples: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """Rows (unit, target, mutual_info_bits) sorted by information, ``top`` per target (all when None).

    Uses at most ``max_samples`` time bins (evenly spaced) so the kNN estimate stays well under a
    second per target for a few hundred units.
    """
    activity, behaviour = np.asarray(activity, dtype=np.float64), np.asarray(behaviour, dtype=np.float64)
    behaviour = behaviour.reshape(len(behaviour), -1)
    if len(activity) != len(behaviour):
        raise DataError(f"Activity ({len(activity)} bins) and behaviour ({len(behaviour)} bins) must align.")
    step = max(1, len(activity) // max_samples)
    x, y = activity[::step], behaviour[::step]
    names = names or [f"behaviour {k}" for k in range(y.shape[1])]
    rows = []
    for k, target in enumerate(names):
        info = mutual_info_regression(x, y[:, k], random_state=seed) / np.log(2)
        order = np.argsort(info)[::-1][:top]
        rows += [{"unit": int(u), "target": target, "mutual_info_bits": float(info[u])} for u in order]
    return pd.DataFrame(rows)
