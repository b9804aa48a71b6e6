"""The selective scan: blocked PyTorch scan vs the sequential reference, weights shared with mambapy and
mamba-ssm, and the CUDA kernel path on a GPU."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from engines.training.model._scan_cpu import blocked_scan
from engines.training.model._scan_reference import selective_scan_ref
from engines.training.model.mamba import MambaMixer
from engines.training.model.scan import cuda_kernel_available, selective_scan

RTOL, ATOL = 6e-4, 2e-3


def _inputs(batch: int, d_inner: int, d_state: int, length: int, seed: int = 0, device: str = "cpu"):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, d_inner, length, generator=g)
    delta = torch.randn(batch, d_inner, length, generator=g) - 1.0
    A = -torch.exp(torch.randn(d_inner, d_state, generator=g) * 0.5)
    B = torch.randn(batch, d_state, length, generator=g)
    C = torch.randn(batch, d_state, length, generator=g)
    D = torch.randn(d_inner, generator=g)
    z = torch.randn(batch, d_inner, length, generator=g)
    bias = torch.randn(d_inner, generator=g) * 0.1
    return [t.to(device).requires_grad_() for t in (u, delta, A, B, C, D, z, bias)]


@pytest.mark.parametrize("length", [1, 7, 37, 130])
def test_blocked_scan_matches_the_sequential_reference_forward_and_backward(length):
    u, delta, A, B, C, D, z, bias = inputs = _inputs(2, 12, 5, length)
    expected = selective_scan_ref(u, delta, A, B, C, D, z, bias, delta_softplus=True)
    got = selective_scan(u, delta, A, B, C, D, z, bias, delta_softplus=True, kind="auto")
    torch.testing.assert_close(got, expected, rtol=RTOL, atol=ATOL)
    weights = torch.randn_like(expected)
    expected_grads = torch.autograd.grad((expected * weights).sum(), inputs)
    got_grads = torch.autograd.grad((got * weights).sum(), inputs)
    for name, g, e in zip(("u", "delta", "A", "B", "C", "D", "z", "delta_bias"), got_grads, expected_grads):
        torch.testing.assert_close(g, e, rtol=RTOL, atol=ATOL, msg=lambda m, name=name: f"grad {name}: {m}")


@pytest.mark.parametrize("block", [1, 3, 16, 64])
def test_block_size_does_not_change_the_result(block):
    u, delta, A, B, C, *_ = _inputs(1, 8, 4, 45, seed=3)
    time_major = [t.detach().permute(2, 0, 1) for t in (u, F.softplus(delta), B, C)]
    reference = blocked_scan(time_major[0], time_major[1], A.detach(), time_major[2], time_major[3], block=45)
    got = blocked_scan(time_major[0], time_major[1], A.detach(), time_major[2], time_major[3], block=block)
    torch.testing.assert_close(got, reference, rtol=1e-5, atol=1e-5)


def test_mixer_has_mamba_parameter_names_and_matches_mambapy_with_its_weights():
    mambapy = pytest.importorskip("mambapy.mamba")
    torch.manual_seed(0)
    theirs = mambapy.MambaBlock(
        mambapy.MambaConfig(d_model=16, n_layers=1, d_state=8, expand_factor=2, d_conv=4)
    )
    ours = MambaMixer(16, d_state=8, d_conv=4, expand=2)
    assert set(ours.state_dict()) == {
        "in_proj.weight",
        "conv1d.weight",
        "conv1d.bias",
        "x_proj.weight",
        "dt_proj.weight",
        "dt_proj.bias",
        "A_log",
        "D",
        "out_proj.weight",
    }
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 29, 16)
    torch.testing.assert_close(ours(x), theirs(x), rtol=RTOL, atol=ATOL)


def test_importing_the_model_on_a_cpu_machine_does_not_import_mamba_ssm():
    code = (
        "import sys, torch; import engines.training.model as m; m.cuda_kernel_available(); "
        "print('mamba_ssm' in sys.modules, 'triton' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    if not torch.cuda.is_available():
        assert out.stdout.split() == ["False", "False"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_mamba_ssm_kernel_matches_the_pytorch_scan_on_gpu():
    if not cuda_kernel_available():
        pytest.skip("mamba-ssm is not installed with its CUDA kernels")
    inputs = _inputs(2, 64, 16, 257, device="cuda")
    kernel = selective_scan(*inputs[:7], inputs[7], delta_softplus=True, kind="auto")
    ours = selective_scan(*inputs[:7], inputs[7], delta_softplus=True, kind="blocked")
    torch.testing.assert_close(kernel, ours, rtol=RTOL, atol=ATOL)
    weights = torch.randn_like(kernel)
    for g, e in zip(
        torch.autograd.grad((kernel * weights).sum(), inputs),
        torch.autograd.grad((ours * weights).sum(), inputs),
    ):
        torch.testing.assert_close(g, e, rtol=RTOL, atol=ATOL)
