"""The POYO side by side of ``benchmarks/training.py`` (``benchmarks/_poyo.py``) on a tiny session, for a few
steps: both models predict the same held-out bins, finitely, and the R^2 of each is computed on them."""

from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pytest

from benchmarks._poyo import compare_with_poyo, poyo_session, predict_poyo, train_poyo

TINY_MODEL = {"d_model": 16, "n_latents": 2, "n_heads": 2, "n_blocks": 1, "d_state": 4, "embed_dim": 8}
TINY_SESSION = {"kind": "synthetic", "n_bins": 1500, "n_units": 12, "seed": 3}
needs_torch_brain = pytest.mark.skipif(
    importlib.util.find_spec("torch_brain") is None,
    reason="torch_brain is not installed: pip install neurodeck[poyo]",
)


def test_without_torch_brain_the_benchmark_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_brain.models", None)
    messages: list[str] = []
    result = compare_with_poyo(TINY_SESSION, TINY_MODEL, ours_steps=2, say=messages.append)
    assert result["poyo_r2"] is None and result["ours_r2"] is None
    assert "pip install neurodeck[poyo]" in result["poyo_note"]
    assert "pip install neurodeck[poyo]" in messages[0]


@needs_torch_brain
def test_spike_counts_become_one_event_per_spike_inside_its_bin():
    counts = np.array([[0, 2], [1, 0], [0, 0], [3, 1]])
    data = poyo_session(counts, 0.02, "s")
    times, units = data.spikes.timestamps, data.spikes.unit_index
    assert len(times) == counts.sum() == 7
    assert np.all(np.diff(times) >= 0)
    for unit in range(2):
        assert (
            np.bincount((times[units == unit] / 0.02).astype(int), minlength=4).tolist()
            == counts[:, unit].tolist()
        )


@needs_torch_brain
def test_poyo_predicts_every_bin_of_a_test_segment_finitely():
    rng = np.random.default_rng(0)
    spikes = rng.poisson(0.3, (400, 6))
    behaviour = rng.normal(size=(400, 2)).astype(np.float32)
    data = poyo_session(spikes, 0.02, "s")
    run = train_poyo(data, behaviour, [(0, 300)], 0.02, seconds=0.5)
    prediction = predict_poyo(run.model, data, (320, 400), 0.02)
    assert run.steps >= 1 and run.spikes > 0 and run.tokens == run.spikes + 2 * 6 * 16 * run.steps
    assert prediction.shape == (80, 2)
    assert np.isfinite(prediction).all()


@needs_torch_brain
def test_poyo_and_ours_are_scored_on_the_same_test_bins():
    messages: list[str] = []
    result = compare_with_poyo(
        TINY_SESSION,
        TINY_MODEL,
        ours_steps=6,
        say=messages.append,
    )
    assert result["poyo_test_bins"] == result["ours_test_bins"] == 150
    assert math.isfinite(result["poyo_r2"]) and math.isfinite(result["ours_r2"])
    assert result["poyo_tokens_per_s"] > 0 and result["ours_tokens_per_s"] > 0
    assert result["poyo_steps"] >= 1 and result["ours_steps"] == 6
    assert result["poyo_train_s"] >= result["ours_train_s"] - 0.1
    assert messages and "poyo_r2" in messages[-1]
