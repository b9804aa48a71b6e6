"""Evaluation of trained runs (held-out decoding, co-bps, latent recovery), the baselines beside it, and NLB
scores on the Lorenz benchmark."""

from engines.training.evaluation.baselines import cebra_decode, lagged, ridge_decode
from engines.training.evaluation.evaluate import TrainedRun, evaluate_run, load_trained_run, predict_split
from engines.training.evaluation.metrics import bits_per_spike, r2_score
from engines.training.evaluation.nlb import co_bps, nlb_scores, smoothing_rates

__all__ = [
    "evaluate_run",
    "load_trained_run",
    "predict_split",
    "TrainedRun",
    "ridge_decode",
    "cebra_decode",
    "lagged",
    "bits_per_spike",
    "r2_score",
    "co_bps",
    "nlb_scores",
    "smoothing_rates",
]
