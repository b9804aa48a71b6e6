"""Curation's heavy steps as job kinds: extensions, a judge run, applying a curation.

The page submits them to the job system so they run off the UI thread with progress and
cancel, and ``run.py worker`` / Dask workers can run them too. Inputs name everything that
changes the result, so the job system's reuse of identical finished jobs is always right:

- ``curation-extensions`` ``{"analyzer": folder, "extensions": [names missing when submitted]}``:
  extensions that read the recording run in a child process (a cancel kills it at once);
  the others run in the worker.
- ``curation-judge`` ``{"analyzer": folder, "run_id": id}``: the run recorded beforehand with
  ``CurationReview.start_judge_run``; decisions land in the workspace store as they are made,
  and the run's reasoning CSV is written to the job's result folder.
- ``curation-apply`` ``{"analyzer": folder, "curation": dict, "censor_ms": float}``: the curated
  analyzer is written to the result folder's ``analyzer/``, with ``report.json``.
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Any

from engines._progress import Cancelled
from engines.curation.analyzer import (
    DEFAULT_JOB_KWARGS,
    EXTENSION_PARAMS,
    RECORDING_EXTENSIONS,
    open_analyzer,
)
from engines.curation.errors import AnalyzerOpenError
from engines.curation.exports import write_reasoning_csv
from engines.curation.extensions import (
    compute_missing_extensions,
    compute_one_extension,
    missing_in_order,
    require_recording,
)
from engines.io.policy import is_under_folders
from engines.jobs import JobContext, JobEnvironment, JobKind, run_in_child_process

__all__ = [
    "EXTENSIONS_KIND",
    "JUDGE_KIND",
    "APPLY_KIND",
    "CODE_VERSIONS",
    "job_kinds",
    "resolve_analyzer_folder",
]

EXTENSIONS_KIND = "curation-extensions"
JUDGE_KIND = "curation-judge"
APPLY_KIND = "curation-apply"
CODE_VERSIONS = {EXTENSIONS_KIND: "1", JUDGE_KIND: "2", APPLY_KIND: "1"}


def resolve_analyzer_folder(text: str, env: JobEnvironment) -> Path:
    """The analyzer folder named by a job's inputs, if it lies under an allowed root or the workspace."""
    policy = env.source_policy
    real = Path(os.path.expanduser(str(text))).resolve()
    if not is_under_folders(real, (*policy.allowed_roots, policy.workspace)):
        raise AnalyzerOpenError(
            f"'{text}' is outside the folders this server may read; move the analyzer under "
            "an allowed root or start the server with --root pointing at its folder"
        )
    if not real.is_dir():
        raise AnalyzerOpenError(f"No analyzer folder at '{text}'.")
    return real


def _compute_extension_in_child(folder: str, name: str, params: dict[str, Any], trust_pickles: bool) -> str:
    """Child-process body: open the analyzer, compute one extension (saved into the folder)."""
    analyzer, _ = open_analyzer(folder, trust_pickles=trust_pickles)
    compute_one_extension(analyzer, name, params, DEFAULT_JOB_KWARGS)
    return name


def _expected_seconds(analyzer: Any) -> float:
    channels = analyzer.get_num_channels()
    return 5.0 + analyzer.get_total_duration() * channels * 1e-3


