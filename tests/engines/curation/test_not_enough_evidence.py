"""The "not enough evidence" decision: never merged, listed by the grid, carried in the exports."""

from __future__ import annotations

from components.curation.cards import card_text
from engines.curation.agreement import disagrees, measure_agreement
from engines.curation.exports import merges_from_review, reasoning_table
from engines.curation.model import MERGE, NOT_MERGE, UNSURE, CandidateGroup, MergeDecision, Verdict
from engines.curation.review_table import FILTERS, build_table, filter_rows


def _decision(group_id: int, decision: str, units: tuple[int, ...]) -> MergeDecision:
    return MergeDecision(
        group_id=group_id,
        unit_ids=units,
        judge="metrics",
        decision=decision,  # type: ignore[arg-type]
        confidence=0.5 if decision == UNSURE else 0.9,
        score=0.8,
        reasoning=f"{decision}: reasons",
        merge_groups=(units,) if decision == MERGE else (),
    )


GROUPS = [CandidateGroup(0, (1, 2)), CandidateGroup(1, (3, 4)), CandidateGroup(2, (5, 6))]
DECISIONS = {
    0: _decision(0, MERGE, (1, 2)),
    1: _decision(1, NOT_MERGE, (3, 4)),
    2: _decision(2, UNSURE, (5, 6)),
}


def test_the_grid_shows_only_the_groups_without_enough_evidence_when_asked():
    table = build_table(GROUPS, DECISIONS, {}, {})
    shown = filter_rows(table, FILTERS["not enough evidence"])
    assert shown["group_id"].tolist() == [2]
    text = card_text(shown.iloc[0].to_dict())
    assert "Judge: <strong>not enough evidence</strong>" in text


def test_a_group_without_enough_evidence_is_never_merged_by_the_judge_in_the_exports():
    assert merges_from_review(DECISIONS, {}, source="judge") == [(1, 2)]
    table = reasoning_table(DECISIONS.values())
    assert table.set_index("group_id").loc[2, "merge_type"] == "not enough evidence"


def test_agreement_leaves_out_groups_the_judge_could_not_decide():
    accept = Verdict(1, 2, "accept", (5, 6), "s", 0.0)
    verdicts = {2: accept, 0: Verdict(2, 0, "accept", (1, 2), "s", 0.0)}
    agreement = measure_agreement(DECISIONS, verdicts)
    assert agreement.n_compared == 1 and agreement.n_agree == 1
    assert not disagrees(DECISIONS[2], accept)
    table = build_table(GROUPS, DECISIONS, verdicts, {}).set_index("group_id")
    assert not table.loc[2, "disagrees"]
