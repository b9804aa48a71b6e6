"""Training objectives: masked reconstruction, behaviour decoding, tri-modal InfoNCE, domain-adversarial
species loss, and the uncertainty weighting that combines whichever of them a batch has."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "poisson_nll",
    "reconstruction_loss",
    "info_nce",
    "tri_modal_info_nce",
    "domain_adversarial_loss",
    "UncertaintyWeighting",
]


def poisson_nll(log_rate: torch.Tensor, counts: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean Poisson negative log-likelihood (without the log k! constant) over entries where ``weight`` >
    0."""
    nll = torch.exp(log_rate) - counts * log_rate
    return (nll * weight).sum() / weight.sum().clamp(min=1)


def reconstruction_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    spikes: bool,
    heldout: torch.Tensor | None = None,
) -> torch.Tensor:
    """Loss on hidden entries: masked bins (b, L) for every feature, and every bin of held-out units.

    Spikes use the Poisson likelihood of log-rates; other signals the squared error. With no
    masked bin and no held-out unit, every bin counts (plain auto-encoding).
    """
    weight = mask.unsqueeze(-1).expand_as(target).to(target.dtype)
    if heldout is not None and heldout.numel():
        weight = weight.clone()
        weight[..., heldout] = 1.0
    if weight.sum() == 0:
        weight = torch.ones_like(target)
    if spikes:
        return poisson_nll(prediction.clamp(max=15), target, weight)
    return ((prediction - target).square() * weight).sum() / weight.sum()


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE between rows of ``a`` and ``b`` (N, e): row i of each is the other's positive."""
    logits = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature
    target = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def _against_stimuli(
    x: torch.Tensor, ids: torch.Tensor, table: torch.Tensor, temperature: float
) -> torch.Tensor | None:
    """InfoNCE of each row against the distinct stimuli of the batch (no false negatives from repeats)."""
    classes, target = torch.unique(ids, return_inverse=True)
    if len(classes) < 2:
        return None
    logits = F.normalize(x, dim=-1) @ F.normalize(table[classes], dim=-1).T / temperature
    return F.cross_entropy(logits, target)


def tri_modal_info_nce(
    neural: torch.Tensor,
    behaviour: torch.Tensor | None,
    stimulus: torch.Tensor | None,
    stimulus_table: torch.Tensor,
    temperature: float = 0.1,
    max_samples: int = 512,
    generator: torch.Generator | None = None,
) -> torch.Tensor | None:
    """Mean of the neural-behaviour, neural-stimulus and behaviour-stimulus InfoNCE terms that the batch
    allows.

    Inputs are (b, L, e) embeddings and (b, L) stimulus ids (-1: none); at most ``max_samples``
    bins are drawn (with ``generator``) so the similarity matrix stays small. None when no pair exists.
    """
    flat = neural.reshape(-1, neural.shape[-1])
    pick = torch.randperm(len(flat), generator=generator)[:max_samples].to(flat.device)
    n = flat[pick]
    b = behaviour.reshape(-1, behaviour.shape[-1])[pick] if behaviour is not None else None
    terms = []
    if b is not None:
        terms.append(info_nce(n, b, temperature))
    if stimulus is not None:
        ids = stimulus.reshape(-1)[pick]
        valid = ids >= 0
        for x in [n] + ([b] if b is not None else []):
            term = (
                _against_stimuli(x[valid], ids[valid], stimulus_table, temperature) if valid.any() else None
            )
            if term is not None:
                terms.append(term)
    return torch.stack(terms).mean() if terms else None


def domain_adversarial_loss(logits: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the species classifier; the gradient reversal in front of it makes the encoder
    maximise it, pushing states towards species invariance."""
    return F.cross_entropy(logits, species)


class UncertaintyWeighting(nn.Module):
    """Kendall, Gal & Cipolla (2018): total = sum_i exp(-s_i) L_i + s_i over the tasks present.

    ``s_i`` (log-variances) are parameters the optimizer trains. A task missing from a batch
    contributes nothing and its ``s_i`` gets no gradient, and because each term involves only
    its own ``s_i`` the other tasks' weights do not move because of it.
    """

    def __init__(self, tasks: list[str]) -> None:
        super().__init__()
        self.log_vars = nn.ParameterDict({t: nn.Parameter(torch.zeros(())) for t in tasks})

    def forward(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        unknown = [t for t in losses if t not in self.log_vars]
        if unknown:
            raise KeyError(
                f"no uncertainty weight for task {unknown[0]!r}; known: {', '.join(self.log_vars)}"
            )
        if not losses:
            raise ValueError("no task losses to combine")
        return sum(torch.exp(-self.log_vars[t]) * loss + self.log_vars[t] for t, loss in losses.items())

    def weights(self) -> dict[str, float]:
        """Current effective weight exp(-s_i) of each task, for logging."""
        return {t: float(torch.exp(-s.detach())) for t, s in self.log_vars.items()}
