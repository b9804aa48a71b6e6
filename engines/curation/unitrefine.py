"""UnitRefine labels: a classifier kept in a local model folder labels every unit of an analyzer.

A UnitRefine model folder (as published on Hugging Face, e.g.
``SpikeInterface/UnitRefine_noise_neural_classifier``, or as ``spikeinterface.curation.train_model`` writes
it) holds one ``.skops`` scikit-learn pipeline and a ``model_info.json`` (its classes under
``label_conversion``, the metric parameters it was trained with). The operator names a folder of such models
(``--unitrefine-models DIR``); nothing is ever downloaded (this module never imports ``huggingface_hub``),
and the feature is offered only when that folder holds a model.

Why SpikeInterface's ``model_based_label_units`` and not the ``unitrefine`` package: the package's own
labelling (``unitrefine.predictions.predict``) calls exactly that function, with ``trust_model=True``; the
rest of the package is a PyQt GUI that pins scikit-learn 1.7 and numcodecs 0.15.1, which conflict with the
versions this server runs, so it is not a dependency (nor used when importable: it would add nothing but
the trust we refuse). What it adds beyond the call, reading a model's classes as layer 1 (noise/neural) or
layer 2 (SUA/MUA), is small and re-stated here (``model_kind``).

Loading is the risky part: a ``.skops`` file names the Python types to rebuild, and a crafted one can name a
function that runs on ``predict``. Models are therefore loaded by skops with an explicit list of trusted types
(``TRUSTED_TYPES``: what ``train_model``'s pipelines hold beyond skops' own defaults), never with
``trust_model=True``, never with pickle or joblib. A model needing another type is refused with its name; only
the operator can add types (``--unitrefine-trust-type``), never a page user.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines._progress import Progress, no_progress
from engines.curation.data import UnitId, plain_unit_id
from engines.curation.errors import CurationError
from engines.io.policy import is_under_folders

__all__ = [
    "TRUSTED_TYPES",
    "ModelLabel",
    "UnitRefineModel",
    "UnitRefineModels",
    "bombcell_agreement",
    "describe_model",
    "find_model_folders",
    "label_with_model",
    "missing_metrics",
    "model_kind",
]

TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.impute._iterative.IterativeImputer",
    "sklearn.impute._iterative._ImputerTriplet",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
)
"""Types beyond skops' defaults that ``train_model``'s pipelines hold (every imputer, scaler and classifier it
offers, measured with ``skops.io.get_untrusted_types``): data containers and fitted trees, no callables."""

NEURAL = {"neural", "good", "sua"}
"""Class names a layer-1 model gives units that are not noise (models from the Hub call them ``good``)."""
GOOD = {"good", "sua"}
MUA = {"mua", "not-sua"}


@dataclass(frozen=True)
class UnitRefineModel:
    """What a model folder says about its model: its classes, the metrics it reads, how to read its labels."""

    name: str
    """The folder's name: the column the labels get."""
    folder: Path
    classes: tuple[str, ...]
    kind: str
    """``noise/neural`` (layer 1), ``good/mua`` (layer 2) or ``other``."""
    metrics: tuple[str, ...]
    """The metric columns it needs, under SpikeInterface's current names."""
    trained_with: str = ""
    """The SpikeInterface version it was trained with ('' when model_info.json does not say)."""


@dataclass(frozen=True)
class ModelLabel:
    """One unit's label from one model, with the model's probability for it."""

    unit_id: UnitId
    model: str
    label: str
    probability: float | None


def model_kind(classes: Iterable[str]) -> str:
    """``noise/neural`` for two classes one of which is noise; ``good/mua`` for two classes meaning SUA and
    MUA (as ``unitrefine.predictions`` reads them); ``other`` for anything else."""
    lowered = [str(c).lower() for c in classes]
    if len(lowered) == 2 and "noise" in lowered:
        return "noise/neural"
    if len(lowered) == 2 and {("good" if c in GOOD else "mua" if c in MUA else c) for c in lowered} == {
        "good",
        "mua",
    }:
        return "good/mua"
    return "other"


def find_model_folders(models: Path, allowed: Iterable[Path]) -> list[Path]:
    """The model folders in ``models`` (itself when it holds a ``.skops`` file, else its sub-folders that do).

    ``models`` must lie under one of ``allowed`` (the server's roots and workspace) and the folders found must
    lie under ``models`` once symlinks are resolved; raises ``CurationError`` otherwise.
    """
    real = Path(models).expanduser().resolve()
    if not is_under_folders(real, allowed):
        raise CurationError(
            f"the UnitRefine models folder '{models}' is outside the folders this server may read; "
            "move it under a --root folder or the workspace"
        )
    if not real.is_dir():
        raise CurationError(f"no UnitRefine models folder at '{models}'")
    candidates = [real] if any(real.glob("*.skops")) else sorted(p for p in real.iterdir() if p.is_dir())
    found = []
    for folder in candidates:
        inside = folder.resolve()
        if (inside == real or real in inside.parents) and any(inside.glob("*.skops")):
            found.append(inside)
    return found


