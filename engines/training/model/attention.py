"""Multi-head attention for many short sequences (latents attending to a handful of modality tokens).

``nn.MultiheadAttention`` dispatches to a fused kernel that, on CPUs, pays a fixed cost per
(sequence, head); with one sequence per time bin (tens of thousands per batch) that dominates
the step. Plain batched matmuls over (sequences x heads) are several times faster here.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ShortAttention"]


class ShortAttention(nn.Module):
    """``forward(query (N, Q, d), context (N, C, d)) -> (N, Q, d)``, softmax(q k^T / sqrt(d_head)) v per
    head."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.kv_proj = nn.Linear(d_model, 2 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        n, length, _ = x.shape
        return x.reshape(n, length, self.n_heads, self.d_head).transpose(1, 2)  # (N, h, len, d_head)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        n, length, d = query.shape
        q = self._heads(self.q_proj(query)) * self.d_head**-0.5
        k, v = (self._heads(t) for t in self.kv_proj(context).chunk(2, dim=-1))
        weights = self.dropout(torch.softmax(q @ k.transpose(-1, -2), dim=-1))
        return self.out_proj((weights @ v).transpose(1, 2).reshape(n, length, d))
