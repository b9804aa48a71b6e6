"""Pairwise evidence that two units are one neuron, computed from spike times, amplitudes and templates.

Private kernels of the metrics judge. The central test is the refractory period: spikes of
one neuron are never closer than ~1.5 ms, so the cross-correlogram of two halves of one
neuron is empty there, while two independent neurons coincide as often as their firing
rates predict. Expectations use firing rates measured in short time bins, so units active
at different times (a split in time) are not mistaken for a refractory dip: they simply
give no evidence. A peak of coincidences within a fraction of a millisecond is the mark of
a duplicated unit (the same spikes detected twice).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engines.curation.data import AnalyzerData

__all__ = ["EvidenceParams", "PairEvidence", "pair_evidence"]


@dataclass(frozen=True)
class EvidenceParams:
    """Windows and thresholds of the pairwise tests (milliseconds, micrometres, seconds)."""

    zero_lag_ms: float = 0.4
    """Coincidences closer than this are the same spike seen twice (duplicates)."""
    refractory_ms: float = 1.5
    """No two spikes of one neuron are closer than this."""
    flank_ms: tuple[float, float] = (5.0, 25.0)
    """Lags that measure the baseline coincidence rate of the pair."""
    contamination: float = 0.1
    """Share of the independent rate a real merge may still show in the refractory window."""
    rate_bin_s: float = 10.0
    """Bins in which firing rates are measured for the expected coincidences."""
    max_template_lag_ms: float = 0.5
    """Templates are compared at the best shift within this lag (duplicates are shifted copies)."""
    min_spikes: int = 10


@dataclass(frozen=True)
class PairEvidence:
    """What the pairwise tests found for units ``a`` and ``b`` (plain numbers, for reports and CSV)."""

    a: Any
    b: Any
    n_a: int
    n_b: int
    cosine: float | None
    similarity: float | None
    distance_um: float
    refractory_observed: int
    refractory_expected: float
    zero_lag_observed: int
    zero_lag_expected: float
    flank_ratio: float
    presence_overlap: float
    amplitude_gap: float | None
    """Gap between the two amplitude distributions in noise SDs (0 when they touch or overlap)."""
    llr_refractory: float
    llr_duplicate: float

    @property
    def zero_lag_fraction(self) -> float:
        return self.zero_lag_observed / max(1, min(self.n_a, self.n_b))

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _count_within(a: np.ndarray, b: np.ndarray, window: float) -> int:
    """Pairs (i in a, j in b) with |b_j - a_i| <= window (samples)."""
    if len(a) == 0 or len(b) == 0:
        return 0
    return int(np.sum(np.searchsorted(b, a + window, "right") - np.searchsorted(b, a - window, "left")))


def _coactivity(a: np.ndarray, b: np.ndarray, total: int, bin_samples: float) -> float:
    """Sum over time bins of n_a * n_b / bin length: coincidences per sample of lag window if independent."""
    edges = np.arange(0, total + bin_samples, bin_samples)
    if len(edges) < 2:
        edges = np.array([0, max(total, 1)])
    counts_a, _ = np.histogram(a, edges)
    counts_b, _ = np.histogram(b, edges)
    widths = np.diff(edges)
    return float(np.sum(counts_a * counts_b / widths))


def _presence_overlap(a: np.ndarray, b: np.ndarray, total: int, bins: int) -> float:
    """Shared share of the two units' activity over time (1: same profile, 0: never active together)."""
    edges = np.linspace(0, total, bins + 1)
    pa, _ = np.histogram(a, edges)
    pb, _ = np.histogram(b, edges)
    if pa.sum() == 0 or pb.sum() == 0:
        return 0.0
    return float(np.minimum(pa / pa.sum(), pb / pb.sum()).sum())


def _poisson_llr(observed: int, expected_same: float, expected_other: float) -> float:
    """log P(observed | same neuron) - log P(observed | independent), Poisson counts."""
    expected_same = max(expected_same, 1e-9)
    expected_other = max(expected_other, 1e-9)
    return observed * math.log(expected_same / expected_other) - (expected_same - expected_other)


