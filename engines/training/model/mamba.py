"""Mamba blocks over time, with the parameter names of ``mamba_ssm.Mamba`` (and ``mambapy``'s MambaBlock).

``in_proj``, ``conv1d``, ``x_proj``, ``dt_proj``, ``A_log``, ``D`` and ``out_proj`` have the
same names, shapes and initialisation as in mamba-ssm, so a mixer's state dict loads into
either and the CUDA and CPU paths share weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engines.training.model.scan import ScanKind, selective_scan

__all__ = ["MambaMixer", "MambaBlock", "MambaBackbone"]


class MambaMixer(nn.Module):
    """The selective state-space mixer of Mamba: (batch, L, d_model) -> (batch, L, d_model)."""

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | None = None,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        conv_bias: bool = True,
        bias: bool = False,
        scan: ScanKind = "auto",
    ) -> None:
        super().__init__()
        self.d_model, self.d_state, self.d_conv, self.expand = d_model, d_state, d_conv, expand
        self.d_inner = expand * d_model
        self.dt_rank = dt_rank or math.ceil(d_model / 16)
        self.scan = scan
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(
            self.d_inner,
            self.d_inner,
            kernel_size=d_conv,
            groups=self.d_inner,
            padding=d_conv - 1,
            bias=conv_bias,
        )
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        std = self.dt_rank**-0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.A_log._no_weight_decay = True  # type: ignore[attr-defined]
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.D._no_weight_decay = True  # type: ignore[attr-defined]
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        length = hidden.shape[1]
        xz = self.in_proj(hidden).transpose(1, 2)  # (b, 2 d_inner, L)
        x, z = xz.chunk(2, dim=1)
        x = F.silu(self.conv1d(x)[..., :length])
        x_dbl = self.x_proj(x.transpose(1, 2))  # (b, L, dt_rank + 2 d_state)
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = (dt @ self.dt_proj.weight.T).transpose(1, 2)  # bias is added inside the scan
        A = -torch.exp(self.A_log.float())
        y = selective_scan(
            x,
            dt,
            A,
            B.transpose(1, 2),
            C.transpose(1, 2),
            self.D.float(),
            z=z,
            delta_bias=self.dt_proj.bias.float(),
            delta_softplus=True,
            kind=self.scan,
        )
        return self.out_proj(y.transpose(1, 2))


class MambaBlock(nn.Module):
    """Pre-norm residual block; ``bidirectional`` adds a second mixer reading time backwards."""

    def __init__(
        self,
        d_model: int,
        d_state: int,
        d_conv: int,
        expand: int,
        bidirectional: bool,
        dropout: float,
        scan: ScanKind,
    ) -> None:
        super().__init__()
        self.norm = nn.RMSNorm(d_model)
        self.mixer = MambaMixer(d_model, d_state, d_conv, expand, scan=scan)
        self.mixer_backward = (
            MambaMixer(d_model, d_state, d_conv, expand, scan=scan) if bidirectional else None
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.norm(hidden)
        out = self.mixer(x)
        if self.mixer_backward is not None:
            out = out + self.mixer_backward(x.flip(1)).flip(1)
        return hidden + self.dropout(out)


class MambaBackbone(nn.Module):
    """A stack of Mamba blocks over time, then a final norm: (batch, L, d_model) -> same."""

    def __init__(
        self,
        d_model: int,
        n_blocks: int,
        d_state: int,
        d_conv: int,
        expand: int,
        bidirectional: bool,
        dropout: float,
        scan: ScanKind = "auto",
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            MambaBlock(d_model, d_state, d_conv, expand, bidirectional, dropout, scan)
            for _ in range(n_blocks)
        )
        self.norm = nn.RMSNorm(d_model)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            hidden = block(hidden)
        return self.norm(hidden)
