"""Calcium (dF/F) -> tokens: per-session read-in, then a short learned temporal filter applied to the
trace and its first difference, which undoes part of the indicator's slow decay (a learned deconvolution)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engines.training.model.tokenizers.base import SessionLinear, Tokenizer

__all__ = ["CalciumTokenizer"]


class CalciumTokenizer(Tokenizer):
    modality = "calcium"

    def __init__(self, sizes: dict[int, int], d_model: int, bin_s: dict[int, float], kernel: int = 3) -> None:
        super().__init__(sizes, d_model, bin_s)
        self.readin = SessionLinear(sizes, d_model)
        self.deconv = nn.Conv1d(2 * d_model, d_model, kernel, padding=kernel // 2, groups=d_model)
        self.out = nn.Sequential(nn.GELU(), nn.Linear(d_model, d_model))

    def forward(self, x: torch.Tensor, session: int) -> torch.Tensor:
        h = self.readin(x, session)
        rise = F.pad(h[:, 1:] - h[:, :-1], (0, 0, 1, 0))
        both = torch.stack([h, rise], dim=-1).flatten(-2)  # (b, L, 2 d): channel pairs per group
        return self.out(h + self._temporal(both, self.deconv))
