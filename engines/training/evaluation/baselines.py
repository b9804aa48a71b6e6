"""Baselines every evaluation reports beside the model, on the same binned inputs and the same split:
ridge regression on time-lagged inputs, and CEBRA-Behavior embeddings followed by the same ridge decoder.

CEBRA is bounded in time. Measured on this project's shared 2-core machine, 1,000 iterations on
a 43,520-bin train split (a 277 KB NWB file at 20 ms bins) ran for longer than a quarter of an
hour, for two reasons: torch's two threads spun against the other processes (1.45 s per
iteration on 10,000 bins; one thread: 0.13 s), and the behaviour-conditioned sampling compares
every sample of a batch with every bin it fits on, so an iteration costs in proportion to the
bins. So CEBRA fits with one thread, on at most ``CEBRA_MAX_BINS`` train bins (evenly spaced
contiguous blocks), and, unless asked for a number, runs ``cebra_iterations_for(bins)``
iterations: as many as fit in about ``CEBRA_TARGET_S`` seconds by the measured cost of an
iteration, between ``CEBRA_MIN_ITERATIONS`` and ``CEBRA_MAX_ITERATIONS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.linear_model import RidgeCV

from engines._progress import Progress, raise_if_cancelled
from engines.training.evaluation.metrics import r2_score

__all__ = [
    "lagged",
    "ridge_decode",
    "cebra_decode",
    "cebra_iterations_for",
    "RIDGE_LAGS",
    "CEBRA_MAX_BINS",
    "CEBRA_MIN_ITERATIONS",
    "CEBRA_MAX_ITERATIONS",
    "CEBRA_TARGET_S",
]

RIDGE_LAGS = 5
"""The ridge sees bins t-5 .. t+5 of every input feature, a context comparable to the model's."""

_ALPHAS = np.logspace(-2, 4, 13)

CEBRA_MAX_BINS = 10_000
"""CEBRA fits on at most this many train bins (its readout still sees every train bin)."""
CEBRA_MIN_ITERATIONS, CEBRA_MAX_ITERATIONS = 50, 1000
CEBRA_TARGET_S = 10.0
"""What the automatic iteration count aims the fit at, by the cost measured here (one thread, a loaded
2-core machine): about 40 ms per iteration plus 2.5 us per fitted bin."""
_ITERATION_S, _BIN_S = 0.04, 2.5e-6
_CEBRA_BLOCK = 500
"""Bins per contiguous block of a subsample: far longer than the offset10 model's 10-bin context."""


def cebra_iterations_for(n_bins: int) -> int:
    """CEBRA iterations for ``n_bins`` train bins when the caller names none: fewer on more data, so the
    fit takes about ``CEBRA_TARGET_S`` whatever the recording's length (154 on 10,000 bins or more,
    217 on 2,400)."""
    seconds = _ITERATION_S + _BIN_S * min(max(n_bins, 1), CEBRA_MAX_BINS)
    return int(np.clip(round(CEBRA_TARGET_S / seconds), CEBRA_MIN_ITERATIONS, CEBRA_MAX_ITERATIONS))


def _subsample(x: np.ndarray, y: np.ndarray, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_bins`` rows as evenly spaced contiguous blocks (all rows when there are fewer)."""
    if len(x) <= max_bins:
        return x, y
    blocks = max(1, max_bins // _CEBRA_BLOCK)
    length = max_bins // blocks
    starts = np.linspace(0, len(x) - length, blocks).astype(np.int64)
    rows = (starts[:, None] + np.arange(length)[None, :]).reshape(-1)
    return x[rows], y[rows]


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
    iterations: int | None = None,
    output_dimension: int = 8,
    seed: int = 0,
    cancelled: Callable[[], bool] | None = None,
    progress: Progress | None = None,
) -> tuple[float | None, str]:
    """(held-out R^2, note): CEBRA-Behavior (offset10 model, behaviour as continuous label) fitted on
    the train split (at most ``CEBRA_MAX_BINS`` of its bins), embeddings of every bin decoded by the
    same ridge (no extra lags). (None, reason) without cebra.

    Costs ``iterations`` (default ``cebra_iterations_for`` the bins) minibatch steps of a small
    convolutional net on one CPU thread, each about 40 ms + 2.5 us per fitted bin here;
    ``progress`` hears about every 5% of them, and a ``cancelled`` fit stops within 5% of them by
    raising ``Cancelled``.
    """
    try:
        import cebra  # noqa: F401  (importing it is the availability check; _fit_cebra uses it)
        import torch
    except Exception as exc:  # an optional extra; any import failure means "not available"
        return None, f"CEBRA is not available ({exc}); pip install cebra"
    if cancelled is not None and cancelled():
        return None, "cancelled"
    torch.manual_seed(seed)
    x_all, y_all = np.concatenate(train_x).astype(np.float32), np.concatenate(train_y).astype(np.float32)
    x_train, y_train = _subsample(x_all, y_all, CEBRA_MAX_BINS)
    total = iterations or cebra_iterations_for(len(x_all))
    report = progress or (lambda fraction, message: None)

    def step(done: int, _solver: object) -> None:
        raise_if_cancelled(cancelled, "CEBRA's fit")
        report(done / total, f"CEBRA iteration {done} of {total}")

    threads = torch.get_num_threads()
    # one thread: a net this small gains nothing from more, and on shared cores they spin (10x slower)
    torch.set_num_threads(1)
    try:
        model = _fit_cebra(x_train, y_train, total, output_dimension, step)
        embed_train = [model.transform(x.astype(np.float32)) for x in train_x]
        embed_test = [model.transform(x.astype(np.float32)) for x in test_x]
    finally:
        torch.set_num_threads(threads)
    r2 = ridge_decode(embed_train, train_y, embed_test, test_y, lags=0)
    fitted = (
        f"on {len(x_train)} of {len(x_all)} train bins" if len(x_train) < len(x_all) else "on every train bin"
    )
    return r2, (
        f"CEBRA-Behavior, offset10-model, {output_dimension}-d embedding, {total} iterations {fitted}"
    )


def _fit_cebra(
    x: np.ndarray, y: np.ndarray, iterations: int, output_dimension: int, step: Callable[[int, object], None]
) -> Any:
    """CEBRA-Behavior fitted on (x, y); ``step(iterations done, solver)`` is called every 5% of them."""
    import cebra

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
    return model.fit(x, y, callback=step, callback_frequency=max(1, math.ceil(iterations / 20)))
