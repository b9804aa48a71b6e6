"""Evaluation of trained runs (held-out decoding, co-bps, latent recovery) and the baselines beside it."""

from engines.training.evaluation.baselines import cebra_decode, lagged, ridge_decode
from engines.training.evaluation.evaluate import TrainedRun, evaluate_run, load_trained_run, predict_split
from engines.training.evaluation.metrics import bits_per_spike, r2_score

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
]
