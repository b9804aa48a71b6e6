"""One training run as the training benchmarks time it (shared by ``training.py`` and ``_poyo.py``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from statistics import median

from engines.training.config import TrainingConfig
from engines.training.data import prepare_run_data
from engines.training.data.windows import WindowDataset
from engines.training.runs import RunFolder, RunRegistry
from engines.training.trainer.loop import Trainer

__all__ = ["train_timed"]


def train_timed(
    workspace: Path, config: TrainingConfig, name: str
) -> tuple[RunFolder, WindowDataset, float, float]:
    """Train ``config`` as a new run ``name`` of ``workspace``: (run folder, dataset, wall seconds of
    training, median tokens/s over the logged train rows)."""
    folder = RunRegistry(workspace).new_run(name)
    folder.config_path.write_text(json.dumps(config.to_dict()))
    dataset = WindowDataset(prepare_run_data(folder, config.data), config.data, config.training.seed)
    started = time.perf_counter()
    Trainer(config, folder, dataset).run(raise_errors=True)
    seconds = time.perf_counter() - started
    frame = folder.metrics()
    return folder, dataset, seconds, float(median(frame[frame["split"] == "train"]["tokens_per_s"]))
