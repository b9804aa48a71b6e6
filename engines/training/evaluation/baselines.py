"""Baselines every evaluation reports beside the model, on the same binned inputs and the same split:
ridge regression on time-lagged inputs, and CEBRA-Behavior embeddings followed by the same ridge decoder."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.linear_model import RidgeCV

from engines.training.evaluation.metrics import r2_score

__all__ = ["lagged", "ridge_decode", "cebra_decode", "RIDGE_LAGS"]

RIDGE_LAGS = 5
"""The ridge sees bins t-5 .. t+5 of every input feature, a context comparable to the model's."""

_ALPHAS = np.logspace(-2, 4, 13)


def lagged(features: np.ndarray, lags: int = RIDGE_LAGS) -> np.ndarray:
    """(T, F) -> (T, F * (2 lags + 1)) with edge bins repeated."""
    padded = np.pad(features, ((lags, lags), (0, 0)), mode="edge")
    return np.concatenate([padded[k : k + len(features)] for k in range(2 * lags + 1)], axis=1)


def _stack(segments: list[np.ndarray], lags: int) -> np.ndarray:
    return np.concatenate([lagged(s, lags) for s in segments]) if lags else np.concatenate(segments)


def ridge_decode(
    train_x: list[np.ndarray],
    train_y: list[np.ndarray],
    test_x: list[np.ndarray],
    test_y: list[np.ndarray],
    lags: int = RIDGE_LAGS,
) -> float:
    """Held-out R^2 of RidgeCV (alpha by leave-one-out on the train split) from lagged features.

    Lags are applied within each contiguous segment, so no bin of another split leaks in.
    """
    model = RidgeCV(alphas=_ALPHAS).fit(_stack(train_x, lags), np.concatenate(train_y))
    return r2_score(np.concatenate(test_y), model.predict(_stack(test_x, lags)))


def cebra_decode(
    train_x: list[np.ndarray],
    train_y: list[np.ndarray],
    test_x: list[np.ndarray],
    test_y: list[np.ndarray],
    iterations: int = 1000,
    output_dimension: int = 8,
    seed: int = 0,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[float | None, str]:
    """(held-out R^2, note): CEBRA-Behavior (offset10 model, behaviour as continuous label) fitted on
    the train split, embeddings decoded by the same ridge (no extra lags). (None, reason) without cebra.

    Costs ``iterations`` minibatch steps of a small convolutional net on the CPU (about 10-60 s for
    1000 iterations here).
    """
    try:
        import cebra
        import torch
    except Exception as exc:  # an optional extra; any import failure means "not available"
        return None, f"CEBRA is not available ({exc}); pip install cebra"
    if cancelled is not None and cancelled():
        return None, "cancelled"
    torch.manual_seed(seed)
    x_train, y_train = np.concatenate(train_x).astype(np.float32), np.concatenate(train_y).astype(np.float32)
    model = cebra.CEBRA(
        model_architecture="offset10-model",
        batch_size=512,
        learning_rate=3e-4,
        temperature=1.0,
        output_dimension=output_dimension,
        max_iterations=iterations,
        distance="cosine",
        conditional="time_delta",
        device="cpu",
        verbose=False,
        time_offsets=10,
    )
    model.fit(x_train, y_train)
    embed_train = [model.transform(x.astype(np.float32)) for x in train_x]
    embed_test = [model.transform(x.astype(np.float32)) for x in test_x]
    r2 = ridge_decode(embed_train, train_y, embed_test, test_y, lags=0)
    return r2, f"CEBRA-Behavior, offset10-model, {output_dimension}-d embedding, {iterations} iterations"
