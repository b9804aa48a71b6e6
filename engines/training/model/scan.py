"""The selective scan the Mamba mixer calls, with ``mamba_ssm``'s ``selective_scan_fn`` signature and layout.

On CUDA tensors, when ``mamba_ssm`` imports, its fused kernel runs (softplus, D skip and the
``silu(z)`` gate fused in). Everywhere else the blocked PyTorch scan of ``_scan_cpu`` runs,
with those extras done by autograd-tracked tensor ops. ``mamba_ssm`` is imported only when
CUDA is present, and any error while importing it (it imports triton and compiled extensions
unconditionally) means "not available".
"""

from __future__ import annotations

import functools
from typing import Literal

import torch
import torch.nn.functional as F

from engines.training.model._scan_cpu import blocked_scan
from engines.training.model._scan_reference import selective_scan_ref

__all__ = ["selective_scan", "cuda_kernel_available", "ScanKind"]

ScanKind = Literal["auto", "blocked", "reference"]


@functools.lru_cache(maxsize=1)
def _mamba_ssm_scan():
    if not torch.cuda.is_available():
        return None
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except Exception:  # ImportError, triton or CUDA extension failures: all mean "not available"
        return None
    return selective_scan_fn


def cuda_kernel_available() -> bool:
    """True when mamba-ssm's CUDA selective-scan kernel can be used on this machine."""
    return _mamba_ssm_scan() is not None


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    kind: ScanKind = "auto",
) -> torch.Tensor:
    """y (batch, d_inner, L) for u, delta, z (batch, d_inner, L), A (d_inner, d_state), B, C (batch, d_state,
    L).

    ``kind="auto"`` picks mamba-ssm's kernel for CUDA tensors when it imports, else the blocked
    scan; ``"reference"`` is the slow sequential ground truth.
    """
    if kind == "reference":
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    kernel = _mamba_ssm_scan() if kind == "auto" and u.is_cuda else None
    if kernel is not None:
        return kernel(u, delta, A, B, C, D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus)
    dtype_in = u.dtype
    u32, delta32 = u.float(), delta.float()
    if delta_bias is not None:
        delta32 = delta32 + delta_bias.float()[:, None]
    if delta_softplus:
        delta32 = F.softplus(delta32)
    y = blocked_scan(
        u32.permute(2, 0, 1),
        delta32.permute(2, 0, 1),
        A.float(),
        B.float().permute(2, 0, 1),
        C.float().permute(2, 0, 1),
    ).permute(1, 2, 0)
    if D is not None:
        y = y + u32 * D.float()[:, None]
    if z is not None:
        y = y * F.silu(z.float())
    return y.to(dtype_in)
