"""POYO side by side: torch_brain's POYO and our model on the same spikes-only synthetic session.

Both are trained on CPU with one torch thread for the same wall time, on the same training
split, and scored on the same held-out test bins (behaviour R^2, targets z-scored on the train
split, as ``evaluate_run`` scores ours).

- **POYO**: ``torch_brain.models.POYO`` 0.2.1 in torch_brain's published small configuration,
  POYO-mp (``poyo_mp()`` / ``examples/poyo/configs/model/poyo_1.3M.yaml``: dim 64, depth 6,
  dim_head 64, 2 cross and 8 self heads, 16 latents per 1/8 s step over 1 s windows, dropouts
  0.2/0.4/0.2, t_max 4 s; 1.26 M parameters). It is the smallest configuration torch_brain
  publishes, so the one a CPU run has a chance with. Its own ``tokenize`` and ``collate`` build
  the batches from ``torch_brain.data.Data`` objects; a spike count c in bin t becomes c spike
  events at the bin's centre (the data were binned at generation, so no timing is lost or made
  up). Only the held-in units our model sees are given to POYO. Training follows
  ``examples/poyo/train.py``: MSE on the behaviour at every bin centre of a window, one-cycle
  schedule with a flat first half and a cosine second half (here as a fraction of the wall-time
  budget, since the step count is not known in advance). It differs in two places: AdamW
  instead of Lamb (``torch_optimizer`` is not a dependency), and batches of 16 windows, not 128
  (a 16-window step already takes 1-2.5 s here, so 128 would leave a handful of updates; batches
  of 4, 8 and 16 at learning rates 1e-3 to 3e-3 all ended within 0.05 of R^2 0 in 90 s). Test
  windows of 1 s overlap by half and their predictions are averaged per bin, as torch_brain's
  stitching evaluator does. Measured here: with the benchmark's weakly tuned units POYO stays near
  R^2 0 even after 10 minutes (250 steps: -0.03); on a session of 32 strongly tuned units it reached
  0.60 in 10 steps, so the adapter carries the signal and POYO needs far more updates than a CPU gives.
- **Ours**: ``engines.training`` with the benchmark's ``MODEL``, spikes only, trained by the
  ``Trainer`` for a fixed number of steps; its measured wall time is POYO's budget.

Throughput is counted three ways, because the two models tokenize differently:
``*_tokens_per_s`` counts each model's own input tokens (ours: bins x modalities, as
``train_tokens_per_s``; POYO: spike events plus its start and end token per unit and window);
``*_bins_per_s`` the 20 ms bins of recording and ``*_spikes_per_s`` the spike events in the
windows trained on (ours: bins trained on x the held-in spikes per bin of the train split),
which are comparable between the two.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from benchmarks._train_run import train_timed
from engines.training.config import build_config
from engines.training.data.windows import WindowDataset
from engines.training.evaluation import load_trained_run, predict_split, r2_score
from engines.training.runs import RunFolder

if TYPE_CHECKING:
    from torch_brain.models import POYO

__all__ = ["POYO_MP", "PoyoRun", "compare_with_poyo", "poyo_session", "predict_poyo", "train_poyo"]

POYO_MP: dict[str, float | int] = {
    "sequence_length": 1.0,
    "latent_step": 1.0 / 8,
    "num_latents_per_step": 16,
    "dim": 64,
    "depth": 6,
    "dim_head": 64,
    "cross_heads": 2,
    "self_heads": 8,
    "ffn_dropout": 0.2,
    "lin_dropout": 0.4,
    "atn_dropout": 0.2,
    "emb_init_scale": 0.02,
    "t_min": 1e-4,
    "t_max": 4.0,
}
"""torch_brain's ``poyo_mp()`` (the 1.3M POYO-mp model of Azabou et al. 2023)."""

POYO_BATCH, POYO_LR, POYO_WEIGHT_DECAY = 16, 1e-3, 1e-4
INSTALL_HINT = "torch_brain is not installed: pip install neurodeck[poyo] (torch_brain==0.2.1)"


@dataclass
class PoyoRun:
    """A trained POYO model and what its training loop processed."""

    model: POYO
    steps: int
    seconds: float
    tokens: int
    spikes: int
    bins: int


def poyo_session(spikes: np.ndarray, bin_s: float, session_id: str) -> Any:
    """``torch_brain.data.Data`` of spike events from binned counts (T, units): c events at a bin's centre."""
    from torch_brain.data import ArrayDict, Data, Interval, IrregularTimeSeries

    bins, units = np.nonzero(spikes)
    counts = spikes[bins, units].astype(np.int64)
    times = np.repeat((bins + 0.5) * bin_s, counts)
    order = np.argsort(times, kind="stable")
    domain = Interval(0.0, len(spikes) * bin_s)
    return Data(
        spikes=IrregularTimeSeries(
            timestamps=times[order], unit_index=np.repeat(units, counts)[order], domain=domain
        ),
        units=ArrayDict(id=np.array([f"{session_id}/unit{k}" for k in range(spikes.shape[1])])),
        session=Data(id=session_id),
        domain=domain,
    )


