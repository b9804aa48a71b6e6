"""The offline judge: spike-timing, waveform and amplitude evidence, weighed into a decision with reasons.

For every pair in a group it adds up log-odds (see ``_evidence``): the refractory test (the
strongest: one neuron never fires twice within ~1.5 ms), a near-zero-lag peak (a duplicate),
template shape, distance, amplitude continuity, and complementary activity in time (a unit
split by drift). A merge needs spike-timing evidence: a refractory dip, a duplicate peak or
complementary activity. Similar templates with an empty correlogram are not enough, because
an empty correlogram only means there were too few spikes to test. Pairs that pass are
joined into merge sets, never joining two sets that a pair between them contradicts.

When the evidence is thin the judge says so (``UNSURE``, "not enough evidence"), never a merge
by default. A refractory dip counts only when it is testable (``TESTABLE_REFRACTORY_LLR``: a few
coincidences were expected and none came). Below that the remaining evidence decides, weighed by
how much of it there is: waveforms identical across channels (best-shift cosine >= 0.99, from
templates of at least ``SHAPE_MIN_SPIKES`` spikes each), at the same place, with amplitudes that
continue one distribution and no coincidence in a thin correlogram, are one neuron
cut at random (``waveform_evidence``); a pair whose score leans to a merge without that is "not
enough evidence" for the reviewer: alike but not identical waveforms with amplitudes that
overlap within noise look the same whether they are one neuron or two. Amplitudes separated by
several noise SDs while both units fire at the same times are two neurons whatever the
correlogram (``AMPLITUDE_VETO_SD``).

Waveforms are also compared against their own noise (``shape_z2_scaled``: the mean squared
difference of the two templates, one scaled to the other, over the sum of their squared standard
errors, from the templates' spike-to-spike spread). It is about 1 for two averages of one waveform
and grows with the spikes averaged when the waveforms differ, so it weighs shape by how much
evidence there is where a fixed cosine cannot. It decides three ways, precision first: waveforms
within noise (``WITHIN_NOISE_Z2``, shapes resolved to ``WITHIN_NOISE_MIN_COSINE``) count as
identical for a thin split; a weak dip (``TESTABLE_REFRACTORY_LLR`` to ``STRONG_DIP_LLR``) needs
waveforms within a few times their noise (``DIP_MAX_Z2``), because among hundreds of candidate
pairs a few two-neuron pairs show no coincidence where 3-5 were expected (and a strong dip with
waveforms beyond that needs the units at one place: the presets pick candidates for their dips, so
chance dips of 8 expected coincidences turned up between neurons 15-20 µm apart); waveforms far beyond
noise (``DISTINCT_SHAPE_Z2``) in units firing together are two neurons even with a strong dip.
Units that take turns in time are spared that veto (a drifting neuron changes its waveform), but
taking turns is no refractory test, so with waveforms that far apart it is "not enough evidence"
(a temporal split's half and another neuron take turns too); duplicates are spared as well (their
zero-lag peak decides). Coincidences within the zero-lag window count as
refractory violations unless they form a duplicate's peak (see ``_evidence``).

The score changed only through that refractory count (the calibration map was refitted on it);
the other rules change only the decision.

Each decision also carries ``p_merge``: the group's score through the shipped calibration map
(``calibration``), the probability that the group holds a true merge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

from engines.curation._evidence import EvidenceParams, PairEvidence, pair_evidence
from engines.curation.calibration import calibrated_probability
from engines.curation.errors import CurationError
from engines.curation.judge import Judge, JudgeContext
from engines.curation.model import MERGE, NOT_MERGE, UNSURE, CandidateGroup, Decision, MergeDecision

__all__ = ["MetricsJudge", "MetricsJudgeParams", "PairVerdict", "score_pair"]

TESTABLE_REFRACTORY_LLR = 2.5
"""A dip is timing evidence from this log-likelihood ratio up: with no coincidence observed, about 2.8 were
expected for independent neurons (a 6% chance). At a few Hz most pairs expect fewer: the correlogram is too
thin to test, and saying "dip" there merged distinct neurons on template similarity alone."""
STRONG_DIP_LLR = 4.5
"""A dip this strong (about 5 coincidences expected, none seen: a 1% chance) merges on its own; a weaker one
(from ``TESTABLE_REFRACTORY_LLR``) also needs waveforms at least ``DIP_MIN_COSINE`` alike: a deficit of a
few coincidences happens by chance among hundreds of candidate pairs (an amplitude split's two templates can
be as low as 0.86 alike, so a strong dip asks nothing of them)."""
DIP_MIN_COSINE = 0.9
DIP_MAX_Z2 = 8.0
"""...and, where the templates kept their spread, waveforms within a few times their noise of each other (one
scaled to the other; ``shape_z2_scaled``): counting coincidences from within 0.4 ms as well made more pairs
testable, and among the hundreds of pairs of a 150-unit recording two neurons 0.93 alike showed no
coincidence where 3.4 were expected (a 3% chance) with waveforms 11 times their noise apart, where the weak
dips of amplitude splits' halves stayed under 5."""
AMPLITUDE_VETO_SD = 3.0
"""Amplitude distributions this many noise SDs apart, in units active at the same times, are two neurons."""
SHAPE_COSINE = 0.99
"""Without testable timing, a merge needs waveforms this alike across channels (best shift)..."""
SHAPE_MIN_SPIKES = 100
"""...averaged over at least this many spikes per unit (a template of fewer is too noisy to compare)..."""
SHAPE_DISTANCE_UM = 5.0
"""...positions this close..."""
SHAPE_AMPLITUDE_GAP_SD = 0.5
"""...amplitudes that touch (one distribution, not two)..."""
SHAPE_MAX_COINCIDENCES = 0
"""...and no coincidence within the refractory window. A thin correlogram is no evidence either way (none
seen where a few tenths were expected), and asking it to lean towards a dip (0.6 expected) only left out
splits whose waveforms were identical within noise: on five seed bases of the hard grid all 15 such pairs
were true merges. One coincidence where so few were expected is evidence against (log-likelihood -2)."""
WITHIN_NOISE_Z2 = 3.0
"""Waveforms also count as identical when their difference, one scaled to the other, is within noise: a mean
squared difference at most this many times its noise variance (the templates' standard errors; ~1 for two
averages of one waveform, a little more for an amplitude split's halves, which differ in their peaks)...
"""
WITHIN_NOISE_MIN_COSINE = 0.98
"""...with the shapes resolved this far (noisy templates look alike within their noise whatever they are;
two neurons a few µm apart were seen at cosine 0.97 with a difference within noise)."""
DISTINCT_SHAPE_Z2 = 30.0
"""Templates that differ by this many times their noise variance even after scaling one to the other are two
waveforms: units firing at the same times with such shapes are two neurons whatever the correlogram (an
amplitude split's halves stay under 20 with 500 spikes each; a chance dip of 5 expected coincidences merged
two neurons at 57)."""


