"""Perceiver-IO style encoder: at every time bin, a fixed set of learned latents cross-attends to the tokens
of whatever modalities are present, then attends to itself; population aggregation pools the latents into
one vector per bin for the Mamba backbone.

Because the latents are queries and the modalities only keys and values, any subset of
modalities (one to all five) yields the same output shape, and adding a modality adds keys,
not parameters downstream. Cost per bin: latents x modalities x d_model for the cross
attention and latents^2 x d_model for the self attention.
"""

from __future__ import annotations

import torch
from torch import nn

from engines.training.model.attention import ShortAttention

__all__ = ["LatentEncoder"]


class LatentEncoder(nn.Module):
    """(batch, L, n_modalities, d_model) tokens -> (batch, L, d_model), plus the latents themselves."""

    def __init__(self, d_model: int, n_latents: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.latents = nn.Parameter(torch.randn(n_latents, d_model) * 0.02)
        self.norm_tokens, self.norm_latents = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.cross = ShortAttention(d_model, n_heads, dropout)
        self.cross_mlp = nn.Sequential(
            nn.LayerNorm(d_model), nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model)
        )
        self.norm_self = nn.LayerNorm(d_model)
        self.self_attn = ShortAttention(d_model, n_heads, dropout)
        self.pool_query = nn.Parameter(torch.randn(d_model) * 0.02)
        self.pool_norm = nn.LayerNorm(d_model)

    def forward(self, tokens: torch.Tensor, return_latents: bool = False):
        b, length, n_tokens, d = tokens.shape
        kv = self.norm_tokens(tokens.reshape(b * length, n_tokens, d))
        latents = self.latents.expand(b * length, -1, -1)
        query = self.norm_latents(latents)
        latents = latents + self.cross(query, kv)
        latents = latents + self.cross_mlp(latents)
        normed = self.norm_self(latents)
        latents = latents + self.self_attn(normed, normed)
        # population aggregation: attention pooling of the latents with one learned query
        weights = torch.softmax(self.pool_norm(latents) @ self.pool_query / d**0.5, dim=-1)
        pooled = (weights.unsqueeze(-1) * latents).sum(dim=1).reshape(b, length, d)
        if return_latents:
            return pooled, latents.reshape(b, length, -1, d)
        return pooled
