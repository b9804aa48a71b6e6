"""Tokens per second measure training: validation passes between two train rows do not count."""

from __future__ import annotations

import statistics

from conftest import new_run, tiny_config

from engines.training.trainer.loop import Trainer


def _median_tokens_per_s(workspace, name: str, eval_every: int) -> float:
    config = tiny_config(
        20,
        name=name,
        sources=[{"kind": "synthetic", "n_bins": 12000, "n_units": 12, "modalities": ["spikes", "lfp"]}],
        training={"log_every": 10, "eval_every": eval_every, "checkpoint_every": 1000, "eval_windows": 512},
    )
    folder, dataset = new_run(workspace, config)
    Trainer(config, folder, dataset).run(raise_errors=True)
    frame = folder.metrics()
    return statistics.median(frame[frame["split"] == "train"]["tokens_per_s"])


def test_validating_every_step_leaves_the_training_throughput_as_it_is(workspace):
    quiet = _median_tokens_per_s(workspace, "quiet", eval_every=1000)  # validates at the end only
    busy = _median_tokens_per_s(workspace, "busy", eval_every=1)  # 512 windows after every step
    assert busy > 0.25 * quiet, (busy, quiet)
