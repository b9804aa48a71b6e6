"""Unit quality labels (good / mua / noise) from SpikeInterface's labelers.

``bombcell`` applies Bombcell's thresholds to quality and template metrics; ``thresholds``
applies simple metric thresholds in two passes (noise, then MUA). Labels are plain ``UnitLabel``
rows the store keeps and the grid shows and lets a person edit. UnitRefine's classifiers are
not a labeler here: their labels are a column of their own beside these (``unitrefine.py``).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np

from engines.curation.data import plain_unit_id
from engines.curation.errors import CurationError, MissingExtensions
from engines.curation.model import UnitLabel

__all__ = ["LABELERS", "NOISE_THRESHOLDS", "MUA_THRESHOLDS", "label_units", "CurationError"]

LABELERS = ("bombcell", "thresholds")

NOISE_THRESHOLDS: dict[str, dict[str, Any]] = {"snr": {"greater": 2.0}, "num_spikes": {"greater": 10}}
MUA_THRESHOLDS: dict[str, dict[str, Any]] = {
    "snr": {"greater": 5.0},
    "isi_violations_ratio": {"less": 0.5},
    "presence_ratio": {"greater": 0.7},
    "amplitude_cutoff": {"less": 0.2},
}


def _metrics(analyzer: Any) -> Any:
    if "quality_metrics" not in analyzer.extensions:
        raise MissingExtensions(
            "labels need quality_metrics; compute the missing extensions first.", missing=("quality_metrics",)
        )
    return analyzer.get_metrics_extension_data()


def _rows(labels: Any, source: str, column: str = "label", probability: str | None = None) -> list[UnitLabel]:
    rows = []
    for unit_id, row in labels.iterrows():
        label = str(row[column]).lower()
        label = {"sua": "good", "non_soma": "mua", "non_soma_good": "good", "non_soma_mua": "mua"}.get(
            label, label
        )
        prob = (
            float(row[probability])
            if probability and probability in row and np.isfinite(row[probability])
            else None
        )
        rows.append(UnitLabel(unit_id=plain_unit_id(unit_id), label=label, source=source, probability=prob))
    return rows


def _bombcell(analyzer: Any, thresholds: dict[str, Any] | None) -> list[UnitLabel]:
    from spikeinterface.curation import bombcell_get_default_thresholds, bombcell_label_units

    if "template_metrics" not in analyzer.extensions:
        raise MissingExtensions(
            "Bombcell labels need template_metrics; compute the missing extensions first.",
            missing=("template_metrics",),
        )
    _metrics(analyzer)
    chosen = copy.deepcopy(thresholds) if thresholds else bombcell_get_default_thresholds()
    chosen["non-somatic"] = chosen.get("non-somatic", {}) if thresholds else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = bombcell_label_units(analyzer, thresholds=chosen)
    return _rows(labels, "bombcell", column=labels.columns[0])


def _thresholds(analyzer: Any, thresholds: dict[str, Any] | None) -> list[UnitLabel]:
    from spikeinterface.curation import threshold_metrics_label_units

    metrics = _metrics(analyzer)
    chosen = thresholds or {"noise": NOISE_THRESHOLDS, "mua": MUA_THRESHOLDS}
    noise = {k: v for k, v in chosen.get("noise", {}).items() if k in metrics.columns}
    mua = {k: v for k, v in chosen.get("mua", {}).items() if k in metrics.columns}
    labels = (
        threshold_metrics_label_units(
            metrics, noise, pass_label="good", fail_label="noise", nan_policy="fail"
        )
        if noise
        else None
    )
    passed = metrics.index if labels is None else labels.index[labels["label"] == "good"]
    second = (
        threshold_metrics_label_units(
            metrics.loc[passed], mua, pass_label="good", fail_label="mua", nan_policy="ignore"
        )
        if mua and len(passed)
        else None
    )
    result = metrics[[]].copy()
    result["label"] = "good" if labels is None else labels["label"]
    if second is not None:
        result.loc[second.index, "label"] = second["label"]
    return _rows(result, "thresholds")


def label_units(
    analyzer: Any, labeler: str = "bombcell", thresholds: dict[str, Any] | None = None
) -> list[UnitLabel]:
    """One ``UnitLabel`` per unit from ``labeler`` (see module docstring); costs well under a second."""
    if labeler == "bombcell":
        return _bombcell(analyzer, thresholds)
    if labeler == "thresholds":
        return _thresholds(analyzer, thresholds)
    raise CurationError(f"unknown labeler {labeler!r}; choose from {', '.join(LABELERS)}")
