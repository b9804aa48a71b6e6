"""Benchmark the training engine on this CPU: the selective scan, training throughput, and held-out decoding.

Run ``python benchmarks/training.py``. Every figure is measured in this run, one torch thread
(the benchmark machine is small and shared; extra threads only spin against each other):

- ``scan_speedup_L{256,1024,4096}``: median time of the sequential reference scan
  (``selective_scan_ref`` semantics: discretise, then one einsum step per bin) / median time of
  the scan the model uses on CPU (blocked, one fused op per step), forward, batch 4,
  d_inner 256, d_state 16. ``scan_backward_speedup_L256``: the same for forward + backward.
- ``scan_vs_plain_loop_L1024``: the same against a plain loop (discretised tensors built once with
  broadcasting, then ``h = dA[t] * h + dBu[t]`` per step and one matmul with C), the stronger
  sequential baseline.
- ``mambapy_ratio``: mambapy's parallel (Blelloch) selective scan / ours at L=1024, same inputs.
- ``train_tokens_per_s``: tokens (bins x modalities) per second while training the stated model.
- ``decoding_r2`` / ``ridge_r2`` / ``cebra_r2``: behaviour R^2 on the held-out test split of a
  synthetic session with known latents (all modalities in), for the model, ridge on the same
  binned inputs (+-5 lags), and CEBRA-Behavior embeddings + the same ridge; ``co_bps`` on held-out
  units (NLB bits per spike, a Poisson GLM read-out of the model's latent states fitted on the train
  split) next to ``co_bps_oracle`` (a Poisson GLM on the true latents), ``co_bps_fraction_of_oracle``
  their ratio and ``co_bps_head`` the trained spike head's own.
- ``alone_r2``: {modality: {"model", "ridge", "cebra", "multimodal_model"}}: held-out R^2 with that
  modality as the only input, for a model trained on it alone (``ALONE_STEPS``), ridge and CEBRA on
  it, and the all-modality model given only it; ``alone_model_beats_ridge`` (every modality).
- ``lorenz_*``: the LFADS Lorenz set-up (``engines.training.data.lorenz``, seed 0: 100 trials of
  100 + 20 bins at 10 ms, 40 neurons, 10 held out), scored as NLB scores its test trials:
  ``lorenz_oracle_co_bps`` / ``lorenz_oracle_fp_bps`` for the true rates (the ceiling) and
  ``lorenz_smoothing_co_bps`` for NLB's smoothing baseline (Poisson GLM on smoothed held-in spikes);
  ``lorenz_model_co_bps`` / ``lorenz_model_fp_bps`` for our model trained on it (the ``lorenz``
  source, whole trials, ``LORENZ_STEPS``), its spike head given the held-in neurons' observed bins.
- ``nitime_*``: the same figures on nitime's real grasshopper recording (spikes -> stimulus
  amplitude; one neuron, so no co-bps) and its event-related fMRI run (BOLD -> HRF design).
- ``poyo_r2`` / ``ours_r2`` / ``poyo_tokens_per_s`` / ``ours_tokens_per_s`` (and ``poyo_*``): torch_brain's
  POYO-mp and our model on the spikes of the synthetic session, same wall time, same test bins
  (``benchmarks/_poyo.py`` says how; null, with the reason, without ``pip install neurodeck[poyo]``).
- ``gpu_scan_ratio`` / ``gpu_train_tokens_per_s`` (``benchmarks/_training_gpu.py``): mamba-ssm's kernel
  against the PyTorch scan, and AMP throughput at d_model 512 x 8 blocks, measured only where CUDA is;
  elsewhere null, with the reason in ``gpu_note``.
- ``runs_1000_list_s`` / ``compare_20_s`` (floors: under 1 s each) and their ``_before`` and
  ``_ratio`` figures: 1,000 runs listed, filtered and sorted, and 20 runs' curves read for one chart,
  against the reads they replaced (``_training_runs.py``).

The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from statistics import median

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._poyo import compare_with_poyo  # noqa: E402
from benchmarks._train_run import train_timed  # noqa: E402
from benchmarks._training_gpu import gpu_figures  # noqa: E402
from benchmarks._training_runs import measure_runs_at_scale  # noqa: E402
from engines.training.config import build_config  # noqa: E402
from engines.training.data import generate_synthetic_sessions, split_segments  # noqa: E402
from engines.training.data.lorenz import generate_lorenz  # noqa: E402
from engines.training.evaluation import bits_per_spike, evaluate_run  # noqa: E402
from engines.training.evaluation.nlb import co_bps, nlb_scores, smoothing_rates  # noqa: E402
from engines.training.model._scan_reference import selective_scan_ref  # noqa: E402
from engines.training.model.scan import selective_scan  # noqa: E402

BATCH, D_INNER, D_STATE = 4, 256, 16
SYNTHETIC = {"kind": "synthetic", "n_bins": 30000, "n_sessions": 1, "seed": 7}
MODEL = {"d_model": 32, "n_latents": 4, "n_heads": 2, "n_blocks": 1, "d_state": 8, "embed_dim": 16}


def _scan_inputs(length: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(BATCH, D_INNER, length, generator=g),
        torch.randn(BATCH, D_INNER, length, generator=g) - 2,
        -torch.exp(torch.randn(D_INNER, D_STATE, generator=g) * 0.5),
        torch.randn(BATCH, D_STATE, length, generator=g),
        torch.randn(BATCH, D_STATE, length, generator=g),
        torch.randn(D_INNER, generator=g),
    ]


def _interleaved(calls: dict[str, object], reps: int) -> dict[str, float]:
    """Median seconds of each call, run alternately so a busy machine slows them alike."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(reps):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    return {name: median(values) for name, values in times.items()}


