"""What every tokenizer shares: per-session read-in layers and the (batch, L, features) -> (batch, L, d_model)
contract.

Sessions differ in how many units, channels or ROIs they record, so each tokenizer owns one
small read-in per session (as multi-session models such as NDT2 and LFADS do) followed by
layers shared across sessions.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SessionLinear", "Tokenizer"]


class SessionLinear(nn.Module):
    """One ``nn.Linear(n_features[s], out)`` per session ``s`` that has the modality."""

    def __init__(self, sizes: dict[int, int], out_features: int) -> None:
        super().__init__()
        self.layers = nn.ModuleDict({str(s): nn.Linear(n, out_features) for s, n in sizes.items()})

    def has(self, session: int) -> bool:
        return str(session) in self.layers

    def forward(self, x: torch.Tensor, session: int) -> torch.Tensor:
        return self.layers[str(session)](x)


class Tokenizer(nn.Module):
    """Base of the modality tokenizers: ``forward(x (b, L, F_session), session) -> (b, L, d_model)``.

    ``sizes`` maps session index to its feature count; ``bin_s`` maps session index to its
    bin width (tokenizers with frequency-specific filters need it).
    """

    modality = ""
    readin: SessionLinear
    """Every tokenizer reads its features in per session; ``readin.has(s)`` says whether it can take ``s``."""

    def __init__(self, sizes: dict[int, int], d_model: int, bin_s: dict[int, float]) -> None:
        super().__init__()
        self.d_model = d_model
        self.sizes = dict(sizes)
        self.bin_s = dict(bin_s)

    @staticmethod
    def _temporal(x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
        """Apply a Conv1d stack over time to (b, L, C) and return (b, L, C')."""
        return conv(x.transpose(1, 2)).transpose(1, 2)
