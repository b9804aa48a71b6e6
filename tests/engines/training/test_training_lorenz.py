"""The Lorenz benchmark: the generator's splits as NLB defines them, and co-bps equal to nlb_tools'."""

from __future__ import annotations

import numpy as np
import pytest

from engines.training.data.lorenz import SPLIT_NAMES, generate_lorenz
from engines.training.evaluation.metrics import bits_per_spike
from engines.training.evaluation.nlb import co_bps, nlb_scores, smoothing_rates


@pytest.fixture(scope="module")
def data():
    return generate_lorenz(seed=3)


def test_lorenz_data_is_seeded_and_split_into_trials_neurons_and_a_forward_window(data):
    again, other = generate_lorenz(seed=3), generate_lorenz(seed=4)
    np.testing.assert_array_equal(data.spikes, again.spikes)
    assert not np.array_equal(data.spikes, other.spikes)
    assert data.spikes.shape == data.rates.shape == (100, 120, 40)
    assert data.latents.shape == (100, 120, 3)
    np.testing.assert_allclose(data.latents.std(axis=(0, 1)), 1.0, atol=1e-9)
    assert [len(data.trials(s)) for s in SPLIT_NAMES] == [70, 10, 20]
    assert sorted(np.concatenate([data.trials(s) for s in SPLIT_NAMES])) == list(range(100))
    assert set(data.heldin).isdisjoint(data.heldout) and len(data.heldin) + len(data.heldout) == 40
    assert data.heldout_observed(data.spikes, "test").shape == (20, 100, 10)
    assert data.forward(data.spikes, "test").shape == (20, 20, 40)
    mean_hz = data.spikes.mean() / data.bin_s
    assert 5 < mean_hz < 40, mean_hz
    # The Lorenz state is chaotic: trials started from different points do not coincide.
    assert np.abs(data.latents[0] - data.latents[1]).max() > 1.0


def test_co_bps_and_fp_bps_equal_nlb_tools_bits_per_spike(data):
    nlb = pytest.importorskip(
        "nlb_tools.evaluation",
        reason="nlb-tools is installed by dev/setup (pip install --no-deps nlb-tools==0.0.4)",
    )
    noisy = data.rates * np.exp(np.random.default_rng(0).normal(0, 0.4, data.rates.shape))
    for rates in (data.rates, noisy):
        for cut in (data.heldout_observed, data.forward):
            ours = bits_per_spike(cut(rates, "test"), cut(data.spikes, "test"))
            theirs = nlb.bits_per_spike(cut(rates, "test").copy(), cut(data.spikes, "test").copy())
            assert ours == pytest.approx(float(theirs), abs=1e-6)
    spikes = data.heldout_observed(data.spikes, "val").copy()
    spikes[:, -5:] = np.nan  # NLB marks unscored bins NaN
    rates = data.heldout_observed(noisy, "val")
    assert bits_per_spike(rates, spikes) == pytest.approx(
        float(nlb.bits_per_spike(rates.copy(), spikes)), abs=1e-6
    )


def test_the_oracle_scores_well_a_constant_rate_scores_zero_and_smoothing_falls_between(data):
    oracle = nlb_scores(data, data.rates)
    assert oracle["co_bps"] > 0.3 and oracle["fp_bps"] > 0.3
    train_mean = data.spikes[data.trials("train")].mean(axis=(0, 1))
    constant = nlb_scores(data, np.broadcast_to(train_mean, data.spikes.shape))
    assert constant["co_bps"] == pytest.approx(0, abs=0.05)
    assert constant["fp_bps"] == pytest.approx(0, abs=0.1)
    smoothing = co_bps(data, smoothing_rates(data))
    assert 0.1 < smoothing < oracle["co_bps"]
