"""How far to trust the metrics judge: its raw score mapped to the probability that a group is a true merge.

The judge's score is a sum of hand-set log-odds, so a score of 0.9 need not mean "right 9 times in
10". The map from score to P(true merge) is fitted once on generated recordings with known faults
(``calibration_fit``: isotonic regression, smoothed so no bin claims certainty from a few groups) and
shipped as breakpoints in ``calibration_metrics.json`` (plain JSON, no pickle), applied here with
``numpy.interp``. It holds for the judge settings it was fitted with (the file records them); a judge
with other settings gets no calibrated probability rather than a wrong one.

The same module measures calibration: reliability bins (predicted vs observed, with counts) and the
expected calibration error over 10 equal-width bins, for the benchmark and the page's diagram.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from engines.curation.model import MergeDecision

__all__ = [
    "CALIBRATION_FILE",
    "CalibrationMap",
    "ReliabilityBin",
    "ReliabilityReport",
    "review_reliability",
    "fit_reliability",
    "load_calibration",
    "calibrated_probability",
    "reliability_bins",
    "expected_calibration_error",
    "group_is_true_merge",
]

CALIBRATION_FILE = Path(__file__).with_name("calibration_metrics.json")
N_BINS = 10


@dataclass(frozen=True)
class ReliabilityBin:
    """One equal-width bin of predicted probability: how many groups fell in it, their mean predicted
    probability and the fraction that were true merges (None when the bin is empty)."""

    low: float
    high: float
    count: int
    mean_predicted: float | None
    observed: float | None


@dataclass(frozen=True)
class CalibrationMap:
    """Breakpoints from raw score to P(true merge), for one judge with the settings in ``judge_params``."""

    judge: str
    judge_params: dict[str, Any]
    scores: tuple[float, ...]
    probabilities: tuple[float, ...]
    fit_summary: dict[str, Any]
    """What it was fitted on (seeds, recordings, group counts) and the fit data's reliability bins."""

    def probability(self, score: float) -> float:
        """P(true merge) for a raw score in [0, 1] (piecewise linear between breakpoints)."""
        return float(np.interp(score, self.scores, self.probabilities))

    def applies_to(self, judge: str, params: dict[str, Any]) -> bool:
        """Whether this map was fitted for ``judge`` with these settings (compared as JSON)."""
        return judge == self.judge and _as_json(params) == _as_json(self.judge_params)

    def fit_bins(self) -> list[ReliabilityBin]:
        """The reliability bins of the fit data, as stored in the file."""
        return [ReliabilityBin(**b) for b in self.fit_summary.get("reliability", [])]

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> CalibrationMap:
        scores = tuple(float(s) for s in payload["scores"])
        probabilities = tuple(float(p) for p in payload["probabilities"])
        if len(scores) != len(probabilities) or len(scores) < 2 or list(scores) != sorted(scores):
            raise ValueError("calibration file: scores must be sorted and as many as the probabilities")
        return cls(
            judge=str(payload["judge"]),
            judge_params=dict(payload["judge_params"]),
            scores=scores,
            probabilities=probabilities,
            fit_summary=dict(payload.get("fit_summary", {})),
        )


def _as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@lru_cache(maxsize=4)
def load_calibration(path: Path = CALIBRATION_FILE) -> CalibrationMap:
    """The shipped map (read once per process and path: it is a read-only constant of the release)."""
    return CalibrationMap.from_json(json.loads(Path(path).read_text()))


def calibrated_probability(judge: str, params: Any, score: float | None) -> float | None:
    """P(true merge) for a judge's raw score, or None when no shipped map fits this judge's settings."""
    if score is None:
        return None
    calibration = load_calibration()
    plain = asdict(params) if hasattr(params, "__dataclass_fields__") else dict(params)
    if not calibration.applies_to(judge, plain):
        return None
    return round(calibration.probability(score), 4)


