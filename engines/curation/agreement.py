"""How often reviewers agree with a judge: accept/reject verdicts set against merge/not merge decisions.

A small piece of statistics (counts, Cohen's kappa) kept apart from ``review``, which only gathers
the decisions and verdicts it compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engines.curation.model import MERGE, NOT_MERGE, MergeDecision, Verdict

__all__ = ["Agreement", "disagrees", "measure_agreement"]


@dataclass(frozen=True)
class Agreement:
    """How often reviewers agreed with a judge, over groups with both an accept/reject and a decision."""

    n_compared: int
    n_agree: int
    counts: dict[str, int]
    """``"<verdict>/<decision>"`` -> groups (accept/merge, accept/not merge, reject/merge, reject/not
    merge)."""
    kappa: float | None
    """Cohen's kappa (None when undefined: fewer than two kinds of answer)."""
    disagreements: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.n_agree / self.n_compared if self.n_compared else None


def _decided(decision: MergeDecision | None) -> bool:
    """Whether the judge reached merge or not merge ("not enough evidence" leaves it to the reviewer)."""
    return decision is not None and decision.ok and decision.decision in (MERGE, NOT_MERGE)


def disagrees(decision: MergeDecision, verdict: Verdict) -> bool:
    """True when a reviewer accepted a group the judge would not merge, or rejected one it would."""
    return (
        _decided(decision)
        and verdict.verdict in ("accept", "reject")
        and (verdict.verdict == "accept") != (decision.decision == MERGE)
    )


def measure_agreement(decisions: Mapping[int, MergeDecision], verdicts: Mapping[int, Verdict]) -> Agreement:
    """Agreement over the groups with both an accept/reject verdict and a merge/not merge decision."""
    counts = {f"{v}/{d}": 0 for v in ("accept", "reject") for d in ("merge", "not merge")}
    disagreements = []
    for group_id, verdict in verdicts.items():
        decision = decisions.get(group_id)
        if verdict.verdict not in ("accept", "reject") or decision is None or not _decided(decision):
            continue
        counts[f"{verdict.verdict}/{decision.decision}"] += 1
        if disagrees(decision, verdict):
            disagreements.append(group_id)
    n = sum(counts.values())
    agree = counts["accept/merge"] + counts["reject/not merge"]
    return Agreement(n, agree, counts, _kappa(counts, n), sorted(disagreements))


def _kappa(counts: dict[str, int], n: int) -> float | None:
    if n == 0:
        return None
    observed = (counts["accept/merge"] + counts["reject/not merge"]) / n
    human_yes = (counts["accept/merge"] + counts["accept/not merge"]) / n
    judge_yes = (counts["accept/merge"] + counts["reject/merge"]) / n
    expected = human_yes * judge_yes + (1 - human_yes) * (1 - judge_yes)
    return None if expected >= 1.0 else round((observed - expected) / (1 - expected), 4)
