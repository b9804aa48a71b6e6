"""Unit quality labels (good / mua / noise) from SpikeInterface's labelers or a local UnitRefine model.

``bombcell`` applies Bombcell's thresholds to quality and template metrics; ``thresholds``
applies simple metric thresholds in two passes (noise, then MUA); ``unitrefine`` runs a
classifier saved in a local folder (``model_based_label_units(model_folder=...)``, which
needs the ``skops`` package). Labels are plain ``UnitLabel`` rows the store keeps and the
grid shows and lets a person edit; nothing is downloaded.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from engines.curation.data import plain_unit_id
from engines.curation.errors import CurationError, MissingExtensions
from engines.curation.model import UnitLabel

__all__ = ["LABELERS", "NOISE_THRESHOLDS", "MUA_THRESHOLDS", "label_units", "CurationError"]

LABELERS = ("bombcell", "thresholds", "unitrefine")

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


def _unitrefine(analyzer: Any, model_folder: str | Path | None, trust_model: bool) -> list[UnitLabel]:
    from spikeinterface.curation import model_based_label_units

    if model_folder is None or not Path(model_folder).is_dir():
        raise CurationError(
            f"UnitRefine needs a local model folder (got {model_folder!s}); download a model "
            "with its model_info.json onto the server and give its folder"
        )
    if not list(Path(model_folder).glob("*.skops")):
        raise CurationError(
            f"'{model_folder}' holds no .skops model file; point at the folder of a UnitRefine model"
        )
    try:
        import skops  # noqa: F401  (SpikeInterface imports it inside the call)
    except ImportError:
        raise CurationError(
            "UnitRefine models are read with the skops package, which is not installed "
            "here; install it (pip install skops) or use the bombcell labeler"
        ) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels = model_based_label_units(
                analyzer,
                model_folder=model_folder,
                trust_model=trust_model,
                set_predictions_as_properties=False,
            )
    except Exception as exc:  # skops refuses untrusted types; SpikeInterface asserts on missing metrics
        hint = " Confirm that you trust this model to load it." if "trust" in str(exc).lower() else ""
        raise CurationError(
            f"the UnitRefine model in '{model_folder}' could not label the units: "
            f"{type(exc).__name__}: {exc}.{hint}"
        ) from exc
    return _rows(labels, "unitrefine", column="prediction", probability="probability")


def label_units(
    analyzer: Any,
    labeler: str = "bombcell",
    thresholds: dict[str, Any] | None = None,
    model_folder: str | Path | None = None,
    trust_model: bool = False,
) -> list[UnitLabel]:
    """One ``UnitLabel`` per unit from ``labeler`` (see module docstring); costs well under a second
    for the threshold labelers. ``trust_model`` lets skops load a model's non-standard types: only
    set it for a model whose origin the user confirmed."""
    if labeler == "bombcell":
        return _bombcell(analyzer, thresholds)
    if labeler == "thresholds":
        return _thresholds(analyzer, thresholds)
    if labeler == "unitrefine":
        return _unitrefine(analyzer, model_folder, trust_model)
    raise CurationError(f"unknown labeler {labeler!r}; choose from {', '.join(LABELERS)}")