def run_extensions(inputs: dict[str, Any], ctx: JobContext, *, env: JobEnvironment) -> dict[str, Any]:
    folder = resolve_analyzer_folder(inputs["analyzer"], env)
    trust = env.trust_pickles
    analyzer, status = open_analyzer(folder, trust_pickles=trust)
    wanted = tuple(inputs.get("extensions") or status.missing)
    todo = missing_in_order(analyzer, wanted)
    require_recording(analyzer, todo, status.no_recording)
    computed = []
    for index, name in enumerate(todo):
        start, end = index / max(1, len(todo)), (index + 1) / max(1, len(todo))
        ctx.report(start, f"computing {name} ({index + 1} of {len(todo)})")
        if name in RECORDING_EXTENSIONS:
            run_in_child_process(
                _compute_extension_in_child,
                {
                    "folder": str(folder),
                    "name": name,
                    "params": EXTENSION_PARAMS.get(name, {}),
                    "trust_pickles": trust,
                },
                ctx,
                label=f"computing {name}",
                progress_from=start,
                progress_to=end,
                expected_s=_expected_seconds(analyzer),
            )
            analyzer, _ = open_analyzer(folder, trust_pickles=trust)
        else:
            compute_missing_extensions(analyzer, (name,), no_recording=status.no_recording)
        computed.append(name)
    ctx.report(1.0, "extensions ready")
    (ctx.output_dir / "computed.json").write_text(json.dumps(computed))
    return {"analyzer": str(folder), "computed": computed}


def run_judge_job(inputs: dict[str, Any], ctx: JobContext, *, env: JobEnvironment) -> dict[str, Any]:
    from engines.curation.review import CurationReview

    folder = resolve_analyzer_folder(inputs["analyzer"], env)
    review = CurationReview.open(
        env.workspace, folder, session=f"job-{ctx.job.id}", llm=env.llm, trust_pickles=env.trust_pickles
    )

    def report(fraction: float, message: str) -> None:
        try:
            ctx.report(fraction, message)
        except Cancelled:
            pass  # ``cancel`` below stops the run cleanly; the job is marked cancelled afterwards

    run = review.run_judge(int(inputs["run_id"]), progress=report, cancel=ctx.cancelled)
    write_reasoning_csv(
        ctx.output_dir / "merge_reasoning.csv", review.store.decisions(run.id), review.verdicts()
    )
    if ctx.cancelled():
        raise Cancelled(ctx.stop_reason())
    return {
        "run_id": run.id,
        "status": run.status,
        "n_groups": run.n_groups,
        "n_done": run.n_done,
        "n_errors": run.n_errors,
        "tokens_in": run.tokens_in,
        "tokens_out": run.tokens_out,
        "cost_usd": round(run.cost_usd, 6),
        "message": run.message,
    }


def run_apply(inputs: dict[str, Any], ctx: JobContext, *, env: JobEnvironment) -> dict[str, Any]:
    from engines.curation.apply import apply_curation_to_analyzer

    folder = resolve_analyzer_folder(inputs["analyzer"], env)
    analyzer, _ = open_analyzer(folder, trust_pickles=env.trust_pickles)
    report = apply_curation_to_analyzer(
        analyzer,
        inputs["curation"],
        ctx.output_dir / "analyzer",
        censor_ms=inputs.get("censor_ms", 0.4),
        progress=ctx.report,
        cancel=ctx.cancelled,
    )
    summary = report.to_json()
    (ctx.output_dir / "report.json").write_text(json.dumps(summary, indent=1, default=str))
    return {key: value for key, value in summary.items() if key != "table"}


def job_kinds(env: JobEnvironment) -> list[JobKind]:
    """The three curation kinds, bound to ``env`` (workspace, allowed roots, model endpoint)."""
    return [
        JobKind(
            EXTENSIONS_KIND,
            partial(run_extensions, env=env),
            CODE_VERSIONS[EXTENSIONS_KIND],
            "Compute the analyzer extensions curation needs",
            ("analyzer",),
        ),
        JobKind(
            JUDGE_KIND,
            partial(run_judge_job, env=env),
            CODE_VERSIONS[JUDGE_KIND],
            "Judge candidate merge groups (metrics or VLM)",
            ("analyzer", "run_id"),
        ),
        JobKind(
            APPLY_KIND,
            partial(run_apply, env=env),
            CODE_VERSIONS[APPLY_KIND],
            "Apply merges and labels into a new analyzer",
            ("analyzer", "curation"),
        ),
    ]
