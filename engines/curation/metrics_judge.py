"""The offline judge: spike-timing, waveform and amplitude evidence, weighed into a decision with reasons.

For every pair in a group it adds up log-odds (see ``_evidence``): the refractory test (the
strongest: one neuron never fires twice within ~1.5 ms), a near-zero-lag peak (a duplicate),
template shape, distance, amplitude continuity, and complementary activity in time (a unit
split by drift). A merge needs spike-timing evidence: a refractory dip, a duplicate peak or
complementary activity. Similar templates with an empty correlogram are not enough, because
an empty correlogram only means there were too few spikes to test. Pairs that pass are
joined into merge sets, never joining two sets that a pair between them contradicts.

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
from engines.curation.model import MERGE, NOT_MERGE, CandidateGroup, Decision, MergeDecision

__all__ = ["MetricsJudge", "MetricsJudgeParams", "PairVerdict", "score_pair"]


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

    @property
    def merge(self) -> bool:
        return self.timing_evidence and self.probability >= 0.5


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
    timing = ev.llr_refractory >= 1.0 or ev.llr_duplicate > 0 or complementary
    return PairVerdict(ev, probability, terms, timing)


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
    if ev.llr_refractory >= 1.0:
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
            f"too few coincidences to test the refractory period ({ev.refractory_expected:.1f} expected), "
            "and an empty correlogram is no evidence for a merge"
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
        decision: Decision = MERGE if merged else NOT_MERGE
        best = max(verdicts, key=lambda v: v.probability)
        score = best.probability if merged else max(v.probability for v in verdicts)
        if merged:
            confidence = min(v.probability for v in verdicts if v.merge and _in_same_set(v, merged))
        else:
            confidence = max(1.0 - score, 0.5)  # likely but untestable merges leave the judge unsure
        lines = [
            f"units {v.evidence.a}–{v.evidence.b}: {'merge' if v.merge else 'not merge'} "
            f"(p={v.probability:.2f}): {_describe(v)}"
            for v in verdicts
        ]
        reasoning = _summary(group, merged, verdicts)
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
        if v.probability < 0.2 or v.evidence.llr_refractory <= -2.0
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


def _summary(group: CandidateGroup, merged: list[tuple], verdicts: list[PairVerdict]) -> str:
    if merged:
        names = " and ".join("{" + ", ".join(map(str, s)) + "}" for s in merged)
        key = max((v for v in verdicts if v.merge), key=lambda v: v.probability)
        head = f"Merge {names}" if len(merged) > 1 or len(merged[0]) < len(group.unit_ids) else "Merge"
        return f"{head}: {_describe(key)}."
    key = max(verdicts, key=lambda v: v.probability)
    return f"Not merge: {_describe(key)}."