def _build_poyo(data: Any, dim_out: int) -> POYO:
    from torch_brain.models import POYO

    model = POYO(dim_out=dim_out, **POYO_MP)
    model.unit_emb.initialize_vocab(list(data.units.id))
    model.session_emb.initialize_vocab([data.session.id])
    return model


def _window_bins(model: POYO, bin_s: float) -> int:
    return int(round(model.sequence_length / bin_s))


def _batch(model: POYO, data: Any, starts: list[int], bin_s: float) -> dict[str, Any]:
    """torch_brain's tokenize + collate for windows starting at bins ``starts``; a query per bin centre."""
    from torch_brain.batching import collate, pad8, track_mask8

    length = _window_bins(model, bin_s)
    queries = (np.arange(length) + 0.5) * bin_s
    items = []
    for start in starts:
        item = model.tokenize(data.slice(start * bin_s, start * bin_s + model.sequence_length))
        item["output_timestamps"] = pad8(torch.as_tensor(queries))
        item["output_mask"] = track_mask8(queries)
        items.append(item)
    batch = collate(items)
    for key in ("input_timestamps", "latent_timestamps", "output_timestamps"):
        batch[key] = batch[key].float()
    return batch


def _one_cycle(fraction: float) -> float:
    """POYO's OneCycleLR(div_factor=1, pct_start=0.5, cos): flat, then a cosine to ~0 over the second half."""
    return 1.0 if fraction < 0.5 else 0.5 * (1 + math.cos(math.pi * min(1.0, (fraction - 0.5) / 0.5)))


