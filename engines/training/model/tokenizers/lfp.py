"""LFP (downsampled onto the bin grid) -> tokens: per-session channel mixing, then a depthwise temporal
convolution that can pick up oscillations spanning several bins."""

from __future__ import annotations

import torch
from torch import nn

from engines.training.model.tokenizers.base import SessionLinear, Tokenizer

__all__ = ["LfpTokenizer"]


class LfpTokenizer(Tokenizer):
    modality = "lfp"

    def __init__(self, sizes: dict[int, int], d_model: int, bin_s: dict[int, float], kernel: int = 5) -> None:
        super().__init__(sizes, d_model, bin_s)
        self.readin = SessionLinear(sizes, d_model)
        self.conv = nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2, groups=d_model)
        self.out = nn.Sequential(nn.GELU(), nn.Linear(d_model, d_model))

    def forward(self, x: torch.Tensor, session: int) -> torch.Tensor:
        h = self.readin(x, session)
        return self.out(h + self._temporal(h, self.conv))
