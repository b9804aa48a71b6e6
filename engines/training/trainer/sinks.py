"""Where metrics go: the run folder's metrics store (``metrics.sqlite``, see ``metrics_store``: the source
of truth the page follows), mirrored to TensorBoard event files and to MLflow when it is installed and
configured.

TensorBoard's ``SummaryWriter.add_hparams`` writes into a new timestamped sub-run, which shows
up as an extra ("phantom") run next to the real one. Here the hyperparameter summaries are
written into the run's own event file instead, with the metric tags the scalars use, so the
HParams tab links them to this run and no second run appears.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from engines.training.config import MlflowSettings, TrainingConfig
from engines.training.errors import OptionalDependencyMissing
from engines.training.metrics_store import MetricsWriter

__all__ = ["MetricsLog", "TensorBoardMirror", "MlflowMirror", "Mirror", "open_mirrors", "HPARAM_METRICS"]

log = logging.getLogger(__name__)

HPARAM_METRICS = ("train/loss", "val/loss")
"""Scalar tags the HParams view lists beside each run's hyperparameters."""


class MetricsLog:
    """Appends rows to the run's metrics store; each write is one committed row (events are also synced to
    disk), so readers in other processes see whole rows as soon as ``write`` returns.

    Any dict of JSON-able values is a row: a new metric needs no change here or in the store.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = MetricsWriter(path)

    def write(self, row: dict[str, Any], durable: bool = False) -> None:
        self._writer.write(row, durable)

    def close(self) -> None:
        self._writer.close()


class TensorBoardMirror:
    """Scalars (``<split>/<name>``) and hyperparameters into ``<run>/tensorboard``."""

    def __init__(self, folder: Path, hyperparameters: dict[str, Any], purge_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        self.writer = SummaryWriter(log_dir=str(folder), purge_step=purge_step)
        clean = {
            k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hyperparameters.items()
        }
        experiment, session_start, session_end = hparams(clean, {tag: 0.0 for tag in HPARAM_METRICS})
        file_writer = self.writer._get_file_writer()  # the run's own event file: no sub-run, no phantom
        for summary in (experiment, session_start, session_end):
            file_writer.add_summary(summary)

    def scalars(self, step: int, split: str, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(f"{split}/{name}", value, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class MlflowMirror:
    """Params once and metrics per log step to an MLflow tracking server; needs the ``mlflow`` package."""

    def __init__(self, settings: MlflowSettings, run_name: str, hyperparameters: dict[str, Any]) -> None:
        try:
            import mlflow
        except Exception:
            raise OptionalDependencyMissing(
                "logging.mlflow is set but the 'mlflow' package is not installed "
                "(pip install mlflow), or remove logging.mlflow from the config."
            ) from None
        self.mlflow = mlflow
        mlflow.set_tracking_uri(settings.tracking_uri)
        mlflow.set_experiment(settings.experiment)
        self.run = mlflow.start_run(run_name=run_name)
        mlflow.log_params({k: str(v)[:250] for k, v in hyperparameters.items()})

    def scalars(self, step: int, split: str, values: dict[str, float]) -> None:
        self.mlflow.log_metrics({f"{split}/{k}".replace("/", "_"): v for k, v in values.items()}, step=step)

    def flush(self) -> None:
        """MLflow sends each call at once."""

    def close(self) -> None:
        self.mlflow.end_run()


Mirror = TensorBoardMirror | MlflowMirror
"""A copy of the metrics kept elsewhere for viewing; the run's metrics store stays the source of truth."""


def open_mirrors(config: TrainingConfig, folder: Path, run_id: str, step: int) -> list[Mirror]:
    """The mirrors the run's logging config asks for; a resumed run (``step`` > 0) purges TensorBoard
    events past ``step`` so a replayed stretch is not drawn twice. If one fails to open, those
    already open are closed before the error propagates."""
    hyper = config.hyperparameters()
    mirrors: list[Mirror] = []
    try:
        if config.logging.tensorboard:
            mirrors.append(TensorBoardMirror(folder, hyper, purge_step=step if step else None))
        if config.logging.mlflow is not None:
            mirrors.append(MlflowMirror(config.logging.mlflow, run_id, hyper))
    except Exception:
        for mirror in mirrors:
            mirror.close()
        raise
    return mirrors
