"""Running under ``torchrun``: process-group setup (gloo on CPU, nccl on GPU), rank-0-only duties,
metric averaging across ranks, and the command broadcast that keeps every rank paused or stopped together."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from engines.training.errors import ConfigError

__all__ = ["DistContext", "init_distributed", "shutdown_distributed", "COMMANDS"]

COMMANDS = (None, "pause", "resume", "stop")
"""Run commands by broadcast code (0 means none)."""


@dataclass
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def mean(self, values: dict[str, float], keys: list[str]) -> dict[str, float]:
        """Average each of ``keys`` over the ranks that have it (a task absent on a rank does not drag it to
        0)."""
        if not self.active:
            return {k: values[k] for k in keys if k in values}
        data = torch.tensor(
            [[values.get(k, 0.0), 1.0 if k in values else 0.0] for k in keys],
            dtype=torch.float64,
            device=self.device,
        )
        dist.all_reduce(data)
        return {k: float(s / n) for k, (s, n) in zip(keys, data.tolist()) if n > 0}

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any rank."""
        if not self.active:
            return flag
        data = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(data, op=dist.ReduceOp.MAX)
        return bool(data.item() > 0)

    def broadcast_command(self, command: str | None) -> str | None:
        """Rank 0's command (None, pause, resume, stop), on every rank."""
        if not self.active:
            return command
        data = torch.tensor([COMMANDS.index(command) if self.is_main else 0], device=self.device)
        dist.broadcast(data, src=0)
        return COMMANDS[int(data.item())]

    def average_scalar_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Average gradients of scalar parameters outside DDP (the task log-variances) over the ranks that
        have one; a parameter no rank
        has a gradient for keeps ``grad=None`` (so the optimizer leaves it alone)."""
        if not self.active or not parameters:
            return
        grads = torch.stack(
            [
                p.grad.reshape(())
                if p.grad is not None and p.grad.numel() == 1
                else torch.zeros((), device=self.device)
                for p in parameters
            ]
        )
        present = torch.tensor(
            [p.grad is not None for p in parameters], dtype=grads.dtype, device=self.device
        )
        packed = torch.stack([grads, present])
        dist.all_reduce(packed)
        for p, total, count in zip(parameters, packed[0], packed[1]):
            p.grad = None if count == 0 else (total / count).reshape(p.shape).to(p.dtype)

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def init_distributed(device: str = "auto") -> DistContext:
    """Join the process group torchrun describes in the environment, or a single-process context.

    ``device``: "cpu", "cuda" or "auto" (CUDA when available). Each rank uses GPU ``LOCAL_RANK``.
    """
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "training.device is 'cuda' but this machine has no CUDA GPU (or torch was built without "
            "CUDA). Use 'auto' or 'cpu'."
        )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    target = torch.device(f"cuda:{local}" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.set_device(target)
    if world <= 1:
        return DistContext(0, 1, 0, target, None)
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistContext(rank, world, local, target, backend)


def shutdown_distributed(context: DistContext) -> None:
    if context.active and dist.is_initialized():
        dist.destroy_process_group()
