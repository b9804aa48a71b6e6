"""The held-out neurons' read-out that co-bps scores: a Poisson GLM per neuron over the model's latent
factors, fitted on the train split (what NLB lets a submission fit, and how latent-variable models such
as GPFA are read out there).

Why not only the jointly trained spike head: on the synthetic benchmark the trained head reached
0.10 bits/spike where a GLM fitted on the very same latent states reached 0.15 (the oracle, a GLM
on the true latents, 0.17). The head is fitted by a few hundred noisy steps shared with masked
reconstruction, and sparse counts (0.02-0.2 per bin) give it weak gradients; an exact GLM fit
on all train bins has neither problem. The evaluation reports both.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import PoissonRegressor
from threadpoolctl import threadpool_limits

__all__ = ["glm_readout_rates"]


def glm_readout_rates(
    train_latent: np.ndarray,
    train_spikes: np.ndarray,
    test_latent: np.ndarray,
    alpha: float = 1e-3,
    max_bins: int = 50_000,
) -> np.ndarray:
    """Predicted counts per bin (test bins, neurons) of each neuron in ``train_spikes`` (bins, neurons).

    The latent factors are standardised with the train split's statistics. Costs one L-BFGS
    fit per neuron (about 0.2 s each for 24,000 bins x 32 factors here); longer train splits are
    thinned to ``max_bins`` evenly spaced bins, so a long recording's evaluation stays bounded.
    """
    stride = max(1, -(-len(train_latent) // max_bins))
    train_latent, train_spikes = train_latent[::stride], train_spikes[::stride]
    mean, scale = train_latent.mean(axis=0), train_latent.std(axis=0) + 1e-6
    x_train, x_test = (train_latent - mean) / scale, (test_latent - mean) / scale
    rates = np.empty((len(test_latent), train_spikes.shape[1]))
    with threadpool_limits(1):  # small fits: threaded BLAS only spins
        for k in range(train_spikes.shape[1]):
            model = PoissonRegressor(alpha=alpha, max_iter=300).fit(x_train, train_spikes[:, k])
            rates[:, k] = model.predict(x_test)
    return rates
