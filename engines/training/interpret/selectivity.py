"""Tuning curves and selectivity of latent units for a stimulus (or any condition) variable.

Pure numpy/scipy on (time, units) activity; costs O(time x units).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from engines.training.errors import DataError

__all__ = ["condition_labels", "tuning_curves", "selectivity_index"]


def condition_labels(variable: np.ndarray, n_bins: int = 8) -> np.ndarray:
    """Integer conditions: the ids themselves for a discrete variable (-1 kept as "none"), quantile bins
    (0..n_bins-1) for a continuous one."""
    variable = np.asarray(variable).reshape(-1)
    if np.issubdtype(variable.dtype, np.integer) or len(np.unique(variable)) <= n_bins:
        return variable.astype(np.int64)
    edges = np.quantile(variable, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.searchsorted(edges, variable).astype(np.int64)


def _groups(activity: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    activity = np.asarray(activity, dtype=np.float64)
    if activity.ndim != 2 or len(activity) != len(labels):
        raise DataError(
            f"Activity {activity.shape} and condition labels ({len(labels)}) must share the time axis."
        )
    conditions = np.array(sorted(c for c in np.unique(labels) if c >= 0))
    if len(conditions) < 2:
        raise DataError("Selectivity needs at least two conditions present in the data.")
    return conditions, [activity[labels == c] for c in conditions]


def tuning_curves(
    activity: np.ndarray, variable: np.ndarray, n_bins: int = 8
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mean, sem): DataFrames indexed by unit with one column per condition of ``variable``."""
    labels = condition_labels(variable, n_bins)
    conditions, groups = _groups(activity, labels)
    means = np.stack([g.mean(axis=0) for g in groups], axis=1)
    sems = np.stack(
        [
            g.std(axis=0, ddof=1) / np.sqrt(max(len(g), 1)) if len(g) > 1 else np.full(g.shape[1], np.nan)
            for g in groups
        ],
        axis=1,
    )
    index = pd.RangeIndex(means.shape[0], name="unit")
    return pd.DataFrame(means, index=index, columns=conditions), pd.DataFrame(
        sems, index=index, columns=conditions
    )


def selectivity_index(activity: np.ndarray, variable: np.ndarray, n_bins: int = 8) -> pd.DataFrame:
    """Per unit: preferred condition, selectivity d' = (mean at preferred - mean elsewhere) / pooled sd,
    eta^2 (share of variance explained by condition) and the one-way ANOVA p-value; sorted by d'."""
    labels = condition_labels(variable, n_bins)
    conditions, groups = _groups(activity, labels)
    data = np.concatenate(groups)
    means = np.stack([g.mean(axis=0) for g in groups])
    preferred = means.argmax(axis=0)
    rows = []
    for unit in range(data.shape[1]):
        best = groups[preferred[unit]][:, unit]
        rest = np.concatenate([g[:, unit] for k, g in enumerate(groups) if k != preferred[unit]])
        pooled = np.sqrt(0.5 * (best.var(ddof=1) + rest.var(ddof=1))) if len(best) > 1 else np.nan
        total = ((data[:, unit] - data[:, unit].mean()) ** 2).sum()
        between = sum(len(g) * (g[:, unit].mean() - data[:, unit].mean()) ** 2 for g in groups)
        p = stats.f_oneway(*[g[:, unit] for g in groups if len(g) > 1]).pvalue if total > 0 else 1.0
        rows.append(
            {
                "unit": unit,
                "preferred": conditions[preferred[unit]],
                "selectivity": (best.mean() - rest.mean()) / pooled if pooled and pooled > 0 else 0.0,
                "eta_squared": between / total if total > 0 else 0.0,
                "p_value": float(p),
            }
        )
    return pd.DataFrame(rows).sort_values("selectivity", ascending=False, ignore_index=True)
