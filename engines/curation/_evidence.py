"""Pairwise evidence that two units are one neuron, computed from spike times, amplitudes and templates.

Private kernels of the metrics judge. The central test is the refractory period: spikes of
one neuron are never closer than ~1.5 ms, so the cross-correlogram of two halves of one
neuron is empty there, while two independent neurons coincide as often as their firing
rates predict. Expectations use firing rates measured in short time bins, so units active
at different times (a split in time) are not mistaken for a refractory dip: they simply
give no evidence. A peak of coincidences within a fraction of a millisecond is the mark of
a duplicated unit (the same spikes detected twice); coincidences there that make no such peak are
refractory violations like any other (two halves of one neuron never fire within 0.4 ms either,
and leaving them out once turned two neurons' chance coincidences into a dip).

Templates are compared by shape (best-shift cosine) and against their noise: the mean squared
difference over the sum of the two templates' squared standard errors (spike spread over the
square root of the spikes averaged), so two averages of one waveform score about 1 whatever
their amplitude, and a real difference scores more the more spikes back it.
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
    shape_z2: float | None = None
    """Mean squared template difference over its noise variance (~1: one waveform within noise)."""
    shape_z2_scaled: float | None = None
    """The same after scaling one template to the other (an amplitude split's halves differ by a scale)."""

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


def _shared_channels(ta: np.ndarray, tb: np.ndarray) -> np.ndarray:
    """Channels where either template has at least a tenth of the larger peak-to-peak."""
    energy = np.maximum(np.ptp(ta, axis=0), np.ptp(tb, axis=0))
    return energy >= 0.1 * max(float(energy.max()), 1e-12)


def _shifted(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    n = x.shape[0]
    return x[max(0, lag) : n + min(0, lag)], y[max(0, -lag) : n + min(0, -lag)]


def _best_cosine(ta: np.ndarray, tb: np.ndarray, max_lag: int) -> tuple[float, int]:
    """The templates' cosine at their best shift within ``max_lag`` samples, and that shift."""
    channels = _shared_channels(ta, tb)
    ta, tb = ta[:, channels].astype(np.float64), tb[:, channels].astype(np.float64)
    best, best_lag = -1.0, 0
    for lag in range(-max_lag, max_lag + 1):
        x, y = _shifted(ta, tb, lag)
        denom = float(np.linalg.norm(x) * np.linalg.norm(y))
        if denom > 0 and float(np.sum(x * y)) / denom > best:
            best, best_lag = float(np.sum(x * y)) / denom, lag
    return best, best_lag


def _shape_residual(
    ta: np.ndarray, tb: np.ndarray, ea: np.ndarray, eb: np.ndarray, lag: int
) -> tuple[float, float] | None:
    """Mean squared difference of two templates over its noise variance (the sum of their squared standard
    errors), as they are and with ``tb`` scaled to ``ta`` (an amplitude split differs by a scale). About 1 for
    two averages of one waveform; it grows with the number of spikes averaged when the waveforms differ, so
    the test gets sharper with evidence. ``None`` without standard errors on the shared channels."""
    channels = _shared_channels(ta, tb) & (np.abs(ea).max(axis=0) > 0) & (np.abs(eb).max(axis=0) > 0)
    if not channels.any():
        return None
    x, y = _shifted(ta[:, channels].astype(np.float64), tb[:, channels].astype(np.float64), lag)
    vx, vy = _shifted(ea[:, channels].astype(np.float64) ** 2, eb[:, channels].astype(np.float64) ** 2, lag)
    variance = np.maximum(vx + vy, 1e-12)
    scale = float(np.sum(x * y) / max(float(np.sum(y * y)), 1e-12))
    return float(np.mean((x - y) ** 2 / variance)), float(np.mean((x - scale * y) ** 2 / variance))


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
    flank_obs = _count_within(sa, sb, flank[1]) - _count_within(sa, sb, flank[0])
    zero_exp = 2 * zero_w * per_lag
    flank_exp = 2 * (flank[1] - flank[0]) * per_lag
    flank_ratio = (flank_obs + 1.0) / (flank_exp + 1.0)
    dup_share = zero_obs / max(1, min(len(sa), len(sb)))
    llr_duplicate = 0.0
    if zero_obs >= 5 and zero_obs > 5 * (zero_exp * flank_ratio + 1.0):
        llr_duplicate = float(min(12.0, 20.0 * dup_share))
    # Without a duplicate peak, coincidences within the zero-lag window are refractory violations like any
    # other: two halves of one neuron never fire within 0.4 ms either. Only a duplicate's peak is left out.
    inner = zero_w if llr_duplicate > 0 else 0.0
    refr_obs = _count_within(sa, sb, refr_w) - (zero_obs if llr_duplicate > 0 else 0)
    independent = 2 * (refr_w - inner) * per_lag * flank_ratio
    llr_refractory = _poisson_llr(refr_obs, params.contamination * independent, independent)
    cosine, residual = None, None
    if data.has_templates:
        ta, tb = data.template(a), data.template(b)
        cosine, lag = _best_cosine(ta, tb, int(round(params.max_template_lag_ms * fs_ms)))
        ea, eb = data.template_error(a), data.template_error(b)
        if ea is not None and eb is not None:
            residual = _shape_residual(ta, tb, ea, eb, lag)
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
        shape_z2=None if residual is None else residual[0],
        shape_z2_scaled=None if residual is None else residual[1],
    )