@dataclass(frozen=True)
class MetricsJudgeParams:
    evidence: EvidenceParams = field(default_factory=EvidenceParams)
    prior_log_odds: float = -1.0
    """Candidates are usually not merges: start at 27% before any evidence."""
    complementary_overlap: float = 0.3
    """Activity overlap below this means the units take turns in time."""
    distance_free_um: float = 25.0
    """Positions closer than this say nothing; farther ones count against a merge."""
    threshold: float = 0.5


@dataclass(frozen=True)
class PairVerdict:
    evidence: PairEvidence
    probability: float
    terms: dict[str, float]
    timing_evidence: bool
    """A testable refractory dip (with alike waveforms), a duplicate peak or complementary activity."""
    separated: bool
    """Amplitudes far apart while both units fire together: two neurons."""
    waveform_evidence: bool
    """No testable timing, but identical waveforms at one place, one amplitude distribution, a leaning dip."""
    distinct_shapes: bool = False
    """Waveforms different beyond noise, even scaled, while both units fire together: two neurons."""

    @property
    def merge(self) -> bool:
        evidence = self.timing_evidence or self.waveform_evidence
        return evidence and not self.apart and self.probability >= 0.5

    @property
    def apart(self) -> bool:
        """Amplitudes or waveforms say two neurons."""
        return self.separated or self.distinct_shapes

    @property
    def unsure(self) -> bool:
        """Not a merge, yet nothing says two neurons either: the score leans to a merge that nothing tests."""
        return (
            not self.merge
            and not self.apart
            and self.probability >= 0.5
            and self.evidence.llr_refractory > -1.0
        )