def _skops_file(folder: Path) -> Path:
    files = sorted(folder.glob("*.skops"))
    if len(files) != 1:
        raise CurationError(
            f"the model folder '{folder.name}' holds {len(files)} .skops files; keep one model per folder"
        )
    return files[0]


def _trusted(extra: Iterable[str]) -> list[str]:
    return [*TRUSTED_TYPES, *extra]


def _load(folder: Path, extra_trusted: Iterable[str]) -> tuple[Any, dict[str, Any]]:
    """The pipeline (loaded by skops with the trusted list only) and its model_info.json."""
    import skops.io as skio
    from skops.io.exceptions import UntrustedTypesFoundException

    path = _skops_file(folder)
    try:
        pipeline = skio.load(path, trusted=_trusted(extra_trusted))
    except UntrustedTypesFoundException:
        untrusted = sorted(set(skio.get_untrusted_types(file=path)) - set(_trusted(extra_trusted)))
        raise CurationError(
            f"the model '{folder.name}' holds types this server does not trust: {', '.join(untrusted)}. "
            "Loading it could run code from the file; if you trust its origin, the operator can allow "
            "these types (--unitrefine-trust-type NAME)"
        ) from None
    except Exception as exc:  # a truncated or foreign file: zipfile, json or skops' own errors
        raise CurationError(
            f"the model '{folder.name}' could not be read: {type(exc).__name__}: {exc}"
        ) from exc
    info_path = folder / "model_info.json"
    if not info_path.is_file():  # SpikeInterface's labelling needs it too (the metric parameters)
        raise CurationError(
            f"the model '{folder.name}' has no model_info.json (its classes and metric parameters); "
            "copy the whole model folder as train_model or the Hugging Face repository has it"
        )
    try:
        info = json.loads(info_path.read_text())
    except ValueError as exc:
        raise CurationError(f"the model '{folder.name}' has an unreadable model_info.json: {exc}") from exc
    return pipeline, info if isinstance(info, dict) else {}


def describe_model(folder: Path, extra_trusted: Iterable[str] = ()) -> UnitRefineModel:
    """Load the model in ``folder`` (a few MB, well under a second) and say what it predicts and needs."""
    from sklearn.pipeline import Pipeline
    from spikeinterface.curation.model_based_curation import get_required_metrics_from_model

    pipeline, info = _load(Path(folder), extra_trusted)
    if not isinstance(pipeline, Pipeline) or not hasattr(pipeline, "feature_names_in_"):
        raise CurationError(f"the model '{Path(folder).name}' is not a fitted scikit-learn pipeline")
    conversion = info.get("label_conversion") or {}
    classes = tuple(str(conversion[k]) for k in sorted(conversion, key=lambda k: int(k)))
    if not classes:
        classes = tuple(str(c) for c in getattr(pipeline, "classes_", ()))
    return UnitRefineModel(
        name=Path(folder).name,
        folder=Path(folder),
        classes=classes,
        kind=model_kind(classes),
        metrics=tuple(get_required_metrics_from_model(model=pipeline)),
        trained_with=str((info.get("requirements") or {}).get("spikeinterface", "")),
    )


def _metric_extension(column: str) -> str:
    """Which extension computes a metric column (by SpikeInterface's metric lists), '' when neither does."""
    from spikeinterface.metrics import ComputeQualityMetrics, ComputeTemplateMetrics

    for extension in (ComputeQualityMetrics, ComputeTemplateMetrics):
        if any(column in metric.metric_columns for metric in extension.metric_list):
            return str(extension.extension_name)
    return ""


def missing_metrics(analyzer: Any, model: UnitRefineModel) -> dict[str, list[str]]:
    """The metric columns ``model`` needs that the analyzer's quality_metrics / template_metrics lack, by the
    extension that computes them ({} when it has them all)."""
    present: set[str] = set()
    for name in ("quality_metrics", "template_metrics"):
        if analyzer.has_extension(name):
            present |= set(analyzer.get_extension(name).get_data().columns)
    missing: dict[str, list[str]] = {}
    for column in model.metrics:
        if column not in present:
            missing.setdefault(_metric_extension(column) or "neither extension", []).append(column)
    return missing


