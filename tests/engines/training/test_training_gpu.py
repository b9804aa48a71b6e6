"""GPU readiness, checked where a GPU is: mixed-precision training and a two-GPU torchrun run (the fused
mamba-ssm kernel's own check is ``test_mamba_ssm_kernel_matches_the_pytorch_scan_on_gpu`` in
test_training_scan). CI and this project's machines have no GPU: each test then skips and says why."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import new_run, tiny_config

from engines.training.runs import RunState
from engines.training.trainer.control import RunController
from engines.training.trainer.loop import Trainer

GPUS = torch.cuda.device_count() if torch.cuda.is_available() else 0
needs_cuda = pytest.mark.skipif(GPUS == 0, reason="needs a CUDA GPU; this machine has none")
needs_two_gpus = pytest.mark.skipif(GPUS < 2, reason=f"needs two CUDA GPUs; this machine has {GPUS}")


def _validation_losses(folder) -> list[float]:
    frame = folder.metrics()
    return [float(v) for v in frame[frame["split"] == "val"]["loss"]]


@needs_cuda
def test_mixed_precision_training_on_the_gpu_learns_as_full_precision_does(workspace):
    finals = {}
    for amp in (True, False):
        config = tiny_config(
            60,
            name=f"amp-{amp}",
            optim={"lr": 3e-3, "warmup_steps": 5},
            training={"device": "cuda", "amp": amp, "eval_every": 20, "checkpoint_every": 60},
        )
        folder, dataset = new_run(workspace, config)
        trainer = Trainer(config, folder, dataset)
        assert trainer.amp is amp and next(trainer.model.parameters()).is_cuda
        assert trainer.run(raise_errors=True)["state"] == "completed"
        losses = _validation_losses(folder)
        assert len(losses) == 3 and all(math.isfinite(v) for v in losses), losses
        assert losses[-1] < losses[0], f"amp={amp}: validation loss did not fall: {losses}"
        finals[amp] = losses[-1]
    # Half precision changes rounding, not what is learnt: the two runs end close together.
    assert abs(finals[True] - finals[False]) <= 0.15 * abs(finals[False]) + 0.05, finals


@needs_two_gpus
def test_a_two_gpu_torchrun_run_trains_on_the_gpus_and_logs_once(workspace, policy):
    controller = RunController(workspace, policy)
    config = tiny_config(
        8, training={"device": "cuda", "eval_every": 4, "checkpoint_every": 4, "log_every": 2}
    )
    run_id = controller.start(config, nproc=2)
    folder = controller.registry.get(run_id)
    assert controller.wait(run_id, timeout=300) == RunState.COMPLETED, (
        folder.path / "torchrun.log"
    ).read_text()[-2000:]
    status = folder.status()
    assert status["mode"] == "torchrun" and status["world_size"] == 2 and status["device"] == "cuda:0"
    rows, _ = controller.read_metrics(run_id)
    assert [r["step"] for r in rows if r.get("split") == "train"] == [2, 4, 6, 8]  # rank 0 logs, once
    assert [c.step for c in folder.checkpoints()] == [4, 8]