def _clip(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def score_pair(ev: PairEvidence, params: MetricsJudgeParams) -> PairVerdict:
    """Weigh one pair's evidence into a merge probability (log-odds terms kept for the report)."""
    complementary = ev.presence_overlap < params.complementary_overlap
    terms = {
        "prior": params.prior_log_odds,
        "refractory": _clip(ev.llr_refractory, -8.0, 6.0),
        "duplicate": ev.llr_duplicate,
        "template": 0.0 if ev.cosine is None else _clip((ev.cosine - 0.85) * 20.0, -6.0, 2.0),
        "distance": -_clip((ev.distance_um - params.distance_free_um) / 15.0, 0.0, 6.0),
        "amplitude": 0.0 if ev.amplitude_gap is None else -_clip(ev.amplitude_gap - 1.0, 0.0, 4.0),
        "complementary": _clip(2.0 * (1.0 - ev.presence_overlap / params.complementary_overlap), 0.0, 2.0),
    }
    log_odds = sum(terms.values())
    probability = 1.0 / (1.0 + math.exp(-_clip(log_odds, -30.0, 30.0)))
    # Units that take turns in time may still overlap a little: coincidences there with no dip (LLR <= -1)
    # make them two neurons that happen to fire at different times, not one neuron split in time.
    # Taking turns tests no refractory period (there is nothing to test): with waveforms far beyond noise it
    # may be a drifting neuron or two neurons, and the reviewer decides.
    residual = ev.shape_z2_scaled
    beyond_noise = residual is not None and residual >= DISTINCT_SHAPE_Z2
    taking_turns = complementary and ev.llr_refractory > -1.0 and not beyond_noise
    alike = (ev.cosine is None or ev.cosine >= DIP_MIN_COSINE) and (
        residual is None or residual <= DIP_MAX_Z2
    )
    # A strong dip with waveforms beyond a few times their noise still needs the units at one place: the
    # presets pick candidates for their dips, so among hundreds of pairs a chance dip turns up.
    strong = ev.llr_refractory >= STRONG_DIP_LLR and (
        residual is None or residual <= DIP_MAX_Z2 or ev.distance_um <= SHAPE_DISTANCE_UM
    )
    dip = strong or (ev.llr_refractory >= TESTABLE_REFRACTORY_LLR and alike)
    timing = dip or ev.llr_duplicate > 0 or taking_turns
    gap = ev.amplitude_gap
    separated = gap is not None and gap >= AMPLITUDE_VETO_SD and not complementary and ev.llr_duplicate <= 0
    identical = ev.cosine is not None and (
        ev.cosine >= SHAPE_COSINE
        or (residual is not None and residual <= WITHIN_NOISE_Z2 and ev.cosine >= WITHIN_NOISE_MIN_COSINE)
    )
    distinct = beyond_noise and not complementary and ev.llr_duplicate <= 0
    waveform = (
        identical
        and min(ev.n_a, ev.n_b) >= SHAPE_MIN_SPIKES
        and ev.distance_um <= SHAPE_DISTANCE_UM
        and gap is not None
        and gap <= SHAPE_AMPLITUDE_GAP_SD
        and ev.refractory_observed <= SHAPE_MAX_COINCIDENCES
    )
    return PairVerdict(ev, probability, terms, timing, separated, waveform, distinct)


def _describe(pv: PairVerdict) -> str:
    ev = pv.evidence
    parts = []
    if ev.llr_duplicate > 0:
        parts.append(
            f"{ev.zero_lag_observed} spikes coincide within ±0.4 ms ({ev.zero_lag_fraction:.0%} of the "
            f"smaller unit; {ev.zero_lag_expected:.1f} expected by chance): the same spikes detected twice"
        )
    if pv.terms["complementary"] > 0:
        parts.append(
            f"active at complementary times (overlap {ev.presence_overlap:.0%}), as a unit split in time"
        )
    if pv.separated:
        parts.append(
            f"amplitudes {ev.amplitude_gap:.1f} noise SDs apart while both fire at the same times: "
            "two neurons"
        )
    if pv.distinct_shapes:
        parts.append(
            f"waveforms differ by {ev.shape_z2_scaled:.0f} times their noise even scaled to one another, "
            "while both fire at the same times: two neurons"
        )
    if ev.llr_refractory >= TESTABLE_REFRACTORY_LLR:
        parts.append(
            f"refractory dip: {ev.refractory_observed} coincidences within ±1.5 ms where "
            f"{ev.refractory_expected:.1f} were expected for independent neurons"
        )
    elif ev.llr_refractory <= -1.0:
        parts.append(
            f"no refractory dip: {ev.refractory_observed} coincidences within ±1.5 ms, "
            f"{ev.refractory_expected:.1f} expected for independent neurons"
        )
    else:
        parts.append(
            f"too few coincidences to test the refractory period ({ev.refractory_observed} within ±1.5 ms, "
            f"{ev.refractory_expected:.1f} expected for independent neurons), and an empty correlogram is "
            "no evidence for a merge"
        )
    if pv.waveform_evidence and not pv.timing_evidence:
        parts.append(
            "identical waveforms across channels at one place (their difference within noise), amplitudes "
            "of one distribution: one neuron cut at random"
        )
    if ev.cosine is not None:
        parts.append(f"template cosine {ev.cosine:.2f}")
    parts.append(f"{ev.distance_um:.0f} µm apart")
    if ev.amplitude_gap:
        parts.append(f"amplitudes separated by {ev.amplitude_gap:.1f} noise SDs")
    return "; ".join(parts)


class MetricsJudge(Judge):
    """The offline default judge (see module docstring). Costs milliseconds per pair."""

    name = "metrics"

    def __init__(self, params: MetricsJudgeParams = MetricsJudgeParams()) -> None:
        self.params = params

    def pair_verdicts(self, group: CandidateGroup, context: JudgeContext) -> list[PairVerdict]:
        data = context.data
        if len(group.unit_ids) < 2:
            raise CurationError(
                f"group {group.group_id} has fewer than two units; add a unit or delete the group"
            )
        few = [
            (u, data.num_spikes(u))
            for u in group.unit_ids
            if data.num_spikes(u) < self.params.evidence.min_spikes
        ]
        if few:
            listed = ", ".join(f"unit {u} has {n}" for u, n in few)
            raise CurationError(
                f"too few spikes to judge ({listed}; at least {self.params.evidence.min_spikes} "
                "are needed). Review the group by eye, or drop those units from it."
            )
        return [
            score_pair(pair_evidence(data, a, b, self.params.evidence), self.params)
            for a, b in combinations(group.unit_ids, 2)
        ]

    def judge(self, group: CandidateGroup, context: JudgeContext) -> MergeDecision:
        verdicts = self.pair_verdicts(group, context)
        merge_sets = _merge_sets(group, verdicts)
        merged = [s for s in merge_sets if len(s) > 1]
        unsure = not merged and any(v.unsure for v in verdicts)
        decision: Decision = MERGE if merged else UNSURE if unsure else NOT_MERGE
        best = max(verdicts, key=lambda v: v.probability)
        score = best.probability if merged else max(v.probability for v in verdicts)
        if merged:
            confidence = min(v.probability for v in verdicts if v.merge and _in_same_set(v, merged))
        elif unsure:
            confidence = 0.5  # the judge cannot tell: the reviewer decides
        else:
            confidence = max(1.0 - score, 0.5)
        lines = [
            f"units {v.evidence.a}–{v.evidence.b}: {_pair_decision(v)} "
            f"(p={v.probability:.2f}): {_describe(v)}"
            for v in verdicts
        ]
        reasoning = _summary(group, merged, unsure, verdicts)
        return MergeDecision(
            group_id=group.group_id,
            unit_ids=group.unit_ids,
            judge=self.name,
            decision=decision,
            confidence=round(float(confidence), 4),
            score=round(float(score), 4),
            p_merge=calibrated_probability(self.name, self.params, round(float(score), 4)),
            reasoning=reasoning,
            report="\n".join(lines),
            merge_groups=tuple(merged),
            evidence={
                "pairs": [
                    dict(
                        v.evidence.to_dict(),
                        probability=round(v.probability, 4),
                        terms={k: round(t, 3) for k, t in v.terms.items()},
                    )
                    for v in verdicts
                ]
            },
        )


def _in_same_set(verdict: PairVerdict, sets: list[tuple]) -> bool:
    return any(verdict.evidence.a in s and verdict.evidence.b in s for s in sets)


def _merge_sets(group: CandidateGroup, verdicts: list[PairVerdict]) -> list[tuple]:
    """Join merge pairs, strongest first, unless a pair across the two sets is clearly different neurons."""
    sets = {u: frozenset([u]) for u in group.unit_ids}
    against = {
        frozenset((v.evidence.a, v.evidence.b))
        for v in verdicts
        if v.probability < 0.2 or v.evidence.llr_refractory <= -2.0 or v.apart
    }
    for verdict in sorted((v for v in verdicts if v.merge), key=lambda v: -v.probability):
        left, right = sets[verdict.evidence.a], sets[verdict.evidence.b]
        if left == right or any(frozenset((x, y)) in against for x in left for y in right):
            continue
        joined = left | right
        for unit in joined:
            sets[unit] = joined
    order = {u: i for i, u in enumerate(group.unit_ids)}
    unique = {s for s in sets.values()}
    return sorted((tuple(sorted(s, key=order.__getitem__)) for s in unique), key=lambda s: order[s[0]])


def _pair_decision(verdict: PairVerdict) -> str:
    return MERGE if verdict.merge else UNSURE if verdict.unsure else NOT_MERGE


def _summary(group: CandidateGroup, merged: list[tuple], unsure: bool, verdicts: list[PairVerdict]) -> str:
    if merged:
        names = " and ".join("{" + ", ".join(map(str, s)) + "}" for s in merged)
        key = max((v for v in verdicts if v.merge), key=lambda v: v.probability)
        head = f"Merge {names}" if len(merged) > 1 or len(merged[0]) < len(group.unit_ids) else "Merge"
        return f"{head}: {_describe(key)}."
    if unsure:
        key = max((v for v in verdicts if v.unsure), key=lambda v: v.probability)
        return f"Not enough evidence (review by eye): {_describe(key)}."
    key = max(verdicts, key=lambda v: v.probability)
    return f"Not merge: {_describe(key)}."
