"""The training engine: a multimodal neural-data foundation model that trains, resumes, scales out and
explains itself.

Importing this package loads only the light parts the page needs to list and follow runs
(configs, run folders, metrics files, system load); they do not import torch. The heavy parts
live in subpackages that import torch when imported:

- ``engines.training.data``: the session format, converters (NWB, nitime, synthetic, public datasets)
- ``engines.training.model``: tokenizers, latent encoder, Mamba backbone, heads, selective scan
- ``engines.training.losses``: InfoNCE, domain-adversarial, uncertainty weighting
- ``engines.training.trainer``: the training loop, checkpoints, torchrun, the run controller
- ``engines.training.evaluation`` and ``engines.training.interpret``: held-out scores and analyses
- ``engines.training.cli``: ``main_train`` / ``main_evaluate`` for ``run.py train|evaluate``
"""

from engines.training.config import (
    MODALITIES,
    MODEL_SIZES,
    TASKS,
    DataConfig,
    ModelConfig,
    OptimConfig,
    RunSettings,
    TrainingConfig,
    build_config,
    load_config,
    parse_config,
)
from engines.training.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    DatasetUnavailable,
    OptionalDependencyMissing,
    RunNotFound,
    RunStateError,
    TrainingError,
)
from engines.training.runs import (
    CheckpointInfo,
    RunFolder,
    RunInfo,
    RunRegistry,
    RunState,
    current_trajectory,
    read_metrics,
)
from engines.training.system import system_load

__all__ = [
    "MODALITIES",
    "MODEL_SIZES",
    "TASKS",
    "TrainingConfig",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "RunSettings",
    "build_config",
    "load_config",
    "parse_config",
    "RunRegistry",
    "RunFolder",
    "RunInfo",
    "RunState",
    "CheckpointInfo",
    "read_metrics",
    "current_trajectory",
    "system_load",
    "TrainingError",
    "ConfigError",
    "DataError",
    "OptionalDependencyMissing",
    "DatasetUnavailable",
    "RunNotFound",
    "RunStateError",
    "CheckpointError",
]
