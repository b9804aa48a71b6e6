"""Binned spike counts -> tokens: log1p of counts, per-session read-in, shared MLP."""

from __future__ import annotations

import torch
from torch import nn

from engines.training.model.tokenizers.base import SessionLinear, Tokenizer

__all__ = ["SpikeTokenizer"]


class SpikeTokenizer(Tokenizer):
    modality = "spikes"

    def __init__(self, sizes: dict[int, int], d_model: int, bin_s: dict[int, float]) -> None:
        super().__init__(sizes, d_model, bin_s)
        self.readin = SessionLinear(sizes, d_model)
        self.mlp = nn.Sequential(nn.GELU(), nn.Linear(d_model, d_model))

    def forward(self, x: torch.Tensor, session: int) -> torch.Tensor:
        return self.mlp(self.readin(torch.log1p(x.clamp(min=0)), session))