def _best_cosine(ta: np.ndarray, tb: np.ndarray, max_lag: int) -> float:
    energy = np.maximum(np.ptp(ta, axis=0), np.ptp(tb, axis=0))
    channels = energy >= 0.1 * max(float(energy.max()), 1e-12)
    ta, tb = ta[:, channels].astype(np.float64), tb[:, channels].astype(np.float64)
    best = -1.0
    n = ta.shape[0]
    for lag in range(-max_lag, max_lag + 1):
        x = ta[max(0, lag) : n + min(0, lag)]
        y = tb[max(0, -lag) : n + min(0, -lag)]
        denom = float(np.linalg.norm(x) * np.linalg.norm(y))
        if denom > 0:
            best = max(best, float(np.sum(x * y)) / denom)
    return best


def _amplitude_gap(amp_a: np.ndarray, amp_b: np.ndarray) -> float | None:
    if len(amp_a) < 5 or len(amp_b) < 5:
        return None
    amp_a, amp_b = np.abs(amp_a), np.abs(amp_b)
    low, high = (amp_a, amp_b) if np.median(amp_a) <= np.median(amp_b) else (amp_b, amp_a)
    spread = 1.4826 * np.median(np.abs(np.concatenate([low - np.median(low), high - np.median(high)])))
    gap = float(np.percentile(high, 5) - np.percentile(low, 95))
    return max(0.0, gap / max(float(spread), 1e-9))


def pair_evidence(
    data: AnalyzerData, a: Any, b: Any, params: EvidenceParams = EvidenceParams()
) -> PairEvidence:
    """Every pairwise test for units ``a`` and ``b``; costs O(n log n) in their spike counts."""
    fs_ms = data.sampling_frequency / 1000.0
    sa, sb = data.spike_samples(a), data.spike_samples(b)
    zero_w, refr_w = params.zero_lag_ms * fs_ms, params.refractory_ms * fs_ms
    flank = (params.flank_ms[0] * fs_ms, params.flank_ms[1] * fs_ms)
    per_lag = _coactivity(sa, sb, data.total_samples, params.rate_bin_s * data.sampling_frequency)
    zero_obs = _count_within(sa, sb, zero_w)
    refr_obs = _count_within(sa, sb, refr_w) - zero_obs
    flank_obs = _count_within(sa, sb, flank[1]) - _count_within(sa, sb, flank[0])
    zero_exp, refr_exp = 2 * zero_w * per_lag, 2 * (refr_w - zero_w) * per_lag
    flank_exp = 2 * (flank[1] - flank[0]) * per_lag
    flank_ratio = (flank_obs + 1.0) / (flank_exp + 1.0)
    independent = refr_exp * flank_ratio
    llr_refractory = _poisson_llr(refr_obs, params.contamination * independent, independent)
    dup_share = zero_obs / max(1, min(len(sa), len(sb)))
    llr_duplicate = 0.0
    if zero_obs >= 5 and zero_obs > 5 * (zero_exp * flank_ratio + 1.0):
        llr_duplicate = float(min(12.0, 20.0 * dup_share))
    cosine = None
    if data.has_templates:
        cosine = _best_cosine(
            data.template(a), data.template(b), int(round(params.max_template_lag_ms * fs_ms))
        )
    gap = _amplitude_gap(data.amplitudes(a), data.amplitudes(b)) if data.has_amplitudes else None
    presence_bins = int(np.clip(data.duration_s / 5.0, 10, 50))
    return PairEvidence(
        a=a,
        b=b,
        n_a=len(sa),
        n_b=len(sb),
        cosine=cosine,
        similarity=data.pair_similarity(a, b),
        distance_um=data.distance_um(a, b),
        refractory_observed=int(refr_obs),
        refractory_expected=float(independent),
        zero_lag_observed=int(zero_obs),
        zero_lag_expected=float(zero_exp * flank_ratio),
        flank_ratio=float(flank_ratio),
        presence_overlap=_presence_overlap(sa, sb, data.total_samples, presence_bins),
        amplitude_gap=gap,
        llr_refractory=float(llr_refractory),
        llr_duplicate=llr_duplicate,
    )
