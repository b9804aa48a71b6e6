"""Evaluation while training: every ``score_every`` steps the run's metrics gain decoding R^2 per input and
co-bps on the validation split, and the train rows carry each modality's loss and the throughput."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import new_run, tiny_config

from engines.training.config import build_config
from engines.training.errors import ConfigError
from engines.training.evaluation import load_trained_run
from engines.training.trainer.loop import Trainer
from engines.training.trainer.validation import validation_scores

MODALITIES = ["spikes", "lfp", "calcium"]


def test_a_run_logs_validation_scores_every_n_steps(workspace):
    config = tiny_config(
        20,
        optim={"lr": 3e-3, "warmup_steps": 2},
        training={"score_every": 5, "eval_every": 10, "checkpoint_every": 20},
    )
    folder, dataset = new_run(workspace, config)
    assert Trainer(config, folder, dataset).run(raise_errors=True)["state"] == "completed"
    frame = folder.metrics()
    val = frame[frame["split"] == "val"].set_index("step")
    scored = val.dropna(subset=["r2/all"])
    assert list(scored.index) == [5, 10, 15, 20]
    assert list(val.dropna(subset=["loss"]).index) == [10, 20]  # validation losses keep their own pace
    for column in ["r2/all", *(f"r2/{m}" for m in MODALITIES), "co_bps"]:
        values = scored[column].to_numpy()
        assert np.isfinite(values).all() and (values <= 1).all(), column
    # the logged scores are the model's at that step: the final checkpoint scored again gives the same
    run = load_trained_run(folder)
    again = validation_scores(run.model, run.dataset, torch.device("cpu"), 8)
    assert again["r2/all"] == pytest.approx(scored.loc[20, "r2/all"], rel=1e-5)
    assert again["co_bps"] == pytest.approx(scored.loc[20, "co_bps"], rel=1e-5)


def test_train_rows_carry_each_modality_loss_and_the_throughput(workspace):
    config = tiny_config(10, training={"score_every": 0, "log_every": 1})
    folder, dataset = new_run(workspace, config)
    Trainer(config, folder, dataset).run(raise_errors=True)
    frame = folder.metrics()
    train = frame[frame["split"] == "train"]
    assert list(train["step"]) == list(range(1, 11)) and (train["tokens_per_s"] > 0).all()
    parts = train[[f"recon/{m}" for m in MODALITIES]]
    assert parts.notna().any().all()  # each modality's loss was logged
    # a step's reconstruction loss is the mean of the losses of the modalities it saw
    np.testing.assert_allclose(parts.mean(axis=1, skipna=True), train["loss/reconstruction"], rtol=1e-5)
    val = frame[frame["split"] == "val"]
    assert val[[f"recon/{m}" for m in MODALITIES]].notna().all().all()
    assert not any(c.startswith("r2/") or c == "co_bps" for c in frame.columns)  # score_every 0: off


def test_score_every_must_not_be_negative():
    with pytest.raises(ConfigError, match="score_every"):
        build_config([{"kind": "synthetic"}], training={"score_every": -1})