def label_with_model(
    analyzer: Any, model: UnitRefineModel, extra_trusted: Iterable[str] = (), progress: Progress = no_progress
) -> tuple[list[ModelLabel], list[str]]:
    """Every unit's label and probability from ``model`` (SpikeInterface's ``model_based_label_units``, the
    model loaded with the trusted types only), and the warnings worth showing (metric parameters that differ
    from the training's). Costs the model's load and one ``predict`` over the metrics table: about a second.
    Raises ``CurationError`` naming the metrics the analyzer lacks, before anything is predicted."""
    from spikeinterface.curation import model_based_label_units

    progress(0.1, f"checking the metrics {model.name} needs")
    missing = missing_metrics(analyzer, model)
    if missing:
        listed = "; ".join(f"{ext}: {', '.join(cols)}" for ext, cols in sorted(missing.items()))
        raise CurationError(
            f"the model '{model.name}' needs metrics this analyzer lacks ({listed}); compute them "
            "(quality_metrics / template_metrics with those metric names) or choose a model that does "
            "not need them"
        )
    progress(0.3, f"loading {model.name} and predicting")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            table = model_based_label_units(
                analyzer,
                model_folder=model.folder,
                model_name=_skops_file(model.folder).name,
                trust_model=False,
                trusted=_trusted(extra_trusted),
                set_predictions_as_properties=False,
            )
        except CurationError:
            raise
        except Exception as exc:  # skops refusing a type, or the pipeline failing on these metrics
            if "Untrusted types" in str(exc):
                _load(model.folder, extra_trusted)  # raises the message that names the types
            raise CurationError(
                f"the model '{model.name}' could not label the units: {type(exc).__name__}: {exc}"
            ) from exc
    notes = sorted({str(w.message) for w in caught if "params" in str(w.message)})
    progress(1.0, f"{len(table)} units labelled by {model.name}")
    labels = [
        ModelLabel(
            unit_id=plain_unit_id(unit),
            model=model.name,
            label=str(row["prediction"]),
            probability=float(row["probability"]) if row["probability"] == row["probability"] else None,
        )
        for unit, row in table.iterrows()
    ]
    return labels, notes


def _comparable(label: str, bombcell: str, kind: str) -> tuple[str, str] | None:
    """A model label and bombcell's in one vocabulary; None when this model says nothing about that unit."""
    label, bombcell = label.lower(), bombcell.lower()
    if kind == "noise/neural":
        return ("noise" if label == "noise" else "neural", "noise" if bombcell == "noise" else "neural")
    if kind == "good/mua":
        if bombcell == "noise":  # a SUA/MUA model is only asked about units that are not noise
            return None
        return ("good" if label in GOOD else "mua", bombcell)
    return ("good" if label in GOOD else "mua" if label in MUA else label, bombcell)


def bombcell_agreement(
    labels: Mapping[UnitId, str], bombcell: Mapping[UnitId, str], kind: str
) -> tuple[float | None, int]:
    """The fraction of units where a model's label agrees with bombcell's equivalent, and over how many units.

    noise/neural models: noise against bombcell's noise, neural against its good or MUA. good/MUA models:
    compared on the units bombcell does not call noise (good against good, MUA against MUA). Other models:
    label against label. None when no unit can be compared.
    """
    pairs = [
        pair
        for unit, label in labels.items()
        if unit in bombcell and (pair := _comparable(label, bombcell[unit], kind)) is not None
    ]
    if not pairs:
        return None, 0
    return sum(a == b for a, b in pairs) / len(pairs), len(pairs)


class UnitRefineModels:
    """The operator's model folder for one server: what it holds, and labelling with one of its models.

    Built from settings (``--unitrefine-models``, ``--unitrefine-trust-type``); shared by every session
    (read only). ``models()`` re-reads the folder, so a model copied in while the server runs is offered.
    """

    def __init__(
        self, folder: Path | None, allowed: Iterable[Path], extra_trusted: Iterable[str] = ()
    ) -> None:
        self.folder = folder
        self.allowed = tuple(allowed)
        self.extra_trusted = tuple(extra_trusted)

    @property
    def configured(self) -> bool:
        return self.folder is not None

    def models(self) -> tuple[list[UnitRefineModel], list[str]]:
        """The models that load, and one message per folder that does not (untrusted types, no model_info)."""
        if self.folder is None:
            return [], []
        found, problems = [], []
        for folder in find_model_folders(self.folder, self.allowed):
            try:
                found.append(describe_model(folder, self.extra_trusted))
            except CurationError as exc:
                problems.append(str(exc))
        return found, problems

    def label(
        self, analyzer: Any, name: str, progress: Progress = no_progress
    ) -> tuple[UnitRefineModel, list[ModelLabel], list[str]]:
        """Label ``analyzer``'s units with the model named ``name`` (see ``label_with_model``)."""
        progress(0.0, f"reading the model {name}")
        for folder in find_model_folders(self.folder, self.allowed) if self.folder else []:
            if folder.name == name:
                model = describe_model(folder, self.extra_trusted)
                labels, notes = label_with_model(analyzer, model, self.extra_trusted, progress)
                return model, labels, notes
        raise CurationError(f"no UnitRefine model named '{name}' on this server; refresh the list")
