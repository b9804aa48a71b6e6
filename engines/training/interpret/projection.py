"""Low-dimensional projections of latent activity for plotting: PCA always, UMAP when installed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from engines.training.errors import OptionalDependencyMissing

__all__ = ["Projection", "project_latents"]


@dataclass
class Projection:
    coords: np.ndarray
    method: str
    explained_variance: np.ndarray | None


def project_latents(
    activity: np.ndarray, method: str = "pca", n_components: int = 2, seed: int = 0, max_samples: int = 20_000
) -> Projection:
    """(time, n_components) coordinates; UMAP fits on at most ``max_samples`` evenly spaced bins
    and transforms the rest (it costs seconds per 10,000 bins)."""
    activity = np.asarray(activity, dtype=np.float64)
    if method == "pca":
        pca = PCA(n_components=min(n_components, *activity.shape), random_state=seed).fit(activity)
        return Projection(pca.transform(activity), "pca", pca.explained_variance_ratio_)
    if method != "umap":
        raise ValueError(f"Unknown projection {method!r}; use 'pca' or 'umap'.")
    try:
        import umap
    except Exception:
        raise OptionalDependencyMissing(
            "UMAP projections need the optional package 'umap-learn' "
            "(pip install umap-learn); PCA works without it."
        ) from None
    step = max(1, len(activity) // max_samples)
    reducer = umap.UMAP(n_components=n_components, random_state=seed).fit(activity[::step])
    return Projection(reducer.transform(activity), "umap", None)
