"""The training engine's job kinds: evaluating a run and interpreting its latents, runnable by any worker.

Both read a run folder under ``<workspace>/training/runs`` (inputs name the run by id, never
by path) and write their results into the job's output folder; evaluation also refreshes
the run's ``evaluation.json``. Inputs include the checkpoint step, so a result is reused only
for the same weights. Heavy imports (torch) happen when a job runs, not when kinds are listed.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from engines.jobs import JobContext, JobKind
from engines.jobs.catalog import JobEnvironment
from engines.training.runs import RunRegistry, write_json_atomic

__all__ = ["EVALUATE", "INTERPRET", "job_kinds", "run_evaluate", "run_interpret"]

EVALUATE = "training-evaluate"
INTERPRET = "training-interpret"
CODE_VERSIONS = {EVALUATE: "1", INTERPRET: "1"}


def _checkpoint_step(inputs: dict[str, Any]) -> int | None:
    step = inputs.get("checkpoint_step")
    return None if step is None else int(step)


def run_evaluate(inputs: dict[str, Any], ctx: JobContext, *, workspace: Path) -> dict[str, Any]:
    """inputs: {"run": run id, "checkpoint_step": int | None, "cebra_iterations": int | None (None: scaled
    to the data, as ``run.py evaluate`` does)}."""
    from engines.training.evaluation.evaluate import evaluate_run

    folder = RunRegistry(workspace).get(str(inputs["run"]))
    result = evaluate_run(
        folder,
        _checkpoint_step(inputs),
        cebra_iterations=None if inputs.get("cebra_iterations") is None else int(inputs["cebra_iterations"]),
        progress=ctx.report,
        cancelled=ctx.cancelled,
    )
    write_json_atomic(ctx.output_dir / "evaluation.json", result)
    return {
        "decoding_r2": result["decoding_r2"],
        "co_bps": result["co_bps"],
        "baselines": result.get("baselines", {}),
        "checkpoint_step": result["checkpoint_step"],
    }


def run_interpret(inputs: dict[str, Any], ctx: JobContext, *, workspace: Path) -> dict[str, Any]:
    """inputs: {"run": run id, "checkpoint_step": int | None, "session": int (0), "split": "test"}.

    Writes latents.npy, projection.npy, selectivity.csv, tuning_mean.csv, predictive.csv,
    geometry.json into the output folder.
    """
    import numpy as np

    from engines.training.evaluation.evaluate import load_trained_run
    from engines.training.interpret import interpret_run

    folder = RunRegistry(workspace).get(str(inputs["run"]))
    ctx.report(0.1, "loading the model")
    run = load_trained_run(folder, _checkpoint_step(inputs))
    ctx.report(0.3, "computing latents and analyses")
    result = interpret_run(run, int(inputs.get("session", 0)), str(inputs.get("split", "test")))
    out = ctx.output_dir
    np.save(out / "latents.npy", result.latents)
    np.save(out / "projection.npy", result.projection.coords)
    for name in ("selectivity", "tuning_mean", "predictive"):
        frame = getattr(result, name)
        if frame is not None:
            frame.to_csv(out / f"{name}.csv")
    if result.geometry is not None:
        (out / "geometry.json").write_text(
            json.dumps(
                {
                    "participation_ratio": result.geometry.participation_ratio,
                    "silhouette": result.geometry.silhouette,
                    "distances": result.geometry.distances.to_dict(),
                },
                default=float,
            )
        )
    ctx.report(1.0, "done")
    return {**result.summary(), "checkpoint_step": run.step}


def job_kinds(env: JobEnvironment) -> list[JobKind]:
    """Evaluation and interpretation of training runs in ``env.workspace``."""
    workspace = Path(env.workspace)
    return [
        JobKind(
            EVALUATE,
            partial(run_evaluate, workspace=workspace),
            CODE_VERSIONS[EVALUATE],
            "Held-out decoding R^2 per modality, co-bps and ridge/CEBRA baselines of a training run",
        ),
        JobKind(
            INTERPRET,
            partial(run_interpret, workspace=workspace),
            CODE_VERSIONS[INTERPRET],
            "Selectivity, predictive units, population geometry and projections of a run's latents",
        ),
    ]
