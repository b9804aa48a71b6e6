"""Heads on the backbone's per-bin states: behaviour decoding, masked reconstruction, contrastive
embeddings, and the species classifier behind a gradient reversal layer."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

__all__ = [
    "GradientReversal",
    "grad_reverse",
    "BehaviourHead",
    "ReconstructionHead",
    "ContrastiveHeads",
    "SpeciesClassifier",
]


class GradientReversal(torch.autograd.Function):
    """Identity forward; multiplies the gradient by ``-scale`` backward (Ganin & Lempitsky, 2015)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


def grad_reverse(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    return GradientReversal.apply(x, scale)


class BehaviourHead(nn.Module):
    """Per-session linear read-out of the behaviour variables (their meaning differs by session)."""

    def __init__(self, d_model: int, dims: dict[int, int]) -> None:
        super().__init__()
        self.readout = nn.ModuleDict({str(s): nn.Linear(d_model, d) for s, d in dims.items() if d > 0})

    def has(self, session: int) -> bool:
        return str(session) in self.readout

    def forward(self, h: torch.Tensor, session: int) -> torch.Tensor:
        return self.readout[str(session)](h)


class ReconstructionHead(nn.Module):
    """Per (modality, session) read-out of every feature: spike log-rates (all units, held-out ones too)
    or normalised signal values, predicted at masked bins from context."""

    def __init__(self, d_model: int, outputs: dict[str, dict[int, int]]) -> None:
        super().__init__()
        self.heads = nn.ModuleDict(
            {
                m: nn.ModuleDict(
                    {
                        str(s): nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, n))
                        for s, n in sizes.items()
                    }
                )
                for m, sizes in outputs.items()
            }
        )

    def forward(self, h: torch.Tensor, session: int, modalities: list[str]) -> dict[str, torch.Tensor]:
        outputs: dict[str, torch.Tensor] = {}
        for m in modalities:
            if m not in self.heads:
                continue
            # torch types ModuleDict items as Module; these are the per-session ModuleDicts built above.
            per_session = cast(nn.ModuleDict, self.heads[m])
            if str(session) in per_session:
                outputs[m] = per_session[str(session)](h)
        return outputs


class ContrastiveHeads(nn.Module):
    """Embeddings for tri-modal InfoNCE: neural (from h), behaviour (per-session encoder), stimulus
    (lookup)."""

    def __init__(self, d_model: int, embed_dim: int, behaviour_dims: dict[int, int], n_stimuli: int) -> None:
        super().__init__()
        self.neural = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, embed_dim))
        self.behaviour = nn.ModuleDict(
            {
                str(s): nn.Sequential(nn.Linear(d, d_model), nn.GELU(), nn.Linear(d_model, embed_dim))
                for s, d in behaviour_dims.items()
                if d > 0
            }
        )
        self.stimulus = nn.Embedding(max(n_stimuli, 1), embed_dim)

    def embed_behaviour(self, behaviour: torch.Tensor, session: int) -> torch.Tensor | None:
        encoder = self.behaviour[str(session)] if str(session) in self.behaviour else None
        return encoder(behaviour) if encoder is not None else None


class SpeciesClassifier(nn.Module):
    """Predicts the species from the time-averaged state; trained through gradient reversal so the
    encoder learns species-invariant states (domain-adversarial training)."""

    def __init__(self, d_model: int, n_species: int, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.net = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.Linear(d_model, n_species))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(grad_reverse(h.mean(dim=1), self.scale))
