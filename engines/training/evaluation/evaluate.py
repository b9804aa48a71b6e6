"""Evaluate a trained run on its held-out test split: decoding R^2 per modality, co-bps on held-out units,
latent recovery (when the true latents are known), and the ridge and CEBRA baselines on the same split.

Costs one forward pass over each session's test segments per modality subset (seconds for the
demo data on a CPU), the ridge fits (fractions of a second), and CEBRA's training when enabled,
which is bounded (``baselines.cebra_iterations_for``: about 20 s here whatever the data's length).
Progress goes to ``progress``: the model's scoring up to 40%, the ridge fits to 60%, CEBRA after.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engines._progress import Progress, sub_progress
from engines.training.config import TrainingConfig, parse_config
from engines.training.data.sources import load_run_data
from engines.training.data.windows import Batch, WindowDataset
from engines.training.errors import DataError, RunNotFound, TrainingError
from engines.training.evaluation.baselines import RIDGE_LAGS, cebra_decode, ridge_decode
from engines.training.evaluation.metrics import bits_per_spike, r2_score
from engines.training.evaluation.nlb_run import nlb_run_scores
from engines.training.evaluation.readout import glm_readout_rates
from engines.training.model.foundation import FoundationModel
from engines.training.runs import ACTIVE_STATES, RunFolder, write_json_atomic
from engines.training.trainer.checkpoint import load_checkpoint

__all__ = [
    "TrainedRun",
    "load_trained_run",
    "predict_split",
    "split_inputs",
    "evaluate_run",
    "alone_scores",
]


@dataclass
class TrainedRun:
    """A run's model (in eval mode) at one checkpoint, with the dataset it was trained on."""

    folder: RunFolder
    config: TrainingConfig
    dataset: WindowDataset
    model: FoundationModel
    step: int


def load_trained_run(
    folder: RunFolder, checkpoint_step: int | None = None, device: str = "cpu"
) -> TrainedRun:
    """The model of checkpoint ``checkpoint_step`` (default: the newest) and the run's data."""
    checkpoints = folder.checkpoints()
    if not checkpoints:
        raise RunNotFound(f"Run {folder.run_id} has no checkpoint yet; train it first.")
    chosen = (
        checkpoints[-1]
        if checkpoint_step is None
        else next((c for c in checkpoints if c.step == checkpoint_step), None)
    )
    if chosen is None:
        raise RunNotFound(f"Run {folder.run_id} has no checkpoint at step {checkpoint_step}.")
    config = parse_config(folder.config())
    dataset = WindowDataset(load_run_data(folder), config.data, config.training.seed)
    state = load_checkpoint(chosen.path, device)
    model = FoundationModel(config.model, dataset.spec)
    model.load_state_dict(state["model"])
    return TrainedRun(folder, config, dataset, model.to(device).eval(), chosen.step)


def _tensors(batch: Batch, device: torch.device) -> dict[str, torch.Tensor]:
    return {m: torch.as_tensor(a, device=device) for m, a in batch.inputs.items()}


@torch.no_grad()
def predict_split(
    run: TrainedRun, session: int, split: str = "test", modalities: list[str] | None = None
) -> dict[str, Any]:
    """Model outputs over every ``split`` segment of a session, one list entry per segment.

    Returns {"latent", "behaviour" (decoded), "behaviour_true", "rates" (predicted spike counts per
    bin, all units), "spikes" (observed counts), "stimulus", "true_latents"} as lists of
    (T_segment, ...) arrays, one per segment (empty lists for what the session lacks).
    """
    device = next(run.model.parameters()).device
    out: dict[str, list[np.ndarray]] = {
        k: []
        for k in ("latent", "behaviour", "rates", "spikes", "behaviour_true", "stimulus", "true_latents")
    }
    item = run.dataset.items[session]
    for batch, (a, b) in zip(
        run.dataset.segment_batch(session, split, modalities),
        [s for s in item.segments[split] if s[1] - s[0] >= 4],
    ):
        result = run.model(
            _tensors(batch, device), session, reconstruct=["spikes"] if "spikes" in batch.inputs else []
        )
        out["latent"].append(result.latent[0].cpu().numpy())
        if result.behaviour is not None and batch.behaviour is not None:
            out["behaviour"].append(result.behaviour[0].cpu().numpy())
            out["behaviour_true"].append(batch.behaviour[0])
        if "spikes" in result.reconstruction:
            out["rates"].append(torch.exp(result.reconstruction["spikes"][0].clamp(max=15)).cpu().numpy())
            out["spikes"].append(batch.targets["spikes"][0])
        if batch.stimulus is not None:
            out["stimulus"].append(batch.stimulus[0])
        if item.session.latents is not None:
            out["true_latents"].append(item.session.latents[a:b])
    return out


def _as_feature(modality: str, array: np.ndarray) -> np.ndarray:
    return np.log1p(array) if modality == "spikes" else array


