"""NLB scores on a Lorenz data set, and NLB's spike-smoothing baseline to read them against.

co-bps scores held-out neurons on the observed bins of the scored trials; fp-bps scores every
neuron on the forward window. Both are ``bits_per_spike`` exactly as ``nlb_tools.evaluation``
computes it (a test checks the two agree), so numbers here compare with NLB's leaderboard kind.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d
from sklearn.linear_model import PoissonRegressor
from threadpoolctl import threadpool_limits

from engines.training.data.lorenz import LorenzData
from engines.training.evaluation.metrics import bits_per_spike

__all__ = ["co_bps", "nlb_scores", "smoothing_rates"]


def co_bps(data: LorenzData, rates: np.ndarray, split: str = "test") -> float:
    """co-bps of predicted ``rates`` (trials, bins, neurons; counts per bin; only held-out columns read)."""
    return bits_per_spike(data.heldout_observed(rates, split), data.heldout_observed(data.spikes, split))


def nlb_scores(data: LorenzData, rates: np.ndarray, split: str = "test") -> dict[str, float]:
    """``{"co_bps", "fp_bps"}`` of predicted ``rates`` over whole trials (forward window included)."""
    return {
        "co_bps": co_bps(data, rates, split),
        "fp_bps": bits_per_spike(data.forward(rates, split), data.forward(data.spikes, split)),
    }


def smoothing_rates(data: LorenzData, sigma_bins: float = 5.0, alpha: float = 1e-2) -> np.ndarray:
    """NLB's smoothing baseline: held-out rates from Gaussian-smoothed held-in spikes by a Poisson GLM.

    The GLM (one per held-out neuron) is fitted on the observed bins of the train trials and
    applied to every trial's observed bins; it sees only held-in activity, as a submission may.
    Returns (trials, n_observed, neurons) with the held-out columns filled and the rest NaN, the
    shape ``nlb_scores``' co-bps part reads (fp-bps needs a model of the dynamics, not given here).
    """
    observed = data.spikes[:, : data.n_observed]
    smooth = gaussian_filter1d(observed[:, :, data.heldin], sigma_bins, axis=1)
    features = np.log(smooth + 1e-3).reshape(-1, len(data.heldin))
    train = np.isin(np.repeat(np.arange(len(observed)), data.n_observed), data.trials("train"))
    rates = np.full(observed.shape, np.nan)
    with threadpool_limits(1):  # small fits: threaded BLAS only spins (4 s instead of 0.2 s on 2 cores)
        for neuron in data.heldout:
            target = observed[:, :, neuron].reshape(-1)
            model = PoissonRegressor(alpha=alpha, max_iter=300).fit(features[train], target[train])
            rates[:, :, neuron] = model.predict(features).reshape(len(observed), data.n_observed)
    return rates
