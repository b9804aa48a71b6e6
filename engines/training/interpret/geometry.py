"""Population geometry of latent activity: dimensionality (participation ratio), how well conditions
separate (silhouette), and the distances between condition means."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score

from engines.training.errors import DataError
from engines.training.interpret.selectivity import condition_labels

__all__ = ["participation_ratio", "PopulationGeometry", "population_geometry"]


def participation_ratio(activity: np.ndarray) -> float:
    """(sum of covariance eigenvalues)^2 / sum of their squares: from 1 (one dimension) to the unit count."""
    centred = np.asarray(activity, dtype=np.float64) - np.mean(activity, axis=0)
    eigen = np.clip(np.linalg.eigvalsh(np.cov(centred, rowvar=False)), 0, None)
    return float(eigen.sum() ** 2 / (eigen**2).sum()) if eigen.sum() > 0 else 0.0


@dataclass
class PopulationGeometry:
    participation_ratio: float
    silhouette: float | None
    condition_means: pd.DataFrame
    distances: pd.DataFrame


def population_geometry(
    activity: np.ndarray, variable: np.ndarray, n_bins: int = 8, max_samples: int = 3000, seed: int = 0
) -> PopulationGeometry:
    """Geometry of ``activity`` (time, units) with respect to the conditions of ``variable``.

    The silhouette uses at most ``max_samples`` bins (it is quadratic in their number).
    """
    labels = condition_labels(variable, n_bins)
    activity = np.asarray(activity, dtype=np.float64)
    if len(activity) != len(labels):
        raise DataError(f"Activity ({len(activity)} bins) and conditions ({len(labels)}) must align.")
    keep = labels >= 0
    conditions = sorted(np.unique(labels[keep]))
    means = pd.DataFrame([activity[labels == c].mean(axis=0) for c in conditions], index=conditions)
    means.index.name = "condition"
    diff = means.to_numpy()[:, None, :] - means.to_numpy()[None, :, :]
    distances = pd.DataFrame(np.sqrt((diff**2).sum(-1)), index=conditions, columns=conditions)
    silhouette = None
    if len(conditions) >= 2 and keep.sum() > len(conditions):
        silhouette = float(
            silhouette_score(
                activity[keep], labels[keep], sample_size=min(max_samples, int(keep.sum())), random_state=seed
            )
        )
    return PopulationGeometry(participation_ratio(activity), silhouette, means, distances)
