"""Headless curation for a cluster node: ``python run.py curate --analyzer DIR --out DIR``.

``curate_batch`` makes the same engine calls the page makes: compute what is missing, find
candidates, judge every group, label units, and write the reasoning CSV and the curation
JSON into the output folder (its ``curation/decisions.sqlite`` keeps every decision, so the
page can open the same review later).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines._progress import Cancel, Progress, no_progress, sub_progress
from engines.agent.config import LlmConfig
from engines.curation.candidates import PRESETS, CandidateRequest
from engines.curation.errors import CurationError
from engines.curation.exports import (
    build_curation,
    merges_from_review,
    write_curation_json,
    write_reasoning_csv,
)
from engines.curation.model import JudgeRun
from engines.curation.review import CurationReview
from engines.errors import NeurodeckError

__all__ = ["BatchResult", "curate_batch", "main", "build_parser"]


@dataclass
class BatchResult:
    out_dir: Path
    reasoning_csv: Path
    curation_json: Path
    run: JudgeRun
    n_groups: int
    merges: list[list[Any]]
    seconds: dict[str, float] = field(default_factory=dict)
    label_error: str = ""


def curate_batch(
    analyzer: str | Path,
    judge: str = "metrics",
    preset: str | None = None,
    workers: int = 8,
    out_dir: str | Path = "curation-out",
    progress: Progress = no_progress,
    cancel: Cancel = None,
    llm: LlmConfig | None = None,
    labeler: str | None = "bombcell",
    trust_pickles: bool = False,
) -> BatchResult:
    """Curate the analyzer folder ``analyzer`` end to end; ``preset`` None uses the recommended candidates
    (four presets, a shape-only run and duplicates). Writes ``<judge>_merge_reasoning.csv`` and
    ``curation.json`` into ``out_dir`` and returns where they are and what the judge decided.
    ``trust_pickles`` lets the folder's pickles be loaded (that runs code written into the folder)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    review = CurationReview.open(out, analyzer, session="batch", llm=llm, trust_pickles=trust_pickles)
    review.compute_extensions(progress=sub_progress(progress, 0.0, 0.3), cancel=cancel)
    seconds["extensions"] = time.perf_counter() - started
    request = (
        CandidateRequest.recommended() if preset in (None, "recommended") else CandidateRequest.preset(preset)
    )
    mark = time.perf_counter()
    groups = review.find_candidates(request, progress=sub_progress(progress, 0.3, 0.35), cancel=cancel)
    seconds["candidates"] = time.perf_counter() - mark
    mark = time.perf_counter()
    run = review.judge(
        judge,
        [g.group_id for g in groups],
        {"num_workers": workers},
        progress=sub_progress(progress, 0.35, 0.95),
        cancel=cancel,
    )
    seconds["judge"] = time.perf_counter() - mark
    label_error = ""
    if labeler:
        try:
            review.label_units(labeler)
        except CurationError as exc:
            label_error = str(exc)
    decisions = review.store.decisions(run.id)
    csv = write_reasoning_csv(out / f"{judge}_merge_reasoning.csv", decisions)
    merges = merges_from_review({d.group_id: d for d in decisions}, {}, "judge")
    curation = build_curation(review.analyzer.unit_ids, merges, review.labels())
    curation_json = write_curation_json(out / "curation.json", curation)
    progress(1.0, f"{len(curation['merges'])} merges from {len(groups)} groups")
    return BatchResult(
        out_dir=out,
        reasoning_csv=csv,
        curation_json=curation_json,
        run=run,
        n_groups=len(groups),
        merges=[m["unit_ids"] for m in curation["merges"]],
        seconds=seconds,
        label_error=label_error,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurodeck curate",
        description="Judge merge candidates of a SortingAnalyzer "
        "and write the reasoning CSV and a SpikeInterface curation JSON.",
    )
    parser.add_argument("--analyzer", required=True, help="SortingAnalyzer folder (binary or .zarr)")
    parser.add_argument("--judge", choices=("metrics", "vlm"), default="metrics")
    parser.add_argument(
        "--preset",
        choices=("recommended", *PRESETS),
        default="recommended",
        help="candidate preset; 'recommended' unites several presets and duplicate detection",
    )
    parser.add_argument("--workers", type=int, default=8, help="VLM calls in flight at once (>= 1)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--model", default=os.environ.get("NEURODECK_LLM_MODEL", "gpt-4o-mini"))
    parser.add_argument(
        "--base-url",
        default=os.environ.get("OPENAI_BASE_URL"),
        help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per model call")
    parser.add_argument("--no-labels", action="store_true", help="skip the Bombcell unit labels")
    parser.add_argument(
        "--trust-pickles",
        action="store_true",
        help="load the analyzer's pickled recording and extensions (runs code written into the "
        "folder: only for folders you trust)",
    )
    return parser


class _Bar:
    """A terminal progress bar (tqdm) fed by progress callbacks."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=1000, file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed} {postfix}")

    def __call__(self, fraction: float, message: str) -> None:
        self._bar.n = int(1000 * min(1.0, max(0.0, fraction)))
        self._bar.set_postfix_str(message[:60], refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def main(argv: list[str] | None = None) -> int:
    """The ``curate`` sub-command; returns the exit status (errors print their message, not a traceback)."""
    args = build_parser().parse_args(argv)
    llm = None
    if args.judge == "vlm":
        llm = LlmConfig(
            model=args.model,
            base_url=args.base_url,
            api_key=os.environ.get("OPENAI_API_KEY"),
            timeout_s=args.timeout,
        )
    bar = _Bar()
    try:
        result = curate_batch(
            args.analyzer,
            args.judge,
            None if args.preset == "recommended" else args.preset,
            args.workers,
            args.out,
            progress=bar,
            llm=llm,
            labeler=None if args.no_labels else "bombcell",
            trust_pickles=args.trust_pickles,
        )
    except NeurodeckError as exc:
        bar.close()
        print(f"curate: {exc}", file=sys.stderr)
        return 1
    bar.close()
    run = result.run
    print(
        f"{result.n_groups} candidate groups judged by {run.judge}: {run.n_done - run.n_errors} decided, "
        f"{run.n_errors} errors, {len(result.merges)} merges; tokens {run.tokens_in}+{run.tokens_out}, "
        f"cost ${run.cost_usd:.4f}"
    )
    print(f"reasoning: {result.reasoning_csv}\ncuration:  {result.curation_json}")
    if result.label_error:
        print(f"labels skipped: {result.label_error}", file=sys.stderr)
    return 0 if run.n_errors == 0 else 2