def split_inputs(
    dataset: WindowDataset, session: int, split: str, modalities: list[str]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(binned inputs, behaviour) per ``split`` segment, as the model sees them (held-in spikes as log1p
    counts, other signals z-scored): what the baselines fit on. No model involved."""
    xs, ys = [], []
    for batch in dataset.segment_batch(session, split, modalities):
        if batch.behaviour is None:
            raise DataError(f"Session {session} has no behaviour; the decoding baselines need it.")
        xs.append(np.concatenate([_as_feature(m, batch.inputs[m][0]) for m in batch.inputs], axis=1))
        ys.append(batch.behaviour[0])
    return xs, ys


def _weighted(values: Sequence[tuple[float | None, float]]) -> float | None:
    kept = [(v, n) for v, n in values if v is not None and np.isfinite(v) and n > 0]
    return float(sum(v * n for v, n in kept) / sum(n for _, n in kept)) if kept else None


def _co_bps(
    run: TrainedRun, session: int, test: dict[str, Any], train: dict[str, Any] | None = None
) -> tuple[float | None, float]:
    """(co-bps of the held-out units, their spike count): from the trained spike head, or with
    ``train`` (the same inputs' predictions on the train split) from a GLM read-out of the latents."""
    heldout = run.dataset.heldout_units(session)
    if not len(heldout) or not test["rates"]:
        return None, 0.0
    spikes = np.concatenate(test["spikes"])[:, heldout]
    if train is None:
        return bits_per_spike(np.concatenate(test["rates"])[:, heldout], spikes), float(spikes.sum())
    rates = glm_readout_rates(
        np.concatenate(train["latent"]),
        np.concatenate(train["spikes"])[:, heldout],
        np.concatenate(test["latent"]),
    )
    return bits_per_spike(rates, spikes), float(spikes.sum())


def _session_scores(run: TrainedRun, session: int, subsets: dict[str, list[str]]) -> dict[str, Any]:
    scores: dict[str, Any] = {"decoding": {}, "bins": 0}
    for name, modalities in subsets.items():
        if not all(m in run.dataset.items[session].arrays for m in modalities):
            continue
        test = predict_split(run, session, "test", modalities)
        if test["behaviour"]:
            scores["decoding"][name] = r2_score(
                np.concatenate(test["behaviour_true"]), np.concatenate(test["behaviour"])
            )
            scores["bins"] = sum(len(b) for b in test["behaviour"])
        if name not in ("all", "spikes"):
            continue
        has_heldout = bool(len(run.dataset.heldout_units(session))) and bool(test["rates"])
        train = (
            predict_split(run, session, "train", modalities)
            if has_heldout or (name == "all" and test["true_latents"])
            else None
        )
        if name == "all":
            scores["co_bps"], scores["heldout_spikes"] = _co_bps(run, session, test, train)
            scores["co_bps_head"], _ = _co_bps(run, session, test)
            if test["true_latents"] and train is not None:
                scores["latent_r2"] = ridge_decode(
                    train["latent"], train["true_latents"], test["latent"], test["true_latents"], lags=0
                )
        else:
            scores["co_bps_spikes_only"], _ = _co_bps(run, session, test, train)
    return scores


def _score_sessions(
    run: TrainedRun, subsets: dict[str, list[str]], report: Progress, cancelled: Callable[[], bool] | None
) -> list[dict[str, Any]]:
    """The model's scores on each session's test split (the first 40% of the progress)."""
    per_session = []
    sessions = len(run.dataset.items)
    for session in range(sessions):
        if cancelled is not None and cancelled():
            raise TrainingError("The evaluation was cancelled.")
        report(0.4 * session / sessions, f"scoring the model on session {session + 1} of {sessions}")
        per_session.append(_session_scores(run, session, subsets))
    return per_session


def evaluate_run(
    folder: RunFolder,
    checkpoint_step: int | None = None,
    *,
    cebra_iterations: int | None = None,
    baselines: bool = True,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Score a run's checkpoint on the test split and write ``evaluation.json``; returns the same dict.

    Keys: ``decoding_r2`` ({"all" and each modality alone: behaviour R^2 on the test split}),
    ``co_bps`` / ``co_bps_spikes_only`` (held-out units from every held-in input / held-in spikes,
    by ``readout.glm_readout_rates``; None without held-out units), ``co_bps_head`` (the trained
    spike head's), ``latent_r2`` (synthetic: true latents from the states by ridge), ``baselines``
    ({"ridge_r2", "cebra_r2_per_modality", "cebra_r2" (all), "cebra_note"}), ``alone_r2``, ``nlb``
    (Lorenz: ``nlb_run_scores``), ``checkpoint_step``, ``n_test_bins``. ``cebra_iterations``: None
    scales them to the data (``cebra_iterations_for``), 0 skips CEBRA.
    """
    report = progress or (lambda fraction, message: None)
    run = load_trained_run(folder, checkpoint_step)
    subsets = {"all": list(run.dataset.modalities), **{m: [m] for m in run.dataset.modalities}}
    per_session = _score_sessions(run, subsets, report, cancelled)
    decoding = {
        name: _weighted([(s["decoding"].get(name), s["bins"]) for s in per_session]) for name in subsets
    }
    result: dict[str, Any] = {
        "run_id": folder.run_id,
        "checkpoint_step": run.step,
        "evaluated": time.time(),
        "decoding_r2": {k: v for k, v in decoding.items() if v is not None},
        **{
            key: _weighted([(s.get(key), s.get("heldout_spikes", 0)) for s in per_session])
            for key in ("co_bps", "co_bps_head", "co_bps_spikes_only")
        },
        "latent_r2": _weighted([(s.get("latent_r2"), s["bins"] or 1) for s in per_session]),
        "n_test_bins": int(sum(s["bins"] for s in per_session)),
    }
    if result["co_bps"] is None:
        result["co_bps_note"] = "no session has spikes with held-out units (needs at least 2 units)"
    if baselines:
        result["baselines"] = _baselines(run, subsets, cebra_iterations, report, cancelled)
    result["alone_r2"] = alone_scores(result)
    result.update({"nlb": nlb} if (nlb := nlb_run_scores(run)) is not None else {})
    report(1.0, "evaluation done")
    write_json_atomic(folder.evaluation_path, result)
    if folder.effective_state() not in ACTIVE_STATES:
        status = folder.status()
        folder.update_status(
            final={
                **status.get("final", {}),
                "decoding_r2": result["decoding_r2"].get("all"),
                "co_bps": result["co_bps"],
            }
        )
    return result


def _baselines(
    run: TrainedRun,
    subsets: dict[str, list[str]],
    cebra_iterations: int | None,
    report: Progress,
    cancelled: Callable[[], bool] | None,
) -> dict[str, Any]:
    sessions = [s for s in range(len(run.dataset.items)) if run.dataset.items[s].behaviour is not None]
    ridge: dict[str, float] = {}
    for k, (name, modalities) in enumerate(subsets.items()):
        report(0.4 + 0.2 * k / len(subsets), f"fitting the ridge baseline on {name}")
        values: list[tuple[float | None, int]] = []
        for s in sessions:
            if all(m in run.dataset.items[s].arrays for m in modalities):
                train_x, train_y = split_inputs(run.dataset, s, "train", modalities)
                test_x, test_y = split_inputs(run.dataset, s, "test", modalities)
                values.append((ridge_decode(train_x, train_y, test_x, test_y), sum(len(y) for y in test_y)))
        score = _weighted(values)
        if score is not None:
            ridge[name] = score
    out: dict[str, Any] = {"ridge_r2": ridge, "ridge_lags": RIDGE_LAGS}
    if cebra_iterations != 0 and sessions:
        cebra: dict[str, float] = {}
        fitted: dict[tuple[str, ...], float | None] = {}  # a one-modality session's "all" is that modality
        note = ""
        for k, (name, modalities) in enumerate(subsets.items()):
            key = tuple(sorted(modalities))
            if key not in fitted:
                share = sub_progress(report, 0.6 + 0.4 * k / len(subsets), 0.6 + 0.4 * (k + 1) / len(subsets))
                share(0.0, f"fitting CEBRA on {name}")
                fitted[key], note = _cebra_on(run, sessions, modalities, cebra_iterations, cancelled, share)
            score = fitted[key]
            if score is not None:
                cebra[name] = score
        out["cebra_r2"], out["cebra_note"] = cebra.get("all"), note
        out["cebra_r2_per_modality"] = cebra
    return out


def _cebra_on(
    run: TrainedRun,
    sessions: list[int],
    modalities: list[str],
    iterations: int | None,
    cancelled: Callable[[], bool] | None,
    progress: Progress,
) -> tuple[float | None, str]:
    """CEBRA's R^2 from ``modalities`` over the sessions that have them all (test bins weighted), its note."""
    values, note = [], ""
    usable = [s for s in sessions if all(m in run.dataset.items[s].arrays for m in modalities)]
    for k, s in enumerate(usable):
        share = sub_progress(progress, k / len(usable), (k + 1) / len(usable))
        train_x, train_y = split_inputs(run.dataset, s, "train", modalities)
        test_x, test_y = split_inputs(run.dataset, s, "test", modalities)
        score, note = cebra_decode(
            train_x, train_y, test_x, test_y, iterations, cancelled=cancelled, progress=share
        )
        values.append((score, sum(len(y) for y in test_y)))
    return _weighted(values), note


def alone_scores(result: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """{modality: {"model", "ridge", "cebra"}}: held-out R^2 of each with that modality as its only
    input (None where a method was not run), from an ``evaluate_run`` result."""
    baselines = result.get("baselines", {}) or {}
    ridge = baselines.get("ridge_r2", {}) or {}
    cebra = baselines.get("cebra_r2_per_modality", {}) or {}
    return {
        name: {"model": value, "ridge": ridge.get(name), "cebra": cebra.get(name)}
        for name, value in result.get("decoding_r2", {}).items()
        if name != "all"
    }