def group_is_true_merge(unit_ids: Sequence[Any], true_pairs: set[frozenset[Any]]) -> bool:
    """Whether any two of the group's units hold the same true unit (a merge a perfect curator makes)."""
    return any(frozenset(pair) in true_pairs for pair in combinations(unit_ids, 2))


def _bin_index(p: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bins over [0, 1]; 1.0 falls in the last bin."""
    return np.minimum((p * n_bins).astype(int), n_bins - 1)


def reliability_bins(
    probabilities: ArrayLike, outcomes: ArrayLike, n_bins: int = N_BINS
) -> list[ReliabilityBin]:
    """Predicted probability vs observed frequency in ``n_bins`` equal-width bins (empty bins included)."""
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    y = np.asarray(outcomes, dtype=float)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} probabilities but {y.size} outcomes; give one outcome per probability")
    index = _bin_index(p, n_bins)
    bins = []
    for b in range(n_bins):
        inside = index == b
        count = int(inside.sum())
        bins.append(
            ReliabilityBin(
                low=b / n_bins,
                high=(b + 1) / n_bins,
                count=count,
                mean_predicted=round(float(p[inside].mean()), 4) if count else None,
                observed=round(float(y[inside].mean()), 4) if count else None,
            )
        )
    return bins


def expected_calibration_error(probabilities: ArrayLike, outcomes: ArrayLike, n_bins: int = N_BINS) -> float:
    """Sum over bins of (bin's share of groups) x |mean predicted - observed frequency|; 0 is perfect."""
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    y = np.asarray(outcomes, dtype=float)
    if p.size == 0:
        raise ValueError("no probabilities to measure: judge some groups first")
    if p.shape != y.shape:
        raise ValueError(f"{p.size} probabilities but {y.size} outcomes; give one outcome per probability")
    index = _bin_index(p, n_bins)
    total = 0.0
    for b in range(n_bins):
        inside = index == b
        if inside.any():
            total += inside.sum() / p.size * abs(p[inside].mean() - y[inside].mean())
    return float(total)


@dataclass(frozen=True)
class ReliabilityReport:
    """What the page's reliability diagram shows: bins, their ECE and where the points came from."""

    title: str
    note: str
    bins: list[ReliabilityBin]
    ece: float
    n: int


def review_reliability(
    decisions: Iterable[MergeDecision], true_groups: Iterable[Sequence[Any]]
) -> ReliabilityReport | None:
    """Calibration measured on a review whose true merges are known (the demo): each decided group with a
    calibrated probability against whether it holds a true merge; None when no group has one yet."""
    true_pairs = {frozenset(p) for g in true_groups for p in combinations(g, 2)}
    found = [(d.p_merge, group_is_true_merge(d.unit_ids, true_pairs)) for d in decisions if d.ok]
    points = [(p, o) for p, o in found if p is not None]
    if not points:
        return None
    probabilities, outcomes = [p for p, _ in points], [o for _, o in points]
    return ReliabilityReport(
        title="Calibration on this demo (its true merges are known)",
        note=f"{len(points)} judged groups of the demo, a recording the calibration was not fitted on.",
        bins=reliability_bins(probabilities, outcomes),
        ece=expected_calibration_error(probabilities, outcomes),
        n=len(points),
    )


def fit_reliability(calibration: CalibrationMap) -> ReliabilityReport:
    """The shipped map's calibration on its own fit data (for analyzers whose true merges are unknown)."""
    summary = calibration.fit_summary
    return ReliabilityReport(
        title="Calibration on the fit data (this analyzer's true merges are unknown)",
        note=(
            f"{summary.get('n_groups', 0)} groups of {len(summary.get('recordings', []))} generated "
            "recordings the map was fitted on: in-sample, so it flatters the map."
        ),
        bins=calibration.fit_bins(),
        ece=float(summary.get("ece_calibrated_in_sample", 0.0)),
        n=int(summary.get("n_groups", 0)),
    )
