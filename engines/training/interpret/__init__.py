"""Interpretability of a trained run's latent states: selectivity, predictive units, geometry, projections.

``interpret_run`` computes all of them for one session and split of a run; the functions it
uses take plain (time, units) arrays and can be called on any activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from engines.training.interpret.geometry import PopulationGeometry, participation_ratio, population_geometry
from engines.training.interpret.predictive import predictive_units
from engines.training.interpret.projection import Projection, project_latents
from engines.training.interpret.selectivity import condition_labels, selectivity_index, tuning_curves

__all__ = [
    "interpret_run",
    "Interpretation",
    "selectivity_index",
    "tuning_curves",
    "condition_labels",
    "predictive_units",
    "participation_ratio",
    "population_geometry",
    "PopulationGeometry",
    "project_latents",
    "Projection",
]


@dataclass
class Interpretation:
    """What the page plots for one session: latents over time and every analysis of them (None when the
    data lacks what an analysis needs: stimulus ids, behaviour)."""

    session_id: str
    split: str
    latents: np.ndarray
    stimulus: np.ndarray | None
    behaviour: np.ndarray | None
    tuning_mean: pd.DataFrame | None
    tuning_sem: pd.DataFrame | None
    selectivity: pd.DataFrame | None
    predictive: pd.DataFrame | None
    geometry: PopulationGeometry | None
    projection: Projection
    notes: list[str]

    def summary(self) -> dict[str, Any]:
        """A small JSON-able digest (for job summaries and the run table)."""
        return {
            "session_id": self.session_id,
            "split": self.split,
            "n_bins": int(len(self.latents)),
            "participation_ratio": participation_ratio(self.latents),
            "silhouette": None if self.geometry is None else self.geometry.silhouette,
            "top_selective_unit": None if self.selectivity is None else int(self.selectivity.iloc[0]["unit"]),
            "notes": self.notes,
        }


def interpret_run(run, session: int = 0, split: str = "test", projection: str = "pca") -> Interpretation:
    """All analyses of ``run`` (an ``evaluation.TrainedRun``) on one session's ``split`` (all modalities
    in)."""
    from engines.training.evaluation.evaluate import predict_split

    data = predict_split(run, session, split)
    latents = np.concatenate(data["latent"])
    stimulus = np.concatenate(data["stimulus"]) if data["stimulus"] else None
    behaviour = np.concatenate(data["behaviour_true"]) if data["behaviour_true"] else None
    notes: list[str] = []
    tuning = selectivity = geometry = None
    condition = stimulus if stimulus is not None and len(np.unique(stimulus[stimulus >= 0])) >= 2 else None
    if condition is None and behaviour is not None:
        condition = behaviour[:, 0]
        notes.append("no stimulus ids: conditions are quantiles of behaviour 0")
    if condition is not None:
        tuning = tuning_curves(latents, condition)
        selectivity = selectivity_index(latents, condition)
        geometry = population_geometry(latents, condition)
    else:
        notes.append("no stimulus ids or behaviour: selectivity and geometry need conditions")
    names = run.dataset.items[session].session.metadata.get("behaviour_names")
    predictive = predictive_units(latents, behaviour, names=names) if behaviour is not None else None
    return Interpretation(
        session_id=run.dataset.items[session].session.session_id,
        split=split,
        latents=latents,
        stimulus=stimulus,
        behaviour=behaviour,
        tuning_mean=None if tuning is None else tuning[0],
        tuning_sem=None if tuning is None else tuning[1],
        selectivity=selectivity,
        predictive=predictive,
        geometry=geometry,
        projection=project_latents(latents, projection),
        notes=notes,
    )
