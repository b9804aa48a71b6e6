"""Units & labels, the UnitRefine part: model names and classes from the folder show as text, not markup."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.background import BackgroundWork
from components.curation.labels import UnitLabels
from engines.curation import CurationReview, InjectedFaults, build_ground_truth, compute_missing_extensions
from engines.curation.unitrefine import UnitRefineModels
from tests.support.unitrefine_models import pipeline_folder

MARKUP = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def small_analyzer():
    """A generated 10 s, 6-unit analyzer in memory with the curation extensions (a few seconds)."""
    from spikeinterface.core import create_sorting_analyzer

    warnings.filterwarnings("ignore")
    truth = build_ground_truth(10.0, 6, 8, InjectedFaults(0, 0, 1, 0), seed=3)
    analyzer = create_sorting_analyzer(truth.sorting, truth.recording, format="memory", sparse=True)
    compute_missing_extensions(analyzer)
    return analyzer


def _markup_model(models: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    metrics = pd.DataFrame(
        np.random.default_rng(0).random((20, 2)) * [40, 600], columns=["snr", "num_spikes"]
    )
    pipeline = Pipeline([("classifier", LogisticRegression())]).fit(metrics, np.arange(20) % 2)
    pipeline_folder(models / MARKUP, pipeline, {"0": MARKUP, "1": "noise"})


def test_a_model_s_name_and_classes_show_as_text_in_the_note_and_the_column(small_analyzer, tmp_path):
    _markup_model(tmp_path / "models")
    review = CurationReview(tmp_path / "ws", small_analyzer, None)
    view = UnitLabels(review, BackgroundWork(), UnitRefineModels(tmp_path / "models", [tmp_path]))
    assert view._model.options == [MARKUP]  # a Select shows option labels as text
    assert "&#60;img" in view._model_note.object and "<img" not in view._model_note.object
    view._label_with_model()  # inline outside a server: labels, stores, redraws
    assert "units labelled by UnitRefine model" in view._note.object and "<img" not in view._note.object
    table = view._table
    assert MARKUP in table.value.columns  # the column keeps the model's name...
    assert (
        "<img" not in table.titles[MARKUP] and "<img" not in table.titles[f"{MARKUP} p"]
    )  # ...shown as text
    assert set(table.value[MARKUP]) <= {MARKUP, "noise"}


def test_without_a_models_folder_the_tab_has_no_unitrefine_controls(small_analyzer, tmp_path):
    review = CurationReview(tmp_path / "ws", small_analyzer, None)
    view = UnitLabels(review, BackgroundWork(), UnitRefineModels(None, [tmp_path]))
    buttons = [b.name for b in view.__panel__().select(lambda o: hasattr(o, "clicks"))]
    assert "Label all units" in buttons and "Label with UnitRefine" not in buttons
