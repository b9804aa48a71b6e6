"""UnitRefine labels: a trained model labels the demo, its labels are kept and exported; crafted ones fail."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.cli import settings_from_args
from engines.curation import CurationError, label_units
from engines.curation.unitrefine import (
    UnitRefineModels,
    bombcell_agreement,
    describe_model,
    find_model_folders,
    label_with_model,
)
from engines.curation.unitrefine_store import ModelLabelStore
from tests.support.unitrefine_models import crafted_model_folder, pipeline_folder, train_model_folder


@pytest.fixture(scope="module")
def bombcell_labels(demo_analyzer) -> dict:
    return {lab.unit_id: lab.label for lab in label_units(demo_analyzer, "bombcell")}


@pytest.fixture(scope="module")
def models_folder(tmp_path_factory, demo_analyzer, bombcell_labels) -> Path:
    """The operator's folder: one model trained once per module (bombcell's labels, noise as MUA)."""
    folder = tmp_path_factory.mktemp("unitrefine") / "models"
    labels = ["good" if bombcell_labels[u] == "good" else "mua" for u in demo_analyzer.unit_ids]
    train_model_folder(folder / "good_mua_model", demo_analyzer, labels)
    return folder


def test_a_trained_model_labels_every_demo_unit_close_to_bombcell(
    demo_analyzer, models_folder, bombcell_labels
):
    models = UnitRefineModels(models_folder, [models_folder.parent])
    found, problems = models.models()
    assert problems == [] and [m.name for m in found] == ["good_mua_model"]
    model = found[0]
    assert model.kind == "good/mua" and set(model.classes) == {"good", "mua"}
    assert "snr" in model.metrics and "peak_to_trough_duration" in model.metrics
    _, labels, _notes = models.label(demo_analyzer, "good_mua_model")
    assert [lab.unit_id for lab in labels] == list(demo_analyzer.unit_ids)
    assert {lab.label for lab in labels} <= {"good", "mua"}
    assert all(0.5 <= lab.probability <= 1.0 for lab in labels)
    agreement, compared = bombcell_agreement(
        {lab.unit_id: lab.label for lab in labels}, bombcell_labels, model.kind
    )
    assert compared == sum(label != "noise" for label in bombcell_labels.values())
    assert agreement is not None and agreement >= 0.8  # it was trained on these labels


def test_labels_are_kept_beside_a_person_s_and_exported(review, models_folder):
    review.label_units("bombcell")
    review.set_label(review.analyzer.unit_ids[0], "noise")
    model, labels, _ = UnitRefineModels(models_folder, [models_folder.parent]).label(
        review.analyzer, "good_mua_model"
    )
    ModelLabelStore(review.workspace).record(review.key, model, labels, review.session)
    again = ModelLabelStore(review.workspace)  # a reload: a new store on the same workspace
    kept = again.latest(review.key)["good_mua_model"]
    assert {u: lab.label for u, lab in kept.items()} == {lab.unit_id: lab.label for lab in labels}
    assert review.labels()[review.analyzer.unit_ids[0]].label == "noise"  # the person's label still wins
    assert len(again.labeler_labels(review.key, "bombcell")) == len(review.analyzer.unit_ids)
    exported = json.loads(review.export_curation_json().read_text())
    section = exported["unitrefine_labels"]["good_mua_model"]
    assert sorted(section["classes"]) == ["good", "mua"]
    assert len(section["labels"]) == len(labels)
    assert {row["label"] for row in section["labels"]} <= {"good", "mua"}


def test_a_crafted_model_is_refused_with_the_types_it_holds_named(demo_analyzer, tmp_path, capsys):
    crafted_model_folder(tmp_path / "models" / "crafted")
    models = UnitRefineModels(tmp_path / "models", [tmp_path])
    found, problems = models.models()
    assert found == [] and "builtins.print" in problems[0]
    with pytest.raises(CurationError, match=r"does not trust: builtins\.print"):
        models.label(demo_analyzer, "crafted")
    assert "num_spikes" not in capsys.readouterr().out  # the model's print never ran


def test_no_page_call_can_trust_a_crafted_model(review, tmp_path, capsys):
    """The labelers took ``trust_model=True`` from any caller; skops then loaded every type the file named."""
    folder = crafted_model_folder(tmp_path / "crafted")
    with pytest.raises((CurationError, TypeError)):
        review.label_units("unitrefine", model_folder=folder, trust_model=True)
    assert "num_spikes" not in capsys.readouterr().out  # the model's print never ran


def test_only_the_operator_adds_trusted_types(tmp_path):
    settings = settings_from_args(
        ["--unitrefine-models", str(tmp_path), "--unitrefine-trust-type", "builtins.print"]
    )
    assert settings.unitrefine_models == tmp_path
    assert settings.unitrefine_trusted_types == ("builtins.print",)
    crafted_model_folder(tmp_path / "crafted")
    trusted = UnitRefineModels(tmp_path, [tmp_path], settings.unitrefine_trusted_types)
    found, problems = trusted.models()
    assert problems == [] and found[0].kind == "noise/neural"


def test_missing_metrics_are_named_with_the_extension_that_computes_them(demo_analyzer, tmp_path):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    columns = ["snr", "spread", "drift_ptp"]
    metrics = pd.DataFrame(np.random.default_rng(1).random((30, 3)), columns=columns)
    pipeline = Pipeline(
        [("imputer", SimpleImputer()), ("classifier", RandomForestClassifier(n_estimators=3))]
    )
    folder = pipeline_folder(
        tmp_path / "needs_more", pipeline.fit(metrics, np.arange(30) % 2), {"0": "a", "1": "b"}
    )
    model = describe_model(folder)
    assert model.kind == "other" and model.metrics == tuple(columns)
    with pytest.raises(CurationError, match=r"quality_metrics: drift_ptp; template_metrics: spread"):
        label_with_model(demo_analyzer, model)


def test_the_models_folder_must_lie_under_the_server_s_folders(tmp_path):
    inside, outside = tmp_path / "root" / "models", tmp_path / "elsewhere"
    inside.mkdir(parents=True)
    crafted_model_folder(outside / "escaped")
    os.symlink(outside / "escaped", inside / "link")
    with pytest.raises(CurationError, match="outside the folders this server may read"):
        find_model_folders(outside, [tmp_path / "root"])
    assert find_model_folders(inside, [tmp_path / "root"]) == []  # a link out of the folder is not followed


def test_agreement_maps_each_model_kind_to_bombcell_s_labels():
    bombcell = {1: "good", 2: "mua", 3: "noise", 4: "good"}
    layer1 = {1: "neural", 2: "neural", 3: "noise", 4: "noise"}
    assert bombcell_agreement(layer1, bombcell, "noise/neural") == (0.75, 4)
    layer2 = {1: "sua", 2: "sua", 3: "mua", 4: "sua"}
    assert bombcell_agreement(layer2, bombcell, "good/mua") == (2 / 3, 3)  # bombcell's noise unit left out
    assert bombcell_agreement({}, bombcell, "other") == (None, 0)


def test_a_model_folder_without_model_info_is_named_not_loaded(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    metrics = pd.DataFrame(np.random.default_rng(2).random((20, 2)), columns=["snr", "num_spikes"])
    pipeline = Pipeline([("classifier", LogisticRegression())]).fit(metrics, np.arange(20) % 2)
    folder = pipeline_folder(tmp_path / "models" / "bare", pipeline, {"0": "noise", "1": "neural"})
    (folder / "model_info.json").unlink()
    found, problems = UnitRefineModels(tmp_path / "models", [tmp_path]).models()
    assert found == [] and len(problems) == 1 and "'bare' has no model_info.json" in problems[0]
