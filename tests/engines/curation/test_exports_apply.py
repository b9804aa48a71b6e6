"""Exports SpikeInterface and tutorial code can read, and merges applied into a new analyzer."""

from __future__ import annotations

import ast
import json

import pandas as pd
import pytest
from spikeinterface.curation import apply_curation

from engines.curation import (
    CandidateRequest,
    MergeDecision,
    build_curation,
    resolve_merges,
    write_reasoning_csv,
)
from engines.curation.errors import CurationError


def test_merges_resolve_transitively_into_groups():
    assert resolve_merges([(1, 2), (2, 3), (5, 4), (7,)], order=[1, 2, 3, 4, 5]) == [(1, 2, 3), (4, 5)]


def test_reasoning_csv_reads_like_the_tutorials_and_keeps_error_rows(tmp_path):
    rows = [
        MergeDecision(0, (1, 2), "metrics", "merge", 0.9, 0.9, "dip", "r\nline", ((1, 2),), p_merge=0.93),
        MergeDecision(1, (3, 4, 5), "vlm", "merge", 0.8, 0.8, "two sets", "r", ((3, 4), (5,)) and ((3, 4),)),
        MergeDecision(2, (6, 7), "vlm", "not merge", 0.7, 0.3, "flat", "r"),
        MergeDecision.failed(type("G", (), {"group_id": 3, "unit_ids": (8, 9)})(), "vlm", "endpoint down"),
    ]
    path = write_reasoning_csv(tmp_path / "vlm_merge_reasoning.csv", rows)
    table = pd.read_csv(path)
    assert list(table.columns[:6]) == [
        "Unnamed: 0",
        "group_id",
        "merge_units",
        "merge_type",
        "reasoning",
        "report",
    ]
    pairs = [ast.literal_eval(row.merge_units) for row in table.itertuples() if row.merge_type == "merge"]
    assert pairs == [[1, 2], [3, 4]]
    error = table[table.merge_type == "error"].iloc[0]
    assert error.group_id == 3 and error.error == "endpoint down"
    assert table.p_merge.iloc[0] == 0.93 and table.p_merge.isna().iloc[1:].all()  # the VLM is not calibrated


def test_exported_curation_is_accepted_by_apply_curation(review, tmp_path):
    groups = review.find_candidates(CandidateRequest.recommended())
    review.judge("metrics")
    review.label_units("thresholds")
    merges = [d for d in review.decisions().values() if d.decision == "merge"]
    for decision in merges:
        review.record_verdict(decision.group_id, "accept")
    path = review.export_curation_json(tmp_path / "curation.json")
    curation = json.loads(path.read_text())
    assert curation["format_version"] == "2" and set(curation) >= {
        "merges",
        "removed",
        "label_definitions",
        "manual_labels",
    }
    assert set(curation["reviews"]) >= {
        "reviewers",
        "pairs",
        "with_judge",
        "consensus",
    }  # SpikeInterface ignores it
    curated = apply_curation(review.analyzer.sorting, curation)
    assert curated.get_num_units() == len(review.analyzer.unit_ids) - sum(
        len(m["unit_ids"]) - 1 for m in curation["merges"]
    )
    assert len(groups) > len(curation["merges"]) > 0


def test_noise_units_can_be_removed_and_are_dropped_from_merges(review):
    units = review.data.unit_ids
    review.set_label(units[0], "noise")
    curation = build_curation(units, [(units[0], units[1], units[2])], review.labels(), remove_noise=True)
    assert curation["removed"] == [units[0]] and curation["merges"] == [{"unit_ids": [units[1], units[2]]}]


def test_apply_writes_a_new_analyzer_with_the_expected_units_and_a_before_after_report(review, workspace):
    review.find_candidates(CandidateRequest.recommended())
    review.judge("metrics")
    report = review.apply(source="judge")
    expected = len(review.analyzer.unit_ids) - sum(len(m["unit_ids"]) - 1 for m in report.merges)
    assert report.n_units_after == expected < report.n_units_before
    assert report.folder.parent == workspace / "curation" / "applied" and report.folder.is_dir()
    from engines.curation import open_analyzer

    curated, status = open_analyzer(report.folder)
    assert len(curated.unit_ids) == expected and "quality_metrics" in status.present
    after = report.table[report.table.role == "after"]
    assert len(after) == len(report.merges) and after.num_spikes.notna().all()
    for merge in report.merges:
        rows = report.table[report.table.new_unit_id == merge["new_unit_id"]]
        assert rows[rows.role == "after"].num_spikes.iloc[0] <= rows[rows.role == "before"].num_spikes.sum()
    with pytest.raises(CurationError, match="already exists"):
        review.apply(source="judge", folder=report.folder)
