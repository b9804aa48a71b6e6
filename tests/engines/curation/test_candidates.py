"""Candidate groups from SpikeInterface's presets, their form data, and their recall on known merges."""

from __future__ import annotations

import pytest

from engines.curation import PRESETS, CandidateRequest, CandidateRun, find_candidates, preset_form
from engines.curation.candidates import TEMPLATE_DIFF_THRESH_HELP, step_parameters
from engines.curation.errors import CurationError, MissingExtensions
from tests.engines.curation.conftest import pairs_of


def test_every_preset_of_spikeinterface_is_offered_with_its_default_parameters():
    from spikeinterface.curation.auto_merge import _compute_merge_presets, _default_step_params

    assert set(PRESETS) == set(_compute_merge_presets)
    form = preset_form("similarity_correlograms")
    assert {(p.step, p.name) for p in form} == {
        (s, n) for s in _compute_merge_presets["similarity_correlograms"] for n in _default_step_params[s]
    }
    threshold = next(p for p in form if p.name == "template_diff_thresh")
    assert threshold.default == 0.25 and threshold.kind == "float"


def test_template_diff_thresh_is_explained_as_a_distance_on_l1_similarity():
    text = next(p for p in step_parameters("template_similarity") if p.name == "template_diff_thresh").help
    assert text == TEMPLATE_DIFF_THRESH_HELP
    assert "1 - similarity" in text and "0.75" in text and "0.9" in text and "l1" in text


def test_recommended_candidates_find_every_true_merge_of_the_demo(review, true_pairs):
    groups = review.find_candidates(CandidateRequest.recommended())
    assert true_pairs <= pairs_of(g.unit_ids for g in groups)
    assert all(g.origin for g in groups)


def test_a_single_preset_misses_merges_the_union_finds(demo_analyzer, true_pairs):
    recalls = {}
    for name in ("similarity_correlograms", "temporal_splits"):
        found = pairs_of(find_candidates(demo_analyzer, CandidateRequest.preset(name)).groups)
        recalls[name] = len(found & true_pairs) / len(true_pairs)
    assert max(recalls.values()) < 1.0


def test_group_ids_stay_the_same_when_candidates_are_found_again(review):
    first = {
        g.unit_ids: g.group_id for g in review.find_candidates(CandidateRequest.preset("x_contaminations"))
    }
    second = {g.unit_ids: g.group_id for g in review.find_candidates(CandidateRequest.recommended())}
    assert first and all(second[units] == gid for units, gid in first.items())


def test_resolve_graph_joins_pairs_into_groups_of_any_size(demo_analyzer):
    loose = CandidateRun(
        None,
        ("unit_locations", "template_similarity"),
        {"template_similarity": {"similarity_method": "cosine", "template_diff_thresh": 0.3}},
    )
    pairs = find_candidates(demo_analyzer, CandidateRequest(runs=(loose,), resolve_graph=False)).groups
    groups = find_candidates(demo_analyzer, CandidateRequest(runs=(loose,), resolve_graph=True)).groups
    assert all(len(p) == 2 for p in pairs) and max(len(g) for g in groups) > 2
    assert pairs_of(pairs) <= pairs_of(groups)


def test_unknown_preset_step_or_parameter_is_refused_with_the_known_names(demo_analyzer):
    with pytest.raises(CurationError, match="choose one of"):
        find_candidates(demo_analyzer, CandidateRequest.preset("best"))
    with pytest.raises(CurationError, match="known steps"):
        find_candidates(demo_analyzer, CandidateRequest(runs=(CandidateRun(None, ("magic",)),)))
    with pytest.raises(CurationError, match="has no parameter threshold"):
        find_candidates(demo_analyzer, CandidateRequest.preset("slay", {"slay_score": {"threshold": 1}}))


def test_missing_extension_is_named_instead_of_computed(demo_analyzer):
    analyzer = demo_analyzer.copy()
    analyzer.delete_extension("correlograms")
    with pytest.raises(MissingExtensions, match="correlograms") as caught:
        find_candidates(analyzer, CandidateRequest.preset("similarity_correlograms"))
    assert caught.value.missing == ("correlograms",)
