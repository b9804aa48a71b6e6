"""Several reviewers of one analyzer: each one's standing verdicts, their consensus, and how far they agree.

Verdicts are kept per signed-in user (``Verdict.owner``); the review grid shows the latest of anyone's,
this module sets them side by side. Agreement between two reviewers is Cohen's kappa over the groups
both accepted or rejected; among three or more, Fleiss' kappa over the groups all of them answered;
each reviewer against the judge is ``engines.curation.agreement``'s kappa. Curators agree with each
other about 80% of the time (UnitRefine's experts): the ceiling any judge is compared with. Small
formulas, written here rather than importing statsmodels (not a dependency) for two functions;
Cohen's is checked against scikit-learn's in the tests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from engines.curation.agreement import measure_agreement
from engines.curation.model import MergeDecision, Verdict

__all__ = [
    "ReviewerAgreement",
    "cohen_kappa",
    "fleiss_kappa",
    "measure_reviewers",
    "verdicts_by_reviewer",
]

ANSWERS = ("accept", "reject")
"""The verdicts compared: a skip is no answer."""
UNNAMED = "(unnamed)"
"""Whose verdicts were given before owners were recorded."""


def verdicts_by_reviewer(history: Iterable[Verdict]) -> dict[str, dict[int, Verdict]]:
    """Each reviewer's standing verdict per group (their latest not undone), from the verdicts in order."""
    standing: dict[str, dict[int, Verdict]] = {}
    for verdict in history:
        if not verdict.undone:
            standing.setdefault(verdict.owner or UNNAMED, {})[verdict.group_id] = verdict
    return standing


def cohen_kappa(first: Mapping[int, str], second: Mapping[int, str]) -> tuple[float | None, int]:
    """(Cohen's kappa, groups compared) of two reviewers' accept/reject over the groups both answered;
    kappa is None when it is undefined (no group, or both gave one answer only and the same)."""
    shared = [g for g in first if g in second and first[g] in ANSWERS and second[g] in ANSWERS]
    n = len(shared)
    if n == 0:
        return None, 0
    observed = sum(first[g] == second[g] for g in shared) / n
    a_yes = sum(first[g] == "accept" for g in shared) / n
    b_yes = sum(second[g] == "accept" for g in shared) / n
    expected = a_yes * b_yes + (1 - a_yes) * (1 - b_yes)
    return (None if expected >= 1.0 else round((observed - expected) / (1 - expected), 4)), n


def fleiss_kappa(counts: list[Mapping[str, int]]) -> float | None:
    """Fleiss' kappa of items each rated by the same number of raters: ``counts[i][answer]`` raters gave
    ``answer`` to item ``i``. None when undefined (no item, one rater, or every rating the same)."""
    if not counts:
        return None
    raters = sum(counts[0].values())
    if raters < 2 or any(sum(c.values()) != raters for c in counts):
        return None
    items = len(counts)
    answers = {answer for c in counts for answer in c}
    shares = {a: sum(c.get(a, 0) for c in counts) / (items * raters) for a in answers}
    per_item = [
        (sum(k * k for k in c.values()) - raters) / (raters * (raters - 1)) for c in counts
    ]  # how far each item's raters agree
    observed = sum(per_item) / items
    expected = sum(p * p for p in shares.values())
    return None if expected >= 1.0 else round((observed - expected) / (1 - expected), 4)


@dataclass(frozen=True)
class ReviewerAgreement:
    """Who reviewed, how they agree with each other and with the judge, and the consensus per group."""

    reviewers: dict[str, int]
    """Reviewer -> groups they accepted or rejected."""
    pairs: list[tuple[str, str, float | None, int]]
    """(reviewer, reviewer, Cohen's kappa, groups both answered), for every pair."""
    fleiss: float | None
    """Fleiss' kappa over the groups every reviewer answered (three or more reviewers)."""
    fleiss_groups: int
    with_judge: dict[str, tuple[float | None, int]]
    """Reviewer -> (Cohen's kappa with the judge, groups compared)."""
    consensus: dict[int, str]
    """Group -> the majority answer ("accept", "reject") or "split" (a tie), over groups two or more
    reviewers answered."""

    def to_json(self) -> dict[str, Any]:
        return {
            "reviewers": self.reviewers,
            "pairs": [{"reviewers": [a, b], "cohen_kappa": k, "groups": n} for a, b, k, n in self.pairs],
            "fleiss_kappa": self.fleiss,
            "fleiss_groups": self.fleiss_groups,
            "with_judge": {name: {"cohen_kappa": k, "groups": n} for name, (k, n) in self.with_judge.items()},
            "consensus": {str(group): answer for group, answer in sorted(self.consensus.items())},
        }


def measure_reviewers(
    standing: Mapping[str, Mapping[int, Verdict]], decisions: Mapping[int, MergeDecision]
) -> ReviewerAgreement:
    """Everything ``ReviewerAgreement`` holds, from each reviewer's standing verdicts and the judge's
    decisions."""
    answers = {
        name: {g: v.verdict for g, v in verdicts.items() if v.verdict in ANSWERS}
        for name, verdicts in standing.items()
    }
    names = sorted(name for name, given in answers.items() if given)
    pairs = [(a, b, *cohen_kappa(answers[a], answers[b])) for a, b in combinations(names, 2)]
    everyone = set.intersection(*(set(answers[n]) for n in names)) if len(names) >= 3 else set()
    fleiss = fleiss_kappa([Counter(answers[n][g] for n in names) for g in sorted(everyone)])
    with_judge = {}
    for name in names:
        agreement = measure_agreement(decisions, {g: standing[name][g] for g in answers[name]})
        with_judge[name] = (agreement.kappa, agreement.n_compared)
    consensus: dict[int, str] = {}
    for group in sorted({g for n in names for g in answers[n]}):
        votes = Counter(answers[n][group] for n in names if group in answers[n])
        if sum(votes.values()) >= 2:
            (top, top_count), *rest = votes.most_common()
            consensus[group] = "split" if rest and rest[0][1] == top_count else top
    return ReviewerAgreement(
        {n: len(answers[n]) for n in names}, pairs, fleiss, len(everyone), with_judge, consensus
    )
