"""The optimiser and its learning-rate schedule, kept apart from the loop that steps them.

Which parameters get weight decay and how the learning rate moves over a run are decisions about
the optimisation, not about running steps; benchmarks and tests build them without a ``Trainer``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from engines.training.config import TrainingConfig

__all__ = ["warmup_cosine", "build_optimizer"]


def warmup_cosine(warmup: int, total: int, min_ratio: float) -> Callable[[int], float]:
    """LR multiplier: linear warmup to 1 over ``warmup`` steps, then cosine down to ``min_ratio`` at
    ``total``."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def build_optimizer(modules: list[torch.nn.Module], config: TrainingConfig) -> torch.optim.AdamW:
    """AdamW; biases, norms, embeddings, A_log, D and task log-variances get no weight decay."""
    decay: list[torch.nn.Parameter] = []
    plain: list[torch.nn.Parameter] = []
    for module in modules:
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            no_decay = (
                p.ndim < 2
                or getattr(p, "_no_weight_decay", False)
                or "embedding" in name
                or "log_vars" in name
            )
            (plain if no_decay else decay).append(p)
    o = config.optim
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": o.weight_decay}, {"params": plain, "weight_decay": 0.0}],
        lr=o.lr,
        betas=o.betas,
    )
