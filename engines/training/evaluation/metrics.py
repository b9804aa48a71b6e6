"""Scores shared by the evaluation and the benchmarks: R^2 and the Neural Latents Benchmark's bits per
spike."""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

__all__ = ["r2_score", "bits_per_spike"]


def r2_score(y: np.ndarray, prediction: np.ndarray) -> float:
    """Coefficient of determination averaged over output dimensions (sklearn's "uniform_average")."""
    y, prediction = np.asarray(y, dtype=np.float64), np.asarray(prediction, dtype=np.float64)
    y, prediction = y.reshape(len(y), -1), prediction.reshape(len(prediction), -1)
    residual = ((y - prediction) ** 2).sum(axis=0)
    total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    valid = total > 0
    return float(np.mean(1 - residual[valid] / total[valid])) if valid.any() else float("nan")


def _poisson_nll(rates: np.ndarray, spikes: np.ndarray) -> float:
    rates = np.where(rates > 0, rates, 1e-9)  # NLB replaces zero rates by 1e-9
    return float(np.sum(rates - spikes * np.log(rates) + gammaln(spikes + 1)))


def bits_per_spike(rates: np.ndarray, spikes: np.ndarray) -> float:
    """NLB's co-bps: (NLL of each neuron's mean rate - NLL of ``rates``) / total spikes / ln 2.

    ``rates`` and ``spikes`` are (time, neurons) or (trials, time, neurons) in counts per bin,
    for held-out neurons on held-out data; the null model predicts each neuron's mean count over
    that same data. NaN spike counts (bins NLB leaves unscored) are skipped, as
    ``nlb_tools.evaluation.bits_per_spike`` skips them.
    """
    rates, spikes = np.asarray(rates, dtype=np.float64), np.asarray(spikes, dtype=np.float64)
    if rates.shape != spikes.shape:
        raise ValueError(f"rates {rates.shape} and spikes {spikes.shape} differ in shape.")
    rates, spikes = rates.reshape(-1, spikes.shape[-1]), spikes.reshape(-1, spikes.shape[-1])
    total = np.nansum(spikes)
    if total <= 0:
        return float("nan")
    null = np.broadcast_to(np.nanmean(spikes, axis=0, keepdims=True), spikes.shape)
    scored = ~np.isnan(spikes)
    gain = _poisson_nll(null[scored], spikes[scored]) - _poisson_nll(rates[scored], spikes[scored])
    return float(gain / total / np.log(2))
