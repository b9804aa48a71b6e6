"""Fitting the metrics judge's calibration map on generated ground truth, and writing the shipped file.

``python -m engines.curation.calibration_fit`` regenerates ``calibration_metrics.json`` from
``FIT_RECORDINGS`` (several seeds, recording lengths and unit counts, a few minutes on two cores).
Each recording is built by ``build_ground_truth``, given the curation extensions, searched with
the recommended candidate union (what the page and the benchmark run first) and judged by the
default ``MetricsJudge``; each judged group gives one (raw score, holds a true merge) point.

Seeds 7 (the demo) and 11 (the benchmark) are never fitted on, so both measure calibration on
recordings the map has not seen. Everything is seeded, so a rerun writes the same file; the points
are stored with the breakpoints so a test can check both without regenerating every recording.

There is one map: the metrics judge has one configuration (``MetricsJudgeParams()``; no page or
command line option changes it). The vision-language judge is not calibrated.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engines.curation.calibration import (
    CALIBRATION_FILE,
    CalibrationMap,
    expected_calibration_error,
    group_is_true_merge,
    reliability_bins,
)

__all__ = [
    "FitRecording",
    "FIT_RECORDINGS",
    "HELD_OUT_SEEDS",
    "fit_points",
    "fit_breakpoints",
    "build_calibration",
    "main",
]

FIT_EXTENSION_PARAMS = {"noise_levels": {"random_slices_kwargs": {"seed": 0}}}
"""Noise levels are estimated from random chunks of the recording, unseeded by default: they feed the SNR and
quality metrics, hence the candidate list and the scores, so an unseeded fit changed from run to run (as
did the analyzer's main channels, hence sparsity and templates: ``create_sorting_analyzer`` gets a seed)."""

HELD_OUT_SEEDS = (7, 11)
"""The demo's and the benchmark's seeds: never fitted on."""


@dataclass(frozen=True)
class FitRecording:
    """One generated recording the map is fitted on (see ``build_ground_truth``)."""

    seed: int
    duration_s: float
    num_units: int
    num_channels: int = 16
    faults_each: int = 2
    """Amplitude, temporal and random splits and duplicates: this many of each."""
    firing_rate_hz: float = 15.0

    @property
    def name(self) -> str:
        return f"seed{self.seed}-{self.duration_s:g}s-{self.num_units}u"


FIT_RECORDINGS: tuple[FitRecording, ...] = (
    FitRecording(1, 20.0, 12, faults_each=1),
    FitRecording(2, 30.0, 16, firing_rate_hz=20.0),
    FitRecording(3, 60.0, 24),
    FitRecording(4, 120.0, 40, num_channels=32, faults_each=4),
    FitRecording(5, 30.0, 20, firing_rate_hz=8.0),
    FitRecording(6, 90.0, 32, num_channels=32, faults_each=3, firing_rate_hz=10.0),
    FitRecording(8, 45.0, 20, firing_rate_hz=12.0),
    FitRecording(9, 240.0, 60, num_channels=32, faults_each=5),
)
"""The first is the smallest (the test regenerates it); lengths and rates vary so that some groups have
few spikes and the judge is unsure of them."""


def fit_points(recording: FitRecording) -> list[tuple[float, bool]]:
    """(raw score, group holds a true merge) for every group the metrics judge decided on this recording;
    costs one generated recording with its extensions (seconds to a minute)."""
    from spikeinterface.core import create_sorting_analyzer

    from engines.curation.candidates import CandidateRequest, find_candidates
    from engines.curation.data import AnalyzerData
    from engines.curation.extensions import compute_missing_extensions
    from engines.curation.ground_truth import InjectedFaults, build_ground_truth
    from engines.curation.judge import JudgeContext, run_judge
    from engines.curation.metrics_judge import MetricsJudge
    from engines.curation.model import CandidateGroup

    if recording.seed in HELD_OUT_SEEDS:
        raise ValueError(f"seed {recording.seed} is held out (the demo's or the benchmark's); pick another")
    k = recording.faults_each
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        truth = build_ground_truth(
            recording.duration_s,
            recording.num_units,
            recording.num_channels,
            InjectedFaults(k, k, k, k),
            seed=recording.seed,
            firing_rate_hz=recording.firing_rate_hz,
        )
        analyzer = create_sorting_analyzer(
            truth.sorting, truth.recording, format="memory", sparse=True, seed=0
        )
        compute_missing_extensions(analyzer, params=FIT_EXTENSION_PARAMS)
        candidates = find_candidates(analyzer, CandidateRequest.recommended())
    groups = [CandidateGroup(i, g) for i, g in enumerate(candidates.groups)]
    decisions = run_judge(MetricsJudge(), groups, JudgeContext(AnalyzerData(analyzer)))
    true_pairs = truth.true_pairs()
    return [
        (float(d.score), group_is_true_merge(d.unit_ids, true_pairs))
        for d in decisions
        if d.ok and d.score is not None
    ]


def fit_breakpoints(scores: Sequence[float], outcomes: Sequence[bool]) -> tuple[list[float], list[float]]:
    """Isotonic regression of outcome on score, each block's rate smoothed as (merges + 1) / (groups + 2)
    (a block of 3 merges out of 3 says 0.8, not certainty), kept monotone; returns breakpoints over [0, 1]."""
    from sklearn.isotonic import IsotonicRegression

    x = np.asarray(scores, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    if x.size < 2 or len(set(y.tolist())) < 2:
        raise ValueError("fitting needs both true merges and non-merges among the points")
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0).fit(x, y).predict(x)
    starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
    ends = np.r_[starts[1:], x.size]
    counts = (ends - starts).astype(float)
    merges = np.array([y[s:e].sum() for s, e in zip(starts, ends)])
    smoothed = (merges + 1.0) / (counts + 2.0)
    block = np.arange(starts.size, dtype=float)
    monotone = IsotonicRegression().fit(block, smoothed, sample_weight=counts + 2.0).predict(block)
    xs: list[float] = []
    ps: list[float] = []
    for s, e, p in zip(starts, ends, monotone):
        for edge in sorted({float(x[s]), float(x[e - 1])}):
            xs.append(round(edge, 4))
            ps.append(round(float(p), 4))
    if xs[0] > 0.0:
        xs, ps = [0.0, *xs], [ps[0], *ps]
    if xs[-1] < 1.0:
        xs, ps = [*xs, 1.0], [*ps, ps[-1]]
    return xs, ps


def build_calibration(points: dict[str, list[tuple[float, bool]]]) -> dict[str, Any]:
    """The calibration file's content from each recording's points (see ``fit_points``)."""
    from engines.curation.metrics_judge import MetricsJudgeParams

    scores = [s for found in points.values() for s, _ in found]
    outcomes = [o for found in points.values() for _, o in found]
    xs, ps = fit_breakpoints(scores, outcomes)
    calibrated = np.interp(scores, xs, ps)
    return {
        "judge": "metrics",
        "judge_params": json.loads(json.dumps(asdict(MetricsJudgeParams()))),
        "method": "isotonic, blocks smoothed (merges + 1) / (groups + 2), linear between breakpoints",
        "scores": xs,
        "probabilities": ps,
        "fit_summary": {
            "recordings": [asdict(r) for r in FIT_RECORDINGS if r.name in points],
            "held_out_seeds": list(HELD_OUT_SEEDS),
            "n_groups": len(scores),
            "n_true_merges": int(sum(outcomes)),
            "ece_raw": round(expected_calibration_error(scores, outcomes), 4),
            "ece_calibrated_in_sample": round(expected_calibration_error(calibrated, outcomes), 4),
            "reliability": [asdict(b) for b in reliability_bins(calibrated, outcomes)],
            "points": {name: [[s, int(o)] for s, o in found] for name, found in points.items()},
        },
    }


def write_calibration(payload: dict[str, Any], path: Path = CALIBRATION_FILE) -> Path:
    """Write the file so that a rerun with the same points changes no byte (and check it loads)."""
    CalibrationMap.from_json(payload)
    Path(path).write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    return Path(path)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description="Fit the metrics judge's calibration map and write it.")
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    parser.add_argument("--recordings", type=int, default=len(FIT_RECORDINGS), help="use the first N")
    args = parser.parse_args(argv)
    points = {}
    for recording in FIT_RECORDINGS[: args.recordings]:
        points[recording.name] = fit_points(recording)
        found = points[recording.name]
        print(f"{recording.name}: {len(found)} groups, {sum(o for _, o in found)} true merges", flush=True)
    path = write_calibration(build_calibration(points), args.out)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
