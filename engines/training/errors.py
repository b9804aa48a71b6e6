"""Errors a person can cause while preparing data, configuring, running and evaluating training.

Each subclasses ``NeurodeckError`` and the builtin that fits, and says what to do next.
"""

from __future__ import annotations

from engines.errors import NeurodeckError

__all__ = [
    "TrainingError",
    "ConfigError",
    "DataError",
    "OptionalDependencyMissing",
    "DatasetUnavailable",
    "RunNotFound",
    "RunStateError",
    "CheckpointError",
]


class TrainingError(NeurodeckError):
    """Root of the training engine's errors."""


class ConfigError(TrainingError, ValueError):
    """A training configuration has unknown keys, wrong types or impossible values."""


class DataError(TrainingError, ValueError):
    """Session data is inconsistent (lengths differ, NaNs, nothing to train on)."""


class OptionalDependencyMissing(TrainingError, ImportError):
    """An optional package (ONE, AllenSDK, MNE, nilearn, UMAP, CEBRA, MLflow) is needed but not installed."""


class DatasetUnavailable(TrainingError, OSError):
    """A public dataset could not be reached and is not in the local cache."""


class RunNotFound(TrainingError, FileNotFoundError):
    """No run folder (or checkpoint) by that name."""


class RunStateError(TrainingError, RuntimeError):
    """The run cannot do that now (pause a finished run, start a run that is already running)."""


class CheckpointError(TrainingError, OSError):
    """A checkpoint could not be written or read; the previous one is left intact."""