def plain_loop(u, delta, A, B, C, D):
    """The sequential scan without einsums: (b, d, L) inputs, states stacked then read out by one matmul."""
    delta = torch.nn.functional.softplus(delta)
    decay = torch.exp(delta.unsqueeze(-1) * A.unsqueeze(1))  # (b, d, L, n)
    drive = (delta * u).unsqueeze(-1) * B.transpose(1, 2).unsqueeze(1)
    h = torch.zeros(u.shape[0], u.shape[1], A.shape[1])
    states = []
    for t in range(u.shape[2]):
        h = decay[:, :, t] * h + drive[:, :, t]
        states.append(h)
    y = (torch.stack(states, dim=2) * C.transpose(1, 2).unsqueeze(1)).sum(-1)
    return y + u * D[:, None]


def bench_scan() -> dict[str, float]:
    out: dict[str, float] = {}
    for length, reps in ((256, 7), (1024, 5), (4096, 3)):
        args = _scan_inputs(length)
        with torch.no_grad():
            t = _interleaved(
                {
                    "reference": partial(selective_scan_ref, *args, delta_softplus=True),
                    "plain": partial(plain_loop, *args),
                    "ours": partial(selective_scan, *args, delta_softplus=True),
                },
                reps,
            )
        out[f"scan_speedup_L{length}"] = round(t["reference"] / t["ours"], 2)
        if length == 1024:
            out["scan_vs_plain_loop_L1024"] = round(t["plain"] / t["ours"], 2)
        print(
            f"scan L={length}: reference {t['reference'] * 1e3:.1f} ms, "
            f"plain loop {t['plain'] * 1e3:.1f} ms, "
            f"ours {t['ours'] * 1e3:.1f} ms -> {out[f'scan_speedup_L{length}']}x the reference, "
            f"{t['plain'] / t['ours']:.2f}x the plain loop"
        )
    inputs = [t.requires_grad_() for t in _scan_inputs(256)]

    def backward(kind: str):
        return lambda: selective_scan(*inputs, delta_softplus=True, kind=kind).sum().backward()

    t = _interleaved({"reference": backward("reference"), "ours": backward("auto")}, 3)
    out["scan_backward_speedup_L256"] = round(t["reference"] / t["ours"], 2)
    print(
        f"scan forward+backward L=256: reference {t['reference'] * 1e3:.0f} ms, "
        f"ours {t['ours'] * 1e3:.0f} ms "
        f"-> {out['scan_backward_speedup_L256']}x"
    )
    return out


def bench_mambapy() -> float | None:
    try:
        from mambapy.mamba import MambaBlock
    except ImportError:
        print("mambapy is not installed: mambapy_ratio skipped")
        return None
    u, delta, A, B, C, D = _scan_inputs(1024)
    dt = torch.nn.functional.softplus(delta)
    with torch.no_grad():  # mambapy's layout: x, delta (b, L, d), B, C (b, L, n)
        args = (u.transpose(1, 2), dt.transpose(1, 2), A, B.transpose(1, 2), C.transpose(1, 2), D)
        t = _interleaved(
            {
                "mambapy": lambda: MambaBlock.selective_scan(None, *args),
                "ours": lambda: selective_scan(u, dt, A, B, C, D),
            },
            5,
        )
    ratio = round(t["mambapy"] / t["ours"], 2)
    print(f"mambapy pscan L=1024: {t['mambapy'] * 1e3:.1f} ms vs ours {t['ours'] * 1e3:.1f} ms -> {ratio}x")
    return ratio


