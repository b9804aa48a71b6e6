"""What a run measures on its validation split while it trains: the losses (per task and per
modality) that drive early stopping, and a light evaluation (held-out decoding R^2 per input,
co-bps) so the Live tab shows whether the model gets better at what it is for, not only whether
its losses fall.

The full evaluation (``evaluation/evaluate.py``) scores whole test segments and fits the
baselines: seconds to minutes. This one is bounded: at most ``max_windows`` non-overlapping
validation windows (of the training window length) in all, each decoded once with every input
and once per modality alone; held-out units' rates come from the pass with every input. Its cost
is (1 + modalities) x ceil(windows / batch_size) forward passes without gradients, about what
``max_windows`` windows of training cost without the backward pass, once per ``score_every``
steps. The windows are fixed, so the scores compare across steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

import numpy as np
import torch

from engines.training.config import RunSettings
from engines.training.data.windows import WindowDataset
from engines.training.evaluation.metrics import bits_per_spike, r2_score
from engines.training.model.foundation import FoundationModel
from engines.training.trainer.objective import Objective, to_tensors

__all__ = ["loss_keys", "validation_losses", "validation_scores"]


def loss_keys(tasks: Sequence[str], modalities: Sequence[str]) -> list[str]:
    """``loss``, ``grad_norm``, each task's loss (``loss/<task>``) and each modality's reconstruction loss
    (``recon/<modality>``): the columns averaged over ranks."""
    return ["loss", "grad_norm", *(f"loss/{t}" for t in tasks), *(f"recon/{m}" for m in modalities)]


@torch.no_grad()
def validation_losses(
    model: FoundationModel,
    objective: Objective,
    dataset: WindowDataset,
    device: torch.device,
    settings: RunSettings,
    autocast: Callable[[], AbstractContextManager],
) -> dict[str, float]:
    """This rank's mean raw loss per task and per modality over ``settings.eval_windows`` fixed validation
    windows (masks seeded by position, so the values compare across steps); leaves the model in eval
    mode."""
    model.eval()
    sums: dict[str, list[float]] = {}
    generator = torch.Generator().manual_seed(settings.seed)
    for batch in dataset.eval_batches("val", settings.eval_windows):
        with autocast():
            losses, _ = objective.task_losses(model, to_tensors(batch, dataset, device), generator)
        parts = {f"loss/{t}": float(v) for t, v in losses.items()}
        parts.update({f"recon/{m}": v for m, v in objective.modality_losses.items()})
        for key, value in parts.items():
            sums.setdefault(key, []).append(value)
    return {k: sum(v) / len(v) for k, v in sums.items()}


def _window_starts(segments: list[tuple[int, int]], length: int, limit: int) -> np.ndarray:
    starts = [s for a, b in segments if b - a >= length for s in range(a, b - length + 1, length)]
    return np.asarray(starts[:limit], dtype=np.int64)


def _weighted(values: list[tuple[float, float]]) -> float | None:
    kept = [(v, n) for v, n in values if math.isfinite(v) and n > 0]
    return sum(v * n for v, n in kept) / sum(n for _, n in kept) if kept else None


@torch.no_grad()
def validation_scores(
    model: FoundationModel, dataset: WindowDataset, device: torch.device, max_windows: int
) -> dict[str, float]:
    """``{"r2/all", "r2/<modality>", "co_bps"}`` on at most ``max_windows`` validation windows.

    R^2 is behaviour decoding (sessions without behaviour add nothing), weighted by bins across
    sessions; ``co_bps`` is NLB's bits per spike of the held-out units predicted from every input,
    weighted by their spikes. A key is absent when no session can give it. The model is put back
    in the mode (train or eval) it was in.
    """
    was_training = model.training
    model.eval()
    length, size = dataset.config.seq_len, dataset.config.batch_size
    per_session = max(1, max_windows // len(dataset.items))
    decoded: dict[str, list[tuple[float, float]]] = {}
    co_bps: list[tuple[float, float]] = []
    try:
        for session, item in enumerate(dataset.items):
            starts = _window_starts(item.segments["val"], length, per_session)
            if not len(starts):
                continue
            heldout = dataset.heldout_units(session)
            names = list(item.arrays)
            for name, modalities in {"all": names, **{m: [m] for m in names}}.items():
                want_rates = name == "all" and len(heldout) > 0 and "spikes" in names
                truth, predicted, rates, spikes = [], [], [], []
                for chunk in np.array_split(starts, math.ceil(len(starts) / size)):
                    batch = dataset.window(session, chunk, length, None, modalities)
                    inputs = {m: torch.as_tensor(a, device=device) for m, a in batch.inputs.items()}
                    out = model(inputs, session, reconstruct=["spikes"] if want_rates else [])
                    if out.behaviour is not None and batch.behaviour is not None:
                        width = batch.behaviour.shape[-1]
                        predicted.append(out.behaviour.float().cpu().numpy().reshape(-1, width))
                        truth.append(batch.behaviour.reshape(-1, width))
                    if want_rates:
                        log_rates = out.reconstruction["spikes"].float().clamp(max=15)
                        rates.append(
                            torch.exp(log_rates).cpu().numpy()[..., heldout].reshape(-1, len(heldout))
                        )
                        spikes.append(batch.targets["spikes"][..., heldout].reshape(-1, len(heldout)))
                if truth:
                    score = r2_score(np.concatenate(truth), np.concatenate(predicted))
                    decoded.setdefault(name, []).append((score, float(sum(len(t) for t in truth))))
                if rates:
                    observed = np.concatenate(spikes)
                    co_bps.append((bits_per_spike(np.concatenate(rates), observed), float(observed.sum())))
    finally:
        model.train(was_training)
    scores = {f"r2/{name}": _weighted(values) for name, values in decoded.items()}
    scores["co_bps"] = _weighted(co_bps)
    return {k: float(v) for k, v in scores.items() if v is not None}
