"""Checkpoints: everything needed to continue a run exactly, written so that a failure never costs the last
one.

A checkpoint is ``checkpoints/step_<step>.pt`` (model, optimizer, scheduler, scaler, task weights, RNG states,
data position, early-stopping state) plus ``step_<step>.json`` (its metrics, for the list). The state is
serialised in memory first (``torch.save`` into a file object turns a failed write into an opaque RuntimeError
and can leave a bad zip), then written to a temporary file in the same folder, fsynced and renamed; the
``.json`` only after that, so a half-written checkpoint is never listed. A full disk (or any write error)
deletes the temporary file and raises ``CheckpointError``; older checkpoints are untouched. Only plain
tensors, numbers, strings, lists and dicts are stored, so loading uses ``torch.load(weights_only=True)`` (no
pickle code)."""

from __future__ import annotations

import errno
import io
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines._filesystem import atomic_writer
from engines.training.errors import CheckpointError, RunNotFound
from engines.training.runs import CheckpointInfo, RunFolder, write_json_atomic

__all__ = ["save_checkpoint", "load_checkpoint", "capture_rng", "restore_rng", "checkpoint_path"]

FORMAT = 1


def checkpoint_path(folder: RunFolder, step: int) -> Path:
    return folder.checkpoint_dir / f"step_{step:08d}.pt"


def capture_rng() -> dict[str, Any]:
    """Torch (CPU and CUDA), numpy's legacy global and Python's RNG states as plain values."""
    state = random.getstate()
    legacy = np.random.get_state(legacy=True)
    # Only a non-MT19937 generator has a dict state; numpy's global one is always MT19937.
    if not isinstance(legacy, tuple):
        raise TypeError("numpy's global random generator is not MT19937; its state cannot be checkpointed.")
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [
            legacy[0],
            torch.from_numpy(legacy[1].astype(np.int64)),
            int(legacy[2]),
            int(legacy[3]),
            float(legacy[4]),
        ],
        "python": [state[0], list(state[1]), state[2]],
    }


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def _describe_failure(exc: OSError, step: int, previous: CheckpointInfo | None) -> str:
    kept = f"checkpoint step {previous.step} is intact" if previous else "no earlier checkpoint exists"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        cause = "the disk is full (or the file size limit was reached)"
        action = "Free disk space, then resume the run"
    else:
        cause = exc.strerror or str(exc)
        action = "Check the run folder's permissions and disk, then resume the run"
    return f"Writing checkpoint step {step} failed: {cause}. The {kept}. {action}."


def save_checkpoint(
    folder: RunFolder, step: int, state: dict[str, Any], metrics: dict[str, Any], keep: int = 3
) -> CheckpointInfo:
    """Write one checkpoint atomically and prune old ones (keeping ``keep`` newest and the best by val loss).

    Needs memory for one serialised copy of the state (the checkpoint's size) while writing.
    """
    folder.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    existing = folder.checkpoints()
    target = checkpoint_path(folder, step)
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **state}, buffer)
    try:
        with atomic_writer(target) as handle:
            handle.write(buffer.getbuffer())
        write_json_atomic(
            target.with_suffix(".json"),
            {"step": step, "created": time.time(), "metrics": metrics, "bytes": target.stat().st_size},
        )
    except OSError as exc:
        if not any(c.step == step for c in existing):
            target.unlink(missing_ok=True)
        raise CheckpointError(_describe_failure(exc, step, existing[-1] if existing else None)) from exc
    _prune(folder, keep)
    return next(c for c in folder.checkpoints() if c.step == step)


def _prune(folder: RunFolder, keep: int) -> None:
    checkpoints = folder.checkpoints()
    scored = [c for c in checkpoints if isinstance(c.metrics.get("val_loss"), (int, float))]
    best = min(scored, key=lambda c: c.metrics["val_loss"]).step if scored else None
    for old in checkpoints[:-keep]:
        if old.step != best:
            old.path.with_suffix(".json").unlink(missing_ok=True)
            old.path.unlink(missing_ok=True)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint's state; ``RunNotFound`` if absent, ``CheckpointError`` if unreadable."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise RunNotFound(f"No checkpoint at {path}. Pick one from the run's checkpoint list.") from None
    except Exception as exc:  # truncated zip, wrong format, foreign pickle: one message for the user
        raise CheckpointError(
            f"The checkpoint {path.name} cannot be read ({type(exc).__name__}: {str(exc)[:200]}). "
            "Resume from an earlier checkpoint."
        ) from exc
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a checkpoint of this version of the trainer.")
    return state
