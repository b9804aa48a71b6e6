"""The training benchmark's GPU figures, measured only where CUDA is; elsewhere null with the reason.

- ``gpu_scan_ratio``: the PyTorch blocked scan's median time / mamba-ssm's fused CUDA kernel's, forward,
  batch 4, d_inner 1024, d_state 16, L 2048, same inputs on the GPU.
- ``gpu_train_tokens_per_s``: training throughput (bins x modalities per second) of a d_model 512 x 8-block
  model with AMP on the GPU, batch 32 x 256 bins.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from statistics import median

import torch

from engines.training.config import build_config
from engines.training.data import prepare_run_data
from engines.training.data.windows import WindowDataset
from engines.training.model.scan import cuda_kernel_available, selective_scan
from engines.training.runs import RunRegistry
from engines.training.trainer.loop import Trainer

__all__ = ["gpu_figures"]

_SOURCE = {"kind": "synthetic", "n_bins": 60000, "n_sessions": 1, "seed": 7}


def _cuda_time(call, reps: int = 10) -> float:
    call()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        call()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return median(times)


def _scan_ratio() -> float:
    generator = torch.Generator(device="cuda").manual_seed(0)
    batch, d_inner, d_state, length = 4, 1024, 16, 2048

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, device="cuda", generator=generator)

    u, delta = randn(batch, d_inner, length), randn(batch, d_inner, length)
    A = -torch.exp(randn(d_inner, d_state) * 0.5)
    B, C, D = randn(batch, d_state, length), randn(batch, d_state, length), randn(d_inner)
    with torch.no_grad():
        ours = _cuda_time(lambda: selective_scan(u, delta, A, B, C, D, delta_softplus=True, kind="blocked"))
        kernel = _cuda_time(lambda: selective_scan(u, delta, A, B, C, D, delta_softplus=True, kind="auto"))
    print(f"GPU scan L={length}: PyTorch blocked {ours * 1e3:.2f} ms, mamba-ssm kernel {kernel * 1e3:.2f} ms")
    return round(ours / kernel, 2)


def _train_tokens_per_s() -> float:
    config = build_config(
        [_SOURCE],
        model_size="tiny",
        steps=60,
        model={"d_model": 512, "n_blocks": 8, "n_heads": 8, "n_latents": 16, "d_state": 16, "embed_dim": 64},
        data={"seq_len": 256, "batch_size": 32},
        training={"device": "cuda", "amp": True, "log_every": 10, "eval_every": 60, "checkpoint_every": 60},
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = RunRegistry(Path(tmp)).new_run("gpu-benchmark")
        folder.config_path.write_text(json.dumps(config.to_dict()))
        dataset = WindowDataset(prepare_run_data(folder, config.data), config.data, config.training.seed)
        Trainer(config, folder, dataset).run(raise_errors=True)
        frame = folder.metrics()
        rates = frame[frame["split"] == "train"]["tokens_per_s"].tolist()[1:]  # the first includes warm-up
    return round(float(median(rates)))


def gpu_figures() -> dict[str, object]:
    """The GPU keys for the benchmark's JSON; each is null where not measured, ``gpu_note`` says why."""
    if not torch.cuda.is_available():
        return {"gpu_scan_ratio": None, "gpu_train_tokens_per_s": None, "gpu_note": "skipped: no CUDA device"}
    notes = [torch.cuda.get_device_name(0)]
    ratio = None
    if cuda_kernel_available():
        ratio = _scan_ratio()
    else:
        notes.append("gpu_scan_ratio skipped: mamba-ssm is not installed with its CUDA kernels")
    return {
        "gpu_scan_ratio": ratio,
        "gpu_train_tokens_per_s": _train_tokens_per_s(),
        "gpu_note": "; ".join(notes),
    }
