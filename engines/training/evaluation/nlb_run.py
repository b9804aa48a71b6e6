"""NLB scores of a trained run on the trial-based benchmark sessions it trained on (the Lorenz source).

The model is given what NLB gives a submission for a scored trial: the held-in neurons' spikes of
the observed bins. The forward window is hidden (inputs zeroed, mask embedding set, as in
training), and the model's spike head predicts every neuron's rate on every bin; co-bps scores
the held-out neurons on the observed bins and fp-bps every neuron on the forward window.
Costs one forward pass over all trials of each such session (under a second for the default
Lorenz set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engines.training.data.lorenz import lorenz_data
from engines.training.evaluation.nlb import co_bps, nlb_scores, smoothing_rates

if TYPE_CHECKING:
    from engines.training.evaluation.evaluate import TrainedRun

__all__ = ["trial_rates", "nlb_run_scores"]


@torch.no_grad()
def trial_rates(run: TrainedRun, session: int) -> np.ndarray:
    """Predicted counts per bin (trials, bins, neurons) for every trial of a trial-based session."""
    item = run.dataset.items[session]
    bins = int(item.session.metadata["trial_bins"])
    n_trials = item.session.n_bins // bins
    batch = run.dataset.window(
        session, np.arange(n_trials, dtype=np.int64) * bins, bins, modalities=["spikes"]
    )
    index = np.arange(n_trials)[:, None] * bins + np.arange(bins)[None, :]
    hidden = item.forward[index] if item.forward is not None else np.zeros(index.shape, bool)
    device = next(run.model.parameters()).device
    spikes = torch.as_tensor(np.where(hidden[..., None], 0.0, batch.inputs["spikes"]), device=device)
    out = run.model(
        {"spikes": spikes.float()},
        session,
        masks={"spikes": torch.as_tensor(hidden, device=device)},
        reconstruct=["spikes"],
    )
    return torch.exp(out.reconstruction["spikes"].clamp(max=15)).cpu().numpy().astype(np.float64)


def nlb_run_scores(run: TrainedRun) -> dict[str, Any] | None:
    """``{"co_bps", "fp_bps", "val_co_bps", "smoothing_co_bps", "sessions"}`` over the run's Lorenz
    sessions (test trials; the mean when there are several), or None when it has none."""
    scores: list[dict[str, float]] = []
    for session, item in enumerate(run.dataset.items):
        data = lorenz_data(item.session)
        if data is None or "spikes" not in item.arrays:
            continue
        rates = trial_rates(run, session)
        test = nlb_scores(data, rates, "test")
        scores.append(
            {
                **test,
                "val_co_bps": co_bps(data, rates, "val"),
                "smoothing_co_bps": co_bps(data, smoothing_rates(data)),
            }
        )
    if not scores:
        return None
    keys = ("co_bps", "fp_bps", "val_co_bps", "smoothing_co_bps")
    return {**{k: float(np.mean([s[k] for s in scores])) for k in keys}, "sessions": len(scores)}
