"""The training loop: one ``Trainer`` per run, the same for a server thread, the CLI and torchrun ranks.

Per step: control point (pause/resume/stop from ``control.json``, cancellation), the step's
batch (a pure function of seed and step), forward under autocast on GPU, uncertainty-weighted
loss, non-finite guard (skip, count, fail past ``max_nonfinite``), scaled backward, clipping,
AdamW, warmup + cosine schedule. Every ``log_every`` steps metrics (losses per task and modality,
tokens/s over the train steps alone) are averaged over ranks and rank 0 appends them to
``metrics.jsonl`` (mirrored to TensorBoard/MLflow); every ``eval_every`` steps a validation pass
drives early stopping, every ``score_every`` a light evaluation (``validation.py``) joins it; every
``checkpoint_every`` steps (and on pause, stop and the end) rank 0 writes a checkpoint.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import psutil
import torch
from torch.nn.parallel import DistributedDataParallel

from engines._progress import Progress
from engines.training.config import TrainingConfig
from engines.training.data.windows import WindowDataset
from engines.training.errors import CheckpointError, TrainingError
from engines.training.model.foundation import FoundationModel
from engines.training.runs import RunFolder, RunState
from engines.training.trainer.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from engines.training.trainer.commands import CommandReader
from engines.training.trainer.distributed import DistContext, init_distributed
from engines.training.trainer.objective import Objective, to_tensors
from engines.training.trainer.optim import build_optimizer, warmup_cosine
from engines.training.trainer.sinks import MetricsLog, Mirror, open_mirrors
from engines.training.trainer.validation import loss_keys, validation_losses, validation_scores

__all__ = ["Trainer"]


class _Stop(Exception):
    def __init__(self, state: RunState, message: str) -> None:
        super().__init__(message)
        self.state, self.message = state, message


class Trainer:
    """Trains one run in its folder. ``run()`` returns the final status dict; errors end as a failed status
    (and are re-raised for headless callers when ``raise_errors``)."""

    def __init__(
        self,
        config: TrainingConfig,
        folder: RunFolder,
        dataset: WindowDataset,
        *,
        resume_from: Path | None = None,
        mode: str = "thread",
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
        dist: DistContext | None = None,
    ) -> None:
        self.config, self.folder, self.dataset = config, folder, dataset
        self.settings = config.training
        self._dist = dist  # set in run() when None, so a bad device ends as a failed run, not an exception
        self.main = dist.is_main if dist is not None else True
        self.mode, self.resume_from = mode, resume_from
        self.report = progress or (lambda fraction, message: None)
        self.cancelled = cancelled or (lambda: False)
        launched = os.environ.get("NEURODECK_RUN_LAUNCHED") or folder.status().get("launched") or time.time()
        self.commands = CommandReader(folder, float(launched))
        self.step, self.nonfinite, self.best_val, self.bad_evals = 0, 0, math.inf, 0
        self.last_train_loss: float | None = None
        self.sinks: list[Mirror] = []
        self.log: MetricsLog | None = None
        self._last_beat = 0.0

    @property
    def dist(self) -> DistContext:
        """This rank's distributed context; ``run()`` sets it up before any step uses it."""
        if self._dist is None:
            raise TrainingError("The trainer's distributed context was used before run() set it up.")
        return self._dist

    # ---------------------------------------------------------------- setup
    def _build(self) -> None:
        if self.settings.num_threads:
            torch.set_num_threads(self.settings.num_threads)
        torch.manual_seed(self.settings.seed)
        device = self.dist.device
        self.model = FoundationModel(self.config.model, self.dataset.spec).to(device)
        self.objective = Objective(self.settings.tasks, self.settings.temperature).to(device)
        self.optimizer = build_optimizer([self.model, self.objective], self.config)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            warmup_cosine(
                self.config.optim.warmup_steps, self.settings.steps, self.config.optim.min_lr_ratio
            ),
        )
        self.amp = self.settings.amp and device.type == "cuda"
        self.amp_dtype = torch.bfloat16 if self.amp and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and self.amp_dtype == torch.float16)
        self.network = (
            DistributedDataParallel(
                self.model,
                device_ids=[device.index] if device.type == "cuda" else None,
                find_unused_parameters=True,
            )
            if self.dist.active
            else self.model
        )

    def _restore(self, path: Path) -> None:
        # RNG states must stay on the CPU; load_state_dict moves the rest
        state = load_checkpoint(path, "cpu")
        self.model.load_state_dict(state["model"])
        self.objective.load_state_dict(state["objective"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        restore_rng(state["rng"])
        self.step, self.nonfinite = int(state["step"]), int(state["nonfinite"])
        self.best_val, self.bad_evals = float(state["best_val"]), int(state["bad_evals"])

    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "objective": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": capture_rng(),
            "nonfinite": self.nonfinite,
            "best_val": self.best_val,
            "bad_evals": self.bad_evals,
            "data_position": {"seed": self.settings.seed, "step": self.step},
            "spec": self.dataset.spec.to_dict(),
            "config": self.config.to_dict(),
        }

    def _open_sinks(self) -> None:
        self.log = MetricsLog(self.folder.metrics_path)
        self.sinks = open_mirrors(self.config, self.folder.tensorboard_dir, self.folder.run_id, self.step)

    # ---------------------------------------------------------------- bookkeeping (rank 0)
    def _status(self, **changes: Any) -> None:
        if self.main:
            self.folder.update_status(step=self.step, total_steps=self.settings.steps, **changes)

    def _event(self, event: str, **fields: Any) -> None:
        if self.main and self.log is not None:
            self.log.write({"event": event, "step": self.step, **fields}, durable=True)

    def _metrics(self, split: str, values: dict[str, float]) -> None:
        if not self.main or self.log is None or not values:  # nothing scored (no validation window)
            return
        self.log.write({"step": self.step, "split": split, **values})
        for sink in self.sinks:
            sink.scalars(self.step, split, values)

    def _checkpoint(self, metrics: dict[str, Any]) -> None:
        if self.main:
            info = save_checkpoint(
                self.folder, self.step, self._state(), metrics, self.settings.keep_checkpoints
            )
            self._event("checkpoint", path=info.path.name)
        self.dist.barrier()

    def _heartbeat(self) -> None:
        now = time.time()
        if self.main and now - self._last_beat > 5:
            self._last_beat = now
            self._status()

    # ---------------------------------------------------------------- control
    def _control_point(self) -> None:
        command = self.commands.poll() if self.main else None
        if self.main and self.cancelled():
            command = "stop"
        command = self.dist.broadcast_command(command)
        if command == "stop":
            raise _Stop(RunState.STOPPED, f"stopped at step {self.step}")
        if command != "pause":
            return
        self._checkpoint(self._checkpoint_metrics("pause"))
        self._status(state=RunState.PAUSED.value, message=f"paused at step {self.step}")
        self._event("paused")
        while True:
            time.sleep(0.1)
            command = self.commands.poll() if self.main else None
            if self.main and self.cancelled():
                command = "stop"
            command = self.dist.broadcast_command(command)
            self._heartbeat()
            if command == "stop":
                raise _Stop(RunState.STOPPED, f"stopped at step {self.step} (while paused)")
            if command == "resume":
                self._status(state=RunState.RUNNING.value, message="")
                self._event("continued")
                return

    # ---------------------------------------------------------------- steps
    def _autocast(self):
        return torch.autocast("cuda", dtype=self.amp_dtype) if self.amp else nullcontext()

    def _train_step(self) -> dict[str, float] | None:
        self.network.train()
        batch = to_tensors(
            self.dataset.train_batch(self.step, self.dist.rank), self.dataset, self.dist.device
        )
        generator = torch.Generator().manual_seed(self.settings.seed * 1_000_003 + self.step)
        with self._autocast():
            losses, anchor = self.objective.task_losses(self.network, batch, generator)
            total = self.objective(losses) + anchor
        self.optimizer.zero_grad(set_to_none=True)
        if self.dist.any(not torch.isfinite(total.detach()).item()):
            self.nonfinite += 1
            self._event(
                "nonfinite", count=self.nonfinite, losses={k: float(v.detach()) for k, v in losses.items()}
            )
            if self.nonfinite > self.settings.max_nonfinite:
                raise TrainingError(
                    f"The loss was NaN or infinite {self.nonfinite} times (limit "
                    f"{self.settings.max_nonfinite}); last at step {self.step}. Lower the learning "
                    "rate, check the data for extreme values, or resume from an earlier checkpoint."
                )
            return None
        self.scaler.scale(total).backward()
        # DDP syncs the model's gradients, not these
        self.dist.average_scalar_gradients(list(self.objective.parameters()))
        self.scaler.unscale_(self.optimizer)
        parameters = [p for g in self.optimizer.param_groups for p in g["params"]]
        norm = torch.nn.utils.clip_grad_norm_(parameters, self.config.optim.grad_clip or math.inf)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        values = {f"loss/{k}": float(v.detach()) for k, v in losses.items()}
        values.update({f"recon/{m}": v for m, v in self.objective.modality_losses.items()})
        values.update(loss=float(total.detach()), grad_norm=float(norm), tokens=float(batch.n_tokens))
        return values

    def validation_loss(self) -> dict[str, float]:
        """Mean raw loss per task and per modality over the fixed validation windows (averaged over ranks),
        and the tasks' sum as ``loss``."""
        model, device = self.model, self.dist.device
        local = validation_losses(model, self.objective, self.dataset, device, self.settings, self._autocast)
        values = self.dist.mean(local, loss_keys(self.objective.tasks, self.dataset.modalities)[2:])
        values["loss"] = sum(v for k, v in values.items() if k.startswith("loss/"))
        return values

    def _system(self) -> dict[str, float]:
        process = psutil.Process()
        values = {"cpu_percent": psutil.cpu_percent(None), "ram_gb": process.memory_info().rss / 2**30}
        if self.dist.device.type == "cuda":
            values["gpu_mem_gb"] = torch.cuda.memory_allocated(self.dist.device) / 2**30
        return values

    def _loop(self) -> None:
        window: list[dict[str, float]] = []
        training_s = 0.0  # in train steps only: validation, checkpoints and pauses are not throughput
        keys = loss_keys(self.objective.tasks, self.dataset.modalities)
        while self.step < self.settings.steps:
            self._control_point()
            started = time.perf_counter()
            values = self._train_step()
            training_s += time.perf_counter() - started
            self.step += 1
            if values is not None:
                window.append(values)
            if self.step % self.settings.log_every == 0 or self.step == self.settings.steps:
                self._log_train(window, keys, training_s)
                window, training_s = [], 0.0
            last, every = self.step == self.settings.steps, self.settings.score_every
            validate = last or self.step % self.settings.eval_every == 0
            score = every > 0 and (last or self.step % every == 0)
            if validate or score:
                self._evaluate_and_maybe_stop(validate, score)
            if self.step % self.settings.checkpoint_every == 0 and self.step < self.settings.steps:
                self._checkpoint(self._checkpoint_metrics("periodic"))
            self._heartbeat()
            self.report(self.step / self.settings.steps, f"step {self.step} of {self.settings.steps}")

    def _log_train(self, window: list[dict[str, float]], keys: list[str], seconds: float) -> None:
        local = {
            k: sum(v[k] for v in window if k in v) / max(1, sum(k in v for v in window))
            for k in keys
            if any(k in v for v in window)
        }
        tokens = sum(v["tokens"] for v in window) * self.dist.world_size
        values = self.dist.mean(local, keys)
        values.update(
            lr=self.optimizer.param_groups[0]["lr"],
            tokens_per_s=tokens / max(seconds, 1e-9),
            nonfinite_steps=float(self.nonfinite),
            **self._system(),
        )
        values.update({f"weight/{t}": w for t, w in self.objective.weighting.weights().items()})
        self.last_train_loss = values.get("loss")
        self._metrics("train", values)

    def _evaluate_and_maybe_stop(self, validate: bool, score: bool) -> None:
        """One validation row: the losses (when ``validate``; they drive early stopping) and the light
        evaluation's scores (when ``score``, rank 0 only)."""
        values = self.validation_loss() if validate else {}
        if score and self.main:
            limit = self.settings.eval_windows
            values.update(validation_scores(self.model, self.dataset, self.dist.device, limit))
        self._metrics("val", values)
        if not validate:
            return
        if values["loss"] < self.best_val - 1e-6:
            self.best_val, self.bad_evals = values["loss"], 0
        else:
            self.bad_evals += 1
        patience = self.settings.early_stopping_patience
        if patience is not None and self.bad_evals >= patience:
            raise _Stop(
                RunState.EARLY_STOPPED,
                f"early stop at step {self.step}: validation loss did not improve "
                f"for {patience} evaluations (best {self.best_val:.4g})",
            )

    # ---------------------------------------------------------------- entry
    def run(self, raise_errors: bool = False) -> dict[str, Any]:
        """Train to the end (or until stopped); returns the final status. Checkpoints stay on any failure."""
        state, message = RunState.COMPLETED, f"completed {self.settings.steps} steps"
        error: Exception | None = None
        try:
            if self._dist is None:
                self._dist = init_distributed(self.settings.device)
            self._build()
            if self.resume_from is not None:
                self._restore(self.resume_from)
            if self.main:
                self.folder.mark_owner(self.mode, self.dist.world_size)
            self._status(
                state=RunState.RUNNING.value,
                message="",
                started=time.time(),
                parameters=self.model.parameter_count(),
                device=str(self.dist.device),
            )
            self._open_sinks()
            self._event(
                "resume" if self.resume_from else "start",
                checkpoint=getattr(self.resume_from, "name", None),
                world_size=self.dist.world_size,
                pid=os.getpid(),
            )
            self._loop()
            self._checkpoint(self._checkpoint_metrics("end"))
        except _Stop as stop:
            state, message = stop.state, stop.message
            self._safe_final_checkpoint(stop.state.value)
        except torch.OutOfMemoryError:
            message = (
                f"Out of GPU memory at step {self.step} (batch {self.config.data.batch_size} x "
                f"{self.config.data.seq_len} bins, d_model {self.config.model.d_model}). Lower batch_size, "
                "seq_len or the model size, then resume from the last checkpoint (it is kept)."
            )
            state, error = RunState.FAILED, TrainingError(message)
        except Exception as exc:  # any failure ends the run as failed, with its reason on record
            state, error = RunState.FAILED, exc
            message = str(exc) if isinstance(exc, TrainingError) else f"{type(exc).__name__}: {exc}"
        final = {
            "steps": self.step,
            "best_val_loss": self.best_val if math.isfinite(self.best_val) else None,
            "train_loss": self.last_train_loss,
        }
        self._event(state.value, message=message)
        self._status(state=state.value, message=message, finished=time.time(), final=final)
        self._close()
        if error is not None and raise_errors:
            raise error
        return {"state": state.value, "message": message, **final}

    def _checkpoint_metrics(self, reason: str) -> dict[str, Any]:
        return {
            "train_loss": self.last_train_loss,
            "reason": reason,
            "val_loss": self.best_val if math.isfinite(self.best_val) else None,
        }

    def _safe_final_checkpoint(self, reason: str) -> None:
        try:
            self._checkpoint(self._checkpoint_metrics(reason))
        except CheckpointError as exc:
            self._event("checkpoint_failed", message=str(exc))

    def _close(self) -> None:
        for sink in self.sinks:
            sink.close()
        self.sinks = []
        if self.log is not None:
            self.log.close()
            self.log = None