def train_poyo(
    data: Any,
    behaviour: np.ndarray,
    train_segments: list[tuple[int, int]],
    bin_s: float,
    seconds: float,
    *,
    batch_size: int = POYO_BATCH,
    lr: float = POYO_LR,
    seed: int = 0,
) -> PoyoRun:
    """POYO-mp trained for ``seconds`` of wall time on random 1 s windows of ``train_segments``.

    Costs about 1 s per step of 16 windows on one busy CPU thread (1.26 M parameters).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = _build_poyo(data, behaviour.shape[1])
    length = _window_bins(model, bin_s)
    segments = [(a, b) for a, b in train_segments if b - a >= length]
    if not segments:
        raise ValueError(f"POYO needs training segments of at least {length} bins (1 s windows).")
    sizes = np.array([b - a - length + 1 for a, b in segments], dtype=float)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=POYO_WEIGHT_DECAY)
    target = torch.as_tensor(behaviour, dtype=torch.float32)
    n_units = len(data.units.id)
    run = PoyoRun(model, 0, 0.0, 0, 0, 0)
    model.train()
    started = time.perf_counter()
    while run.steps == 0 or time.perf_counter() - started < seconds:
        for group in optimizer.param_groups:
            group["lr"] = lr * _one_cycle((time.perf_counter() - started) / seconds)
        picks = rng.choice(len(segments), size=batch_size, p=sizes / sizes.sum())
        starts = [int(segments[k][0] + rng.integers(0, sizes[k])) for k in picks]
        batch = _batch(model, data, starts, bin_s)
        output = model(**batch)
        truth = torch.stack([target[s : s + length] for s in starts])
        loss = torch.nn.functional.mse_loss(output[:, :length], truth)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        tokens = int(batch["input_mask"].sum())
        run.steps += 1
        run.tokens += tokens
        run.spikes += tokens - 2 * n_units * len(starts)
        run.bins += length * len(starts)
    run.seconds = time.perf_counter() - started
    model.eval()
    return run


@torch.no_grad()
def predict_poyo(model: POYO, data: Any, segment: tuple[int, int], bin_s: float) -> np.ndarray:
    """(b - a, dim_out) predictions over bins [a, b): 1 s windows at half-window steps, averaged per bin."""
    a, b = segment
    length = _window_bins(model, bin_s)
    if b - a < length:
        raise ValueError(
            f"POYO scores segments of at least {length} bins (1 s windows); this one has {b - a}."
        )
    starts = sorted({*range(a, b - length + 1, length // 2), b - length})
    total, count = None, np.zeros((b - a, 1))
    for k in range(0, len(starts), 32):
        chunk = starts[k : k + 32]
        output = model(**_batch(model, data, chunk, bin_s))[:, :length].numpy()
        if total is None:
            total = np.zeros((b - a, output.shape[-1]))
        for start, values in zip(chunk, output):
            total[start - a : start - a + length] += values
            count[start - a : start - a + length] += 1
    assert total is not None
    return total / count


def _train_ours(
    workspace: Path, synthetic: dict[str, Any], model: dict[str, int], steps: int
) -> tuple[RunFolder, WindowDataset, float, float]:
    """(run folder, dataset, wall seconds, median tokens/s) of ours, on spikes, trained as the benchmark."""
    config = build_config(
        [{**synthetic, "modalities": ["spikes"]}],
        modalities=["spikes"],
        model_size="tiny",
        steps=steps,
        model=model,
        optim={"lr": 3e-3, "warmup_steps": min(100, steps // 4)},
        training={
            "log_every": max(1, min(50, steps // 4)),
            "eval_every": steps,
            "checkpoint_every": steps,
            "eval_windows": 32,
            "num_threads": 1,
        },
        data={"seq_len": 64, "batch_size": 16},
    )
    return train_timed(workspace, config, "poyo-side-by-side")


def _torch_brain_missing() -> str | None:
    try:
        import torch_brain.models  # noqa: F401
    except ImportError as exc:
        return f"{INSTALL_HINT} ({exc})"
    return None


def compare_with_poyo(
    synthetic: dict[str, Any],
    model: dict[str, int],
    ours_steps: int = 600,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """POYO-mp and ours trained on the spikes of ``synthetic`` for the same wall time: test R^2, throughput.

    Keys: ``poyo_r2``, ``ours_r2`` (behaviour, same test bins), ``poyo_tokens_per_s``,
    ``ours_tokens_per_s``, ``*_spikes_per_s``, ``*_bins_per_s``, ``ours_vs_poyo_spikes_per_s``,
    ``poyo_test_bins`` (= ``ours_test_bins``), steps, seconds, parameters and ``poyo_note``.
    Without torch_brain the POYO figures are None and ``poyo_note`` says how to install it.
    Costs twice ours' training time (``ours_steps``: 600 take 45-90 s here, by load) plus ~10 s of scoring.
    """
    torch.set_num_threads(1)
    missing = _torch_brain_missing()
    if missing is not None:
        say(f"POYO side by side skipped: {missing}")
        return {
            "poyo_r2": None,
            "ours_r2": None,
            "poyo_tokens_per_s": None,
            "ours_tokens_per_s": None,
            "poyo_note": missing,
        }
    with tempfile.TemporaryDirectory() as tmp:
        folder, dataset, ours_seconds, ours_tokens = _train_ours(Path(tmp), synthetic, model, ours_steps)
        item = dataset.items[0]
        spikes = item.arrays["spikes"] if item.heldin is None else item.arrays["spikes"][:, item.heldin]
        bin_s = item.session.bin_s
        assert item.behaviour is not None
        data = poyo_session(spikes, bin_s, item.session.session_id)
        poyo = train_poyo(data, item.behaviour, item.segments["train"], bin_s, ours_seconds)
        segments = [s for s in item.segments["test"] if s[1] - s[0] >= 4]
        poyo_pred = np.concatenate([predict_poyo(poyo.model, data, s, bin_s) for s in segments])
        truth = np.concatenate([item.behaviour[a:b] for a, b in segments])
        ours = predict_split(load_trained_run(folder), 0, "test", ["spikes"])
        ours_truth = np.concatenate(ours["behaviour_true"])
        if not np.array_equal(ours_truth, truth):
            raise ValueError("ours and POYO were scored on different test bins")
        ours_pred = np.concatenate(ours["behaviour"])
        train_rows = np.concatenate([spikes[a:b] for a, b in item.segments["train"]])
        spikes_per_bin = float(train_rows.sum(axis=1).mean())
        ours_parameters = load_trained_run(folder).model.parameter_count()
    out: dict[str, Any] = {
        "poyo_r2": round(r2_score(truth, poyo_pred), 3),
        "ours_r2": round(r2_score(truth, ours_pred), 3),
        "poyo_tokens_per_s": round(poyo.tokens / poyo.seconds),
        "ours_tokens_per_s": round(ours_tokens),
        "poyo_spikes_per_s": round(poyo.spikes / poyo.seconds),
        "ours_spikes_per_s": round(ours_tokens * spikes_per_bin),
        "poyo_bins_per_s": round(poyo.bins / poyo.seconds),
        "ours_bins_per_s": round(ours_tokens),
        "poyo_test_bins": len(poyo_pred),
        "ours_test_bins": len(ours_pred),
        "poyo_steps": poyo.steps,
        "ours_steps": ours_steps,
        "poyo_train_s": round(poyo.seconds, 1),
        "ours_train_s": round(ours_seconds, 1),
        "poyo_parameters": sum(p.numel() for p in poyo.model.parameters()),
        "ours_parameters": ours_parameters,
    }
    out["ours_vs_poyo_spikes_per_s"] = round(out["ours_spikes_per_s"] / max(out["poyo_spikes_per_s"], 1), 2)
    out["poyo_note"] = (
        f"torch_brain POYO-mp (dim 64, depth 6, 16 latents/step, 1 s windows), AdamW, batch {POYO_BATCH}; "
        f"same {out['ours_train_s']} s on 1 CPU thread, same {len(truth)} test bins, held-in units only"
    )
    say(
        "POYO side by side: "
        + json.dumps(
            {
                k: out[k]
                for k in (
                    "poyo_r2",
                    "ours_r2",
                    "poyo_tokens_per_s",
                    "ours_tokens_per_s",
                    "ours_vs_poyo_spikes_per_s",
                )
            }
        )
    )
    return out
