"""Several reviewers: standing verdicts per person, their kappas with each other and the judge, consensus."""

from __future__ import annotations

import random

import pytest
from sklearn.metrics import cohen_kappa_score

from engines.curation.agreement import measure_agreement
from engines.curation.model import MergeDecision, Verdict
from engines.curation.reviewers import cohen_kappa, fleiss_kappa, measure_reviewers, verdicts_by_reviewer

_ids = iter(range(1, 10_000))


def _verdict(owner: str, group: int, answer: str, undone: bool = False) -> Verdict:
    return Verdict(next(_ids), group, answer, (), f"session-{owner}", 0.0, undone, owner)  # type: ignore[arg-type]


def _decision(group: int, merge: bool) -> MergeDecision:
    return MergeDecision(group, (1, 2), "metrics", "merge" if merge else "not merge", 0.9, 0.9)


def test_each_reviewer_s_latest_standing_verdict_counts():
    history = [
        _verdict("ada", 1, "accept"),
        _verdict("ada", 1, "reject"),  # changed her mind
        _verdict("ada", 2, "accept", undone=True),
        _verdict("bob", 1, "accept"),
        _verdict("", 3, "skip"),
    ]
    standing = verdicts_by_reviewer(history)
    assert {name: {g: v.verdict for g, v in given.items()} for name, given in standing.items()} == {
        "ada": {1: "reject"},
        "bob": {1: "accept"},
        "(unnamed)": {3: "skip"},
    }


def test_cohen_kappa_matches_scikit_learn_over_the_groups_both_answered():
    rng = random.Random(7)
    first = {g: rng.choice(["accept", "reject", "skip"]) for g in range(200)}
    second = {g: (a if rng.random() < 0.7 else rng.choice(["accept", "reject"])) for g, a in first.items()}
    second.update({g: "accept" for g in range(200, 210)})  # only the second answered these
    kappa, n = cohen_kappa(first, second)
    shared = [g for g in first if first[g] != "skip" and second[g] != "skip"]
    assert n == len(shared)
    assert kappa == pytest.approx(
        cohen_kappa_score([first[g] for g in shared], [second[g] for g in shared]), abs=1e-4
    )
    assert cohen_kappa({1: "accept"}, {1: "accept"}) == (None, 1)  # one answer each, the same: undefined
    assert cohen_kappa({}, {1: "accept"}) == (None, 0)


def test_fleiss_kappa_of_the_textbook_example():
    """Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories; kappa 0.210."""
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    counts = [{str(k): n for k, n in enumerate(row) if n} for row in table]
    assert fleiss_kappa(counts) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa([{"accept": 2}, {"accept": 1}]) is None  # not the same number of raters


def test_three_reviewers_their_kappas_consensus_and_each_against_the_judge():
    answers = {
        "ada": ["accept", "accept", "reject", "reject", "accept", "reject"],
        "bob": ["accept", "reject", "reject", "reject", "accept", "accept"],
        "cy": ["accept", "accept", "reject", "accept", "reject", "skip"],
    }
    history = [_verdict(name, g, a) for name, given in answers.items() for g, a in enumerate(given)]
    decisions = {g: _decision(g, merge) for g, merge in enumerate([True, True, False, False, True, False])}
    standing = verdicts_by_reviewer(history)
    result = measure_reviewers(standing, decisions)

    assert result.reviewers == {"ada": 6, "bob": 6, "cy": 5}
    ada_bob = next(p for p in result.pairs if p[:2] == ("ada", "bob"))
    assert ada_bob[2:] == cohen_kappa(
        {g: a for g, a in enumerate(answers["ada"])}, {g: a for g, a in enumerate(answers["bob"])}
    )
    assert result.fleiss_groups == 5  # group 5: cy skipped
    assert result.fleiss is not None and -1 <= result.fleiss <= 1
    assert result.consensus == {0: "accept", 1: "accept", 2: "reject", 3: "reject", 4: "accept", 5: "split"}
    assert result.with_judge["ada"] == (1.0, 6)  # ada answered exactly as the judge decided
    cy = measure_agreement(decisions, standing["cy"])
    assert result.with_judge["cy"] == (cy.kappa, cy.n_compared)
    exported = result.to_json()
    assert exported["consensus"]["5"] == "split" and exported["pairs"][0]["reviewers"] == ["ada", "bob"]
