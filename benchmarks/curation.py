"""Curation benchmark: stage times, image drawing vs spikeinterface.widgets, VLM concurrency, judge vs
presets.

A generated 100-unit, 10-minute recording whose sorting has injected faults of every kind
(amplitude splits, temporal splits, random splits, duplicates; true merges tracked). Runs:

- extensions on the faulty sorting's analyzer (in memory), candidates (the recommended union);
- both images of every candidate group with the engine, and the same two images drawn with
  ``spikeinterface.widgets`` (``plot_crosscorrelograms``, ``plot_amplitudes`` with histograms)
  at 100 dpi for a sample of groups;
- the VLM judge against the scripted OpenAI-compatible server (500 ms per call, 100 groups,
  3 calls per group, 20 workers): ideal time = calls x latency / workers, over measured;
- the metrics judge's pairwise F1 on the true merges beside every ``compute_merge_unit_groups``
  preset's on the same data;
- the metrics judge's calibration: expected calibration error (10 equal-width bins) of each decided
  group's calibrated P(merge) against whether it holds a true merge (``judge_ece``, floor <= 0.1),
  beside the raw score's. Seed 11 is never used to fit the shipped calibration map;
- scale (``_curation_scale.py``, in child processes): a generated 800-unit analyzer with 2,000+ candidate
  groups, the review grid paged without a browser (``units_800_page_ms``: median and p95 of a page
  change until the new cards are in the Panel models, images asked for after) and the peak resident
  memory of the process that opened and paged it (``units_800_peak_mb``), beside building every card at
  once and drawing every image up front. The analyzer is cached in ``--scale-workspace`` (about 30 s to
  make the first time); ``--no-scale`` skips this part.
- UnitRefine against bombcell (``unitrefine_bombcell_agreement``, see ``benchmarks/_unitrefine.py`` for
  the models and the label mapping): the given model folders (``--unitrefine-model``), else a cascade
  trained on a generated analyzer of seed 12.
- the judge against every preset on a grid of hard ground truths (``_curation_hard.py``: rates of a few
  Hz, twice the noise, partial duplicates, 150 units): per cell P/R/F1 (``grid``), ``grid_min_margin``
  (the smallest judge F1 minus best preset F1, floor >= 0) and ``grid_min_judge_precision`` (floor
  >= 0.9); ``--no-hard`` skips it.

The last line printed is one JSON object. ``--duration``/``--units`` make a quick smoke run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._curation_hard import SEED_BASE, pairs_of, run_hard_grid, scores  # noqa: E402
from benchmarks._curation_scale import run_scale  # noqa: E402
from benchmarks._floors import Floors, described, holds  # noqa: E402
from benchmarks._unitrefine import unitrefine_agreement  # noqa: E402
from engines.agent.config import LlmConfig  # noqa: E402
from engines.curation import (
    AnalyzerData,
    CandidateGroup,
    CandidateRequest,
    GroupImages,
    InjectedFaults,  # noqa: E402
    JudgeContext,
    MetricsJudge,
    VlmJudge,
    VlmJudgeParams,
    build_ground_truth,
    compute_missing_extensions,
    find_candidates,
    run_judge,
)
from engines.curation.analyzer import analyzer_fingerprint  # noqa: E402
from engines.curation.calibration import expected_calibration_error, group_is_true_merge  # noqa: E402
from engines.curation.candidates import PRESETS  # noqa: E402
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply  # noqa: E402

FLOORS: Floors = {
    "judge_ece": ("<=", 0.1),
    "units_800_page_p95_ms": ("<=", 300.0),
    "units_800_peak_mb": ("<=", 1024.0),
    "grid_min_margin": (">=", 0.0),
    "grid_min_judge_precision": (">=", 0.9),
}
"""Issue 18 items 8 and 6: the judge knows when it is unsure; 800 units page in under 300 ms, under 1 GB.
Issue 20: on every hard cell the judge is at least as good as the best preset, with precision >= 0.9."""


def calibration_errors(decisions, true_pairs: set[frozenset]) -> dict[str, float]:
    """ECE of the calibrated probability and of the raw score, over the groups the judge decided."""
    decided = [d for d in decisions if d.ok and d.p_merge is not None]
    outcomes = [group_is_true_merge(d.unit_ids, true_pairs) for d in decided]
    return {
        "judge_ece": round(expected_calibration_error([d.p_merge for d in decided], outcomes), 4),
        "judge_ece_raw_score": round(expected_calibration_error([d.score for d in decided], outcomes), 4),
        "judge_ece_groups": len(decided),
    }


def widget_seconds(analyzer, groups, folder: Path) -> list[float]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import spikeinterface.widgets as sw

    times = []
    for i, group in enumerate(groups):
        started = time.perf_counter()
        w = sw.plot_crosscorrelograms(analyzer, unit_ids=list(group), backend="matplotlib")
        w.figure.savefig(folder / f"ccg-{i}.png", dpi=100)
        plt.close(w.figure)
        w = sw.plot_amplitudes(analyzer, unit_ids=list(group), plot_histograms=True, backend="matplotlib")
        w.figure.savefig(folder / f"amp-{i}.png", dpi=100)
        plt.close(w.figure)
        times.append(time.perf_counter() - started)
    return times


def vlm_efficiency(
    data: AnalyzerData, images: GroupImages, groups: list[CandidateGroup], latency_s: float, workers: int
) -> dict[str, float]:
    def responder(body: dict) -> ScriptedReply:
        if "Answer with one JSON object" in body["messages"][0]["content"]:
            return ScriptedReply(
                json.dumps({"decision": "not merge", "confidence": 0.7, "reasoning": "flat"})
            )
        return ScriptedReply("Flat cross-correlogram. Feature verdict: not merge")

    for group in groups:  # drawn before timing: the measure is of the calls, not of matplotlib
        images.images(group.unit_ids)
    with ScriptedOpenAIServer(responder=responder, latency_s=latency_s) as server:
        judge = VlmJudge(
            LlmConfig(model="bench", base_url=server.base_url, api_key="x", timeout_s=30),
            VlmJudgeParams(num_workers=workers),
            max_workers=workers,  # the benchmark is the operator here: it measures 20 parallel calls
        )
        started = time.perf_counter()
        decisions = run_judge(judge, groups, JudgeContext(data, images))
        measured = time.perf_counter() - started
        calls = len(server.requests)
        peak = server.max_concurrent
    ideal = calls * latency_s / workers
    return {
        "efficiency": round(ideal / measured, 4),
        "measured_s": round(measured, 3),
        "ideal_s": round(ideal, 3),
        "calls": calls,
        "peak_concurrency": peak,
        "errors": sum(not d.ok for d in decisions),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--faults", type=int, default=6, help="faults of each kind")
    parser.add_argument("--widget-groups", type=int, default=20)
    parser.add_argument(
        "--with-feature-neighbors",
        action="store_true",
        help="also score feature_neighbors (computes spike_locations and a kNN over every spike: "
        "many minutes at 10 min x 100 units; F1 0.07 on the smoke run)",
    )
    parser.add_argument("--no-scale", action="store_true", help="skip the 800-unit paging and memory part")
    parser.add_argument(
        "--no-hard", action="store_true", help="skip the grid of hard ground truths (~15 min)"
    )
    parser.add_argument(
        "--hard-seed-base",
        type=int,
        default=SEED_BASE,
        help="seed of the grid's first cell (the judge was tuned on the default: another checks it holds)",
    )
    parser.add_argument(
        "--scale-workspace",
        type=Path,
        default=Path(tempfile.gettempdir()) / "neurodeck-curation-scale",
        help="where the 800-unit analyzer, its candidates and images are kept between runs",
    )
    parser.add_argument(
        "--unitrefine-model",
        action="append",
        default=[],
        metavar="DIR",
        help="a UnitRefine model folder to compare with bombcell (repeatable; default: train a cascade)",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from spikeinterface.core import create_sorting_analyzer

    k = args.faults
    started = time.perf_counter()
    truth = build_ground_truth(args.duration, args.units, args.channels, InjectedFaults(k, k, k, k), seed=11)
    generate_s = time.perf_counter() - started
    true_pairs = truth.true_pairs()
    analyzer = create_sorting_analyzer(truth.sorting, truth.recording, format="memory", sparse=True)
    started = time.perf_counter()
    compute_missing_extensions(analyzer)
    extensions_s = time.perf_counter() - started
    print(
        f"ground truth {generate_s:.1f} s; {len(analyzer.unit_ids)} units, {len(true_pairs)} true pairs; "
        f"extensions {extensions_s:.1f} s"
    )

    started = time.perf_counter()
    candidates = find_candidates(analyzer, CandidateRequest.recommended())
    candidates_s = time.perf_counter() - started
    groups = [CandidateGroup(i, g) for i, g in enumerate(candidates.groups)]
    print(
        f"candidates {candidates_s:.1f} s: {len(groups)} groups, recall "
        f"{scores(pairs_of(candidates.groups), true_pairs)['recall']}"
    )

    preset_scores = {}
    for name in PRESETS:
        if name == "feature_neighbors" and not args.with_feature_neighbors:
            continue
        if name == "feature_neighbors" and "spike_locations" not in analyzer.extensions:
            analyzer.compute("spike_locations", n_jobs=1, progress_bar=False)
        found = find_candidates(analyzer, CandidateRequest.preset(name))
        preset_scores[name] = scores(pairs_of(found.groups), true_pairs)
        print(f"preset {name}: {preset_scores[name]}")
    best = max(preset_scores, key=lambda n: preset_scores[n]["f1"])

    data = AnalyzerData(analyzer)
    with tempfile.TemporaryDirectory() as tmp:
        images = GroupImages(data, Path(tmp) / "images", analyzer_fingerprint(analyzer))
        images.images(groups[0].unit_ids)  # font cache and first-draw costs, for both methods alike
        started = time.perf_counter()
        for group in groups:
            images.images(group.unit_ids)
        images_s = time.perf_counter() - started
        sample = [g.unit_ids for g in groups[: args.widget_groups]]
        widget_times = widget_seconds(analyzer, sample[:1], Path(tmp))  # warm-up
        widget_times = widget_seconds(analyzer, sample, Path(tmp))
        engine_median = images_s / len(groups)
        widget_median = float(np.median(widget_times))
        print(
            f"images: engine {engine_median:.3f} s/group over {len(groups)} groups; spikeinterface.widgets "
            f"median {widget_median:.3f} s/group over {len(sample)} ({widget_median / engine_median:.1f}x)"
        )

        started = time.perf_counter()
        decisions = run_judge(MetricsJudge(), groups, JudgeContext(data))
        judge_s = time.perf_counter() - started
        judge = scores(pairs_of(s for d in decisions if d.ok for s in d.merge_groups), true_pairs)
        print(f"metrics judge {judge_s:.1f} s: {judge} vs best preset {best} {preset_scores[best]}")
        calibration = calibration_errors(decisions, true_pairs)
        print(
            f"metrics judge calibration over {calibration['judge_ece_groups']} groups: ECE "
            f"{calibration['judge_ece']} calibrated, {calibration['judge_ece_raw_score']} raw score"
        )

        vlm_groups = [CandidateGroup(i, groups[i % len(groups)].unit_ids) for i in range(100)]
        vlm = vlm_efficiency(data, images, vlm_groups, latency_s=0.5, workers=20)
        print(f"VLM judge: {vlm}")

    unitrefine = unitrefine_agreement(
        analyzer, args.unitrefine_model, args.duration, args.units, args.channels, args.faults
    )

    result = {
        "n_units": len(analyzer.unit_ids),
        "duration_s": args.duration,
        "n_true_pairs": len(true_pairs),
        "n_candidate_groups": len(groups),
        "extensions_s": round(extensions_s, 2),
        "candidates_s": round(candidates_s, 2),
        "images_s": round(images_s, 2),
        "image_s_per_group": round(images_s / len(groups), 4),
        "si_widgets_s_per_group": round(widget_median, 4),
        "vlm_parallel_efficiency": vlm["efficiency"],
        "vlm_measured_s": vlm["measured_s"],
        "vlm_ideal_s": vlm["ideal_s"],
        "judge_f1": judge["f1"],
        "judge_precision": judge["precision"],
        "judge_recall": judge["recall"],
        "best_preset": best,
        "best_preset_f1": preset_scores[best]["f1"],
        "best_preset_precision": preset_scores[best]["precision"],
        "best_preset_recall": preset_scores[best]["recall"],
        "preset_f1": {name: s["f1"] for name, s in preset_scores.items()},
        **calibration,
        **unitrefine,
    }
    if not args.no_hard:
        result.update(run_hard_grid(seed_base=args.hard_seed_base))
    if not args.no_scale:
        scale = run_scale(args.scale_workspace)
        print(
            f"800 units, {scale['units_800_groups']} groups: page {scale['units_800_page_ms']} ms, peak "
            f"{scale['units_800_peak_mb']} MB; every card at once {scale['units_800_all_cards_s']} s "
            f"({scale['units_800_all_cards_vs_page']}x a page), every image up front "
            f"~{scale['units_800_images_upfront_s']} s ({scale['units_800_images_upfront_vs_page']}x)"
        )
        result.update(scale, units_800_page_p95_ms=scale["units_800_page_ms"]["p95"])
    result.update(floors=described(FLOORS), holds=holds(result, FLOORS))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