def _train_and_evaluate(
    workspace: Path, sources: list[dict], steps: int, cebra_iterations: int, **sections
) -> dict:
    config = build_config(
        sources,
        model_size="tiny",
        steps=steps,
        model=MODEL,
        optim={"lr": 3e-3, "warmup_steps": 100},
        training={
            "log_every": 50,
            "eval_every": max(steps // 4, 1),
            "checkpoint_every": steps,
            "eval_windows": 32,
            "num_threads": 1,
        },
        **sections,
    )
    folder, dataset, seconds, tokens = train_timed(workspace, config, "benchmark")
    result = evaluate_run(folder, cebra_iterations=cebra_iterations)
    from engines.training.model.foundation import FoundationModel

    parameters = FoundationModel(config.model, dataset.spec).parameter_count()
    return {"result": result, "tokens_per_s": tokens, "train_s": seconds, "parameters": parameters}


def _oracle_co_bps() -> float:
    """Co-bps of a Poisson GLM fitted on the true latents: the ceiling a model of the latents can reach."""
    from sklearn.linear_model import PoissonRegressor

    from engines.training.config import SyntheticSource

    session = generate_synthetic_sessions(
        SyntheticSource(**{k: v for k, v in SYNTHETIC.items() if k != "kind"})
    )[0]
    segments = split_segments(session.n_bins)
    (a, b), (c, d) = segments["train"][0], segments["test"][0]
    x, y = session.latents, session.modalities["spikes"]
    rates = np.stack(
        [PoissonRegressor(alpha=1e-4).fit(x[a:b], y[a:b, k]).predict(x[c:d]) for k in range(y.shape[1])],
        axis=1,
    )
    return bits_per_spike(rates, y[c:d])


def _lorenz_figures() -> dict[str, float]:
    """NLB scores of the oracle and the smoothing baseline on the Lorenz benchmark (under a second)."""
    data = generate_lorenz(seed=0)
    oracle = nlb_scores(data, data.rates)
    return {
        "lorenz_oracle_co_bps": round(oracle["co_bps"], 4),
        "lorenz_oracle_fp_bps": round(oracle["fp_bps"], 4),
        "lorenz_smoothing_co_bps": round(co_bps(data, smoothing_rates(data)), 4),
    }


ALONE_STEPS = 900
"""Steps of each one-modality model (the multimodal model's budget: the same data, one input)."""


def _alone_figures(workspace: Path, synthetic: dict) -> dict[str, object]:
    """A model trained on each modality alone, scored beside ridge and CEBRA on that modality alone.

    Ridge and CEBRA come from the multimodal run's evaluation (the same split and inputs); each
    modality's model is its own run (its decoding R^2 with that single input).
    """
    evaluation = synthetic["result"]
    alone: dict[str, dict[str, float | None]] = {}
    beats: dict[str, bool] = {}
    for modality, scores in evaluation["alone_r2"].items():
        run = _train_and_evaluate(
            workspace,
            [SYNTHETIC],
            steps=ALONE_STEPS,
            cebra_iterations=0,
            data={"seq_len": 64, "batch_size": 16, "modalities": [modality]},
        )
        model_r2 = float(run["result"]["decoding_r2"][modality])
        beats[modality] = scores["ridge"] is None or model_r2 > scores["ridge"]
        alone[modality] = {
            "model": round(model_r2, 3),
            "ridge": None if scores["ridge"] is None else round(scores["ridge"], 3),
            "cebra": None if scores["cebra"] is None else round(scores["cebra"], 3),
            "multimodal_model": None if scores["model"] is None else round(scores["model"], 3),
        }
        print(f"{modality} alone: {json.dumps(alone[modality])}")
    return {
        "alone_r2": alone,
        "alone_model_beats_ridge": all(beats.values()),
    }


LORENZ_STEPS = 600


def _lorenz_model_figures(workspace: Path) -> dict[str, float]:
    """NLB co-bps and fp-bps of our model trained on the Lorenz source (seed 0, the same data as above)."""
    run = _train_and_evaluate(
        workspace,
        [{"kind": "lorenz", "seed": 0}],
        steps=LORENZ_STEPS,
        cebra_iterations=0,
        data={"seq_len": 120, "batch_size": 16},
    )
    nlb = run["result"]["nlb"]
    return {
        "lorenz_model_co_bps": round(nlb["co_bps"], 4),
        "lorenz_model_fp_bps": round(nlb["fp_bps"], 4),
        "lorenz_model_train_s": round(run["train_s"], 1),
    }


def main() -> None:
    torch.set_num_threads(1)
    figures: dict[str, object] = {}
    figures.update(bench_scan())
    figures["mambapy_ratio"] = bench_mambapy()
    with tempfile.TemporaryDirectory() as tmp:
        synthetic = _train_and_evaluate(
            Path(tmp), [SYNTHETIC], steps=900, cebra_iterations=300, data={"seq_len": 64, "batch_size": 16}
        )
        r = synthetic["result"]
        oracle = _oracle_co_bps()
        figures.update(
            train_tokens_per_s=round(synthetic["tokens_per_s"]),
            train_model=f"d_model {MODEL['d_model']}, {MODEL['n_blocks']} bidirectional Mamba block, "
            f"{MODEL['n_latents']} latents, {synthetic['parameters']:,} parameters; batch 16 x 64 bins, "
            "5 modalities, 1 CPU thread",
            decoding_r2=round(r["decoding_r2"]["all"], 3),
            ridge_r2=round(r["baselines"]["ridge_r2"]["all"], 3),
            cebra_r2=None if r["baselines"].get("cebra_r2") is None else round(r["baselines"]["cebra_r2"], 3),
            decoding_r2_per_modality={k: round(v, 3) for k, v in r["decoding_r2"].items()},
            ridge_r2_per_modality={k: round(v, 3) for k, v in r["baselines"]["ridge_r2"].items()},
            co_bps=None if r["co_bps"] is None else round(r["co_bps"], 4),
            co_bps_head=None if r.get("co_bps_head") is None else round(r["co_bps_head"], 4),
            co_bps_spikes_only=None if r["co_bps_spikes_only"] is None else round(r["co_bps_spikes_only"], 4),
            co_bps_oracle=round(oracle, 4),
            co_bps_fraction_of_oracle=None if r["co_bps"] is None else round(r["co_bps"] / oracle, 3),
            latent_r2=round(r["latent_r2"], 3),
            train_s=round(synthetic["train_s"], 1),
        )
        print(
            "synthetic:",
            json.dumps({k: figures[k] for k in ("decoding_r2", "ridge_r2", "cebra_r2", "co_bps")}),
        )
        figures.update(_alone_figures(Path(tmp), synthetic))
        figures.update(_lorenz_model_figures(Path(tmp)))
        grass = _train_and_evaluate(
            Path(tmp),
            [{"kind": "nitime", "dataset": "grasshopper", "recording": 1}],
            steps=300,
            cebra_iterations=200,
            data={"seq_len": 64, "batch_size": 16, "bin_s": 0.005},
        )["result"]
        fmri = _train_and_evaluate(
            Path(tmp),
            [{"kind": "nitime", "dataset": "fmri_event"}],
            steps=300,
            cebra_iterations=200,
            data={"seq_len": 32, "batch_size": 16},
        )["result"]
    for name, r in (("grasshopper", grass), ("fmri", fmri)):
        figures[f"nitime_{name}_decoding_r2"] = round(r["decoding_r2"]["all"], 3)
        figures[f"nitime_{name}_ridge_r2"] = round(r["baselines"]["ridge_r2"]["all"], 3)
        cebra = r["baselines"].get("cebra_r2")
        figures[f"nitime_{name}_cebra_r2"] = None if cebra is None else round(cebra, 3)
    figures.update(_lorenz_figures())
    figures.update(compare_with_poyo(SYNTHETIC, MODEL))
    figures["nitime_co_bps"] = None
    figures["nitime_note"] = (
        "grasshopper: 1 receptor neuron -> sound amplitude at 5 ms bins (no held-out neurons, "
        "so no co-bps); fmri: 1 BOLD ROI -> 6 HRF-convolved event regressors at TR 2 s"
    )
    figures.update(gpu_figures())
    figures.update(measure_runs_at_scale())  # runs_1000_list_s, compare_20_s (see _training_runs.py)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
