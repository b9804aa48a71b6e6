"""Per-modality quality and the Lorenz training source: what a model trained here is scored against."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import new_run, tiny_config

from engines.training.config import LorenzSource
from engines.training.data.lorenz import generate_lorenz, lorenz_session
from engines.training.errors import DataError
from engines.training.evaluation import bits_per_spike, evaluate_run, load_trained_run
from engines.training.evaluation.nlb_run import nlb_run_scores, trial_rates
from engines.training.evaluation.readout import glm_readout_rates
from engines.training.trainer.loop import Trainer
from engines.training.trainer.objective import behaviour_loss

LORENZ = {"kind": "lorenz", "seed": 2, "n_trials": 20, "n_observed": 24, "n_forward": 6, "n_neurons": 12}


def test_the_lorenz_source_splits_by_trial_and_holds_out_nlb_neurons(tmp_path):
    config = tiny_config(
        12,
        sources=[{**LORENZ, "n_heldout": 3}],
        data={"seq_len": 30, "mask_ratio": 0.0},
        training={"checkpoint_every": 12, "eval_every": 12},
    )
    folder, dataset = new_run(tmp_path, config)
    data = generate_lorenz(**{k: v for k, v in LORENZ.items() if k != "kind"}, n_heldout=3)
    item = dataset.items[0]
    for split in ("train", "val", "test"):  # one segment per trial of that split, trial-aligned
        assert [a // 30 for a, _ in item.segments[split]] == list(data.trials(split))
        assert all(b - a == 30 for a, b in item.segments[split])
    np.testing.assert_array_equal(dataset.heldout_units(0), data.heldout)
    assert dataset.spec.sessions[0].inputs["spikes"] == 9  # held-in neurons only go in
    batches = [dataset.train_batch(step) for step in range(6)]
    hidden = np.concatenate([b.masks["spikes"] for b in batches])
    forward_hidden = hidden[:, -6:].all(axis=1)
    assert 0 < forward_hidden.mean() < 1 and not hidden[:, :24].any()  # the forward window, in some windows
    assert all((b.inputs["spikes"][b.masks["spikes"]] == 0).all() for b in batches)
    Trainer(config, folder, dataset).run(raise_errors=True)
    run = load_trained_run(folder)
    assert trial_rates(run, 0).shape == (20, 30, 12)
    scores = nlb_run_scores(run)
    assert scores is not None and np.isfinite([scores["co_bps"], scores["fp_bps"]]).all()
    assert evaluate_run(folder, cebra_iterations=0)["nlb"]["co_bps"] == pytest.approx(scores["co_bps"])


def test_a_quarter_of_training_windows_are_left_whole_and_behaviour_is_learnt_from_those(tmp_path):
    config = tiny_config(data={"mask_ratio": 0.5, "batch_size": 32, "modality_dropout": 0.0})
    _, dataset = new_run(tmp_path, config)
    batch = dataset.train_batch(3)
    masked = np.stack([m.any(axis=1) for m in batch.masks.values()]).any(axis=0)
    assert 0.1 < 1 - masked.mean() < 0.45  # clean_windows: 0.25 by default
    for mask in batch.masks.values():  # a masked window hides about mask_ratio of its bins
        assert 0.3 < mask[masked].mean() < 0.7 and not mask[~masked].any()
    truth = torch.as_tensor(batch.behaviour)
    guess = truth.clone()
    guess[torch.as_tensor(masked)] += 5.0  # wrong only where some input was hidden
    masks = {m: torch.as_tensor(a) for m, a in batch.masks.items()}
    assert behaviour_loss(guess, truth, masks).item() == pytest.approx(0.0)
    assert behaviour_loss(guess + 1.0, truth, masks).item() == pytest.approx(1.0)


def test_a_lorenz_source_holding_out_every_neuron_is_refused_with_what_to_do():
    with pytest.raises(DataError, match="hold out fewer"):
        lorenz_session(LorenzSource(n_neurons=5, n_heldout=5))


def test_the_glm_read_out_recovers_planted_rates_from_latents_even_when_thinned():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(24_000, 4))
    true_rates = np.exp(np.log(0.1) + latents @ rng.normal(0, 0.5, (4, 3)))
    spikes = rng.poisson(true_rates)
    rates = glm_readout_rates(latents[:20_000], spikes[:20_000], latents[20_000:], max_bins=5_000)
    oracle = bits_per_spike(true_rates[20_000:], spikes[20_000:])
    assert oracle > 0.3 and bits_per_spike(rates, spikes[20_000:]) > 0.95 * oracle
