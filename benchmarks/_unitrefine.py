"""UnitRefine against bombcell on the benchmark's analyzer: ``unitrefine_bombcell_agreement``.

The models are the folders given (``--unitrefine-model DIR``, repeatable, or ``NEURODECK_UNITREFINE_MODEL``,
folders separated by the path separator), else trained here as UnitRefine's cascade on bombcell's labels of a
*different* generated analyzer (seed 12; the benchmark's is seed 11): layer 1 noise vs neural over every unit,
layer 2 good vs MUA over the units bombcell does not call noise; a layer whose classes have fewer than 4
units each there is left out. SpikeInterface's ``train_model`` trains them (one random forest, a short
search), ``model_based_label_units`` applies them, as in the page.

Mapping to bombcell's labels: noise/neural models: noise against noise, neural against good or MUA;
good/MUA models: good (or sua) against good, MUA against MUA, over the units bombcell does not call noise.
With both layers, the cascade (noise where layer 1 says noise, else layer 2's label) is compared with
bombcell's label on every unit, and that is ``unitrefine_bombcell_agreement``; with one model, that model's
agreement. Absent when no model is given and none can be trained.

Default run (600 s, 124 units): 0.9752 over 121 units, layer 2 only (seed 12's analyzer has 2 units bombcell
calls noise, too few to train layer 1); the 60 s smoke run: 0.8056 over 36 units.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from engines.curation import InjectedFaults, build_ground_truth, compute_missing_extensions, label_units
from engines.curation.unitrefine import (
    GOOD,
    UnitRefineModel,
    bombcell_agreement,
    describe_model,
    label_with_model,
)

__all__ = ["unitrefine_agreement"]

MIN_PER_CLASS = 4
"""Units each class needs for training: train_model splits them stratified, then cross-validates."""


def _bombcell(analyzer: Any) -> dict[Any, str]:
    return {lab.unit_id: lab.label for lab in label_units(analyzer, "bombcell")}


def _train(layer: str, analyzer: Any, labels: list[str], folder: Path) -> Path | None:
    from spikeinterface.curation import train_model

    if min(labels.count(c) for c in set(labels)) < MIN_PER_CLASS or len(set(labels)) < 2:
        print(f"UnitRefine {layer}: too few units of a class to train ({sorted(set(labels))})")
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_model(
            analyzers=[analyzer],
            labels=[labels],
            folder=folder / layer,
            classifiers=["RandomForestClassifier"],
            imputation_strategies=["median"],
            scaling_techniques=["standard_scaler"],
            search_kwargs={"cv": 3, "n_iter": 5},
            seed=0,
            verbose=False,
        )
    return folder / layer


def _trained_cascade(duration: float, units: int, channels: int, faults: int, folder: Path) -> list[Path]:
    """Layer 1 and layer 2 trained on bombcell's labels of a generated analyzer of seed 12."""
    from spikeinterface.core import create_sorting_analyzer

    k = faults
    truth = build_ground_truth(duration, units, channels, InjectedFaults(k, k, k, k), seed=12)
    analyzer = create_sorting_analyzer(truth.sorting, truth.recording, format="memory", sparse=True)
    compute_missing_extensions(analyzer)
    bombcell = _bombcell(analyzer)
    print(
        f"UnitRefine training analyzer (seed 12): bombcell {sorted(bombcell.values()).count('noise')} noise"
    )
    layer1 = _train(
        "noise_neural",
        analyzer,
        ["noise" if bombcell[u] == "noise" else "neural" for u in analyzer.unit_ids],
        folder,
    )
    neural = [u for u in analyzer.unit_ids if bombcell[u] != "noise"]
    layer2 = _train("good_mua", analyzer.select_units(neural), [bombcell[u] for u in neural], folder)
    return [f for f in (layer1, layer2) if f is not None]


def _cascade(labels: dict[str, dict[Any, str]], models: list[UnitRefineModel]) -> dict[Any, str]:
    by_kind = {m.kind: labels[m.name] for m in models}
    first, second = by_kind["noise/neural"], by_kind["good/mua"]
    return {
        u: "noise" if first[u] == "noise" else ("good" if second[u].lower() in GOOD else "mua") for u in first
    }


def unitrefine_agreement(
    analyzer: Any, given: list[str], duration: float, units: int, channels: int, faults: int
) -> dict[str, Any]:
    """``unitrefine_bombcell_agreement`` and each model's own (module docstring); {} when unavailable."""
    given = given or [p for p in os.environ.get("NEURODECK_UNITREFINE_MODEL", "").split(os.pathsep) if p]
    with tempfile.TemporaryDirectory() as tmp:
        folders = [Path(p) for p in given] or _trained_cascade(duration, units, channels, faults, Path(tmp))
        if not folders:
            return {}
        bombcell = _bombcell(analyzer)
        models = [describe_model(folder) for folder in folders]
        labels: dict[str, dict[Any, str]] = {}
        per_model: dict[str, tuple[str, float | None, int]] = {}
        for model in models:
            predicted, _notes = label_with_model(analyzer, model)
            labels[model.name] = {lab.unit_id: lab.label for lab in predicted}
            agreement, compared = bombcell_agreement(labels[model.name], bombcell, model.kind)
            per_model[model.name] = (model.kind, agreement, compared)
            print(
                f"UnitRefine {model.name} ({model.kind}): agreement with bombcell {agreement} over {compared}"
            )
    kinds = {m.kind for m in models}
    if {"noise/neural", "good/mua"} <= kinds:
        cascade = _cascade(labels, models)
        overall: float | None = sum(cascade[u] == bombcell[u] for u in cascade) / len(cascade)
    else:
        overall = per_model[models[0].name][1]
    return {
        "unitrefine_bombcell_agreement": None if overall is None else round(overall, 4),
        "unitrefine_models": {
            name: {"kind": kind, "agreement": None if value is None else round(value, 4), "units": count}
            for name, (kind, value, count) in per_model.items()
        },
        "unitrefine_trained": not given,
    }
