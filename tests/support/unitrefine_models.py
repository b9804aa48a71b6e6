"""UnitRefine model folders for tests: one trained by SpikeInterface's ``train_model``, and crafted ones.

``train_model_folder`` trains a small good/MUA classifier (one random forest with fixed settings) on an
analyzer's bombcell labels, noise counted as MUA ("not good"): the folder layout is what UnitRefine publishes
and what ``--unitrefine-models`` expects. The settings are fixed, not searched: without scikit-optimize,
``train_model`` falls back to a ``RandomizedSearchCV`` that it gives no seed, so each run drew other
settings (a leaf of up to four units on a 16-unit training split) and a model that agreed with its own
training labels anywhere from 0.75 to 1.0. ``crafted_model_folder`` writes a pipeline whose first step calls
``print`` on the metrics: a model that runs code of its choosing once loaded with trust.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["train_model_folder", "crafted_model_folder", "pipeline_folder"]

FIXED_FOREST = {"n_estimators": [100], "min_samples_leaf": [1], "class_weight": ["balanced"]}
"""One point to "search": the same forest on every run (see the module's docstring)."""


def train_model_folder(folder: Path, analyzer: Any, labels: list[str], seed: int = 0) -> Path:
    """Train on ``analyzer``'s metrics against ``labels`` (one per unit) into ``folder``; about 10 s."""
    from spikeinterface.curation import train_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_model(
            analyzers=[analyzer],
            labels=[labels],
            folder=folder,
            classifiers={"RandomForestClassifier": FIXED_FOREST},
            imputation_strategies=["median"],
            scaling_techniques=["standard_scaler"],
            search_kwargs={"cv": 2, "n_iter": 1},
            seed=seed,
            verbose=False,
        )
    return folder


def pipeline_folder(folder: Path, pipeline: Any, classes: dict[str, str]) -> Path:
    """``pipeline`` saved with skops beside a model_info.json naming ``classes`` ({"0": "noise", ...})."""
    import skops.io as skio

    folder.mkdir(parents=True, exist_ok=True)
    skio.dump(pipeline, folder / "model.skops")
    info = {"label_conversion": classes, "requirements": {"spikeinterface": "0.105.3"}, "metric_params": {}}
    (folder / "model_info.json").write_text(json.dumps(info))
    return folder


def crafted_model_folder(folder: Path, columns: tuple[str, ...] = ("snr", "num_spikes")) -> Path:
    """A pipeline that prints its input on ``predict`` (skops names ``builtins.print`` among its types)."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.default_rng(0)
    metrics = pd.DataFrame(rng.random((20, len(columns))), columns=list(columns))
    outcome = np.arange(20) % 2
    peek = FunctionTransformer(func=print).fit(metrics)
    classifier = LogisticRegression().fit(metrics.values, outcome)
    return pipeline_folder(
        folder, Pipeline([("peek", peek), ("classifier", classifier)]), {"0": "noise", "1": "neural"}
    )
