"""The offline judge on generated ground truth, its reasons, and groups it must refuse or split."""

from __future__ import annotations

import numpy as np

from engines.curation import CandidateGroup, CandidateRequest, JudgeContext, MetricsJudge, run_judge
from engines.curation._evidence import PairEvidence
from engines.curation.metrics_judge import MetricsJudgeParams, score_pair
from tests.engines.curation.conftest import pairs_of


def test_metrics_judge_recovers_the_true_merges_with_high_pairwise_precision_and_recall(review, true_pairs):
    review.find_candidates(CandidateRequest.recommended())
    run = review.judge("metrics")
    decisions = review.decisions("metrics")
    assert run.status == "done" and run.n_errors == 0 and run.n_done == len(review.candidates())
    predicted = pairs_of(s for d in decisions.values() for s in d.merge_groups)
    precision = len(predicted & true_pairs) / max(1, len(predicted))
    recall = len(predicted & true_pairs) / len(true_pairs)
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)


def test_every_decision_has_a_score_a_confidence_and_a_readable_reason(review):
    review.find_candidates(CandidateRequest.recommended())
    review.judge("metrics")
    for decision in review.decisions().values():
        assert decision.decision in ("merge", "not merge", "not enough evidence")
        assert 0.0 <= decision.score <= 1.0 and 0.5 <= decision.confidence <= 1.0
        assert decision.reasoning.startswith(("Merge", "Not merge", "Not enough evidence"))
        assert "µm apart" in decision.reasoning
        assert decision.report.count("units ") == len(decision.unit_ids) * (len(decision.unit_ids) - 1) // 2


def _evidence(**changes) -> PairEvidence:
    base = dict(
        a=1,
        b=2,
        n_a=40,
        n_b=35,
        cosine=0.99,
        similarity=0.95,
        distance_um=2.0,
        refractory_observed=0,
        refractory_expected=0.3,
        zero_lag_observed=0,
        zero_lag_expected=0.1,
        flank_ratio=1.0,
        presence_overlap=0.9,
        amplitude_gap=0.0,
        llr_refractory=0.27,
        llr_duplicate=0.0,
    )
    return PairEvidence(**{**base, **changes})


def test_an_empty_correlogram_is_not_evidence_for_merging_even_with_identical_templates():
    verdict = score_pair(_evidence(), MetricsJudgeParams())
    assert not verdict.merge and not verdict.timing_evidence


def test_a_thin_correlogram_with_alike_templates_is_not_enough_evidence_never_a_merge():
    # Hard seed 2000 (1-5 Hz): units 33 and 70 are two neurons 5 µm apart; 1.8 coincidences were expected
    # and none came, which the judge once called a refractory dip and merged on template similarity.
    thin = _evidence(
        n_a=593, n_b=453, cosine=0.93, distance_um=4.6, refractory_expected=1.8, llr_refractory=1.64
    )
    verdict = score_pair(thin, MetricsJudgeParams())
    assert verdict.probability >= 0.5 and not verdict.timing_evidence
    assert not verdict.merge and verdict.unsure


def test_amplitudes_far_apart_in_units_firing_together_are_two_neurons_despite_a_dip():
    # Hard seed 2000: units 13 and 55, amplitudes 6.5 noise SDs apart, no coincidence where 4 were expected.
    apart = _evidence(
        n_a=641,
        n_b=726,
        cosine=0.93,
        distance_um=7.6,
        refractory_expected=4.1,
        llr_refractory=3.65,
        amplitude_gap=6.5,
    )
    verdict = score_pair(apart, MetricsJudgeParams())
    assert verdict.timing_evidence and verdict.separated and not verdict.merge and not verdict.unsure


def test_identical_waveforms_of_many_spikes_at_one_place_merge_a_random_split_with_a_thin_correlogram():
    split = _evidence(
        n_a=426, n_b=412, cosine=0.9995, distance_um=0.1, refractory_expected=1.2, llr_refractory=1.09
    )
    few_spikes = _evidence(cosine=0.9995, distance_um=0.1, refractory_expected=1.2, llr_refractory=1.09)
    assert score_pair(split, MetricsJudgeParams()).merge
    assert not score_pair(few_spikes, MetricsJudgeParams()).merge


def test_a_refractory_dip_with_matching_templates_is_a_merge_and_a_flat_correlogram_is_not():
    params = MetricsJudgeParams()
    dip = score_pair(_evidence(refractory_expected=20.0, llr_refractory=17.7), params)
    flat = score_pair(
        _evidence(refractory_observed=19, refractory_expected=20.0, llr_refractory=-26.0), params
    )
    assert dip.merge and dip.probability > 0.95
    assert not flat.merge and flat.probability < 0.01


def test_a_group_of_two_splits_is_divided_into_its_two_merges(review, demo_workspace):
    from engines.curation import demo_truth

    first, second = [tuple(g) for g in demo_truth(demo_workspace)["true_groups"][-2:]]
    group = CandidateGroup(group_id=900, unit_ids=first + second)
    decision = MetricsJudge().judge(group, JudgeContext(review.data))
    assert decision.decision == "merge"
    assert sorted(decision.merge_groups) == sorted([first, second])
    assert decision.report.count("\n") == 5  # six pairs, one line each


def test_units_on_distant_channels_are_not_merged_and_the_reason_says_how_far(review):
    data = review.data
    units = data.unit_ids
    distances = {(a, b): data.distance_um(a, b) for i, a in enumerate(units) for b in units[i + 1 :]}
    far = max(distances, key=distances.get)
    decision = MetricsJudge().judge(CandidateGroup(group_id=901, unit_ids=far), JudgeContext(data))
    assert decision.decision == "not merge"
    assert f"{distances[far]:.0f} µm apart" in decision.reasoning
    assert decision.evidence["pairs"][0]["terms"]["distance"] < 0


def test_units_with_fewer_than_ten_spikes_get_an_error_row_and_the_others_are_still_judged(tmp_path):
    import warnings

    from spikeinterface.core import NumpySorting, create_sorting_analyzer, generate_ground_truth_recording

    warnings.filterwarnings("ignore")
    recording, sorting = generate_ground_truth_recording(
        durations=[10.0], num_channels=8, num_units=3, seed=3
    )
    trains = {u: sorting.get_unit_spike_train(u) for u in sorting.unit_ids}
    trains["3"] = trains["0"][:4] + 2
    few = NumpySorting.from_unit_dict([trains], sampling_frequency=sorting.sampling_frequency)
    analyzer = create_sorting_analyzer(few, recording, sparse=False)
    analyzer.compute(["random_spikes", "templates", "spike_amplitudes"])
    from engines.curation import AnalyzerData

    groups = [CandidateGroup(0, ("0", "3")), CandidateGroup(1, ("1", "2"))]
    decisions = run_judge(MetricsJudge(), groups, JudgeContext(AnalyzerData(analyzer)))
    assert [d.group_id for d in decisions] == [0, 1]
    assert decisions[0].error and "unit 3 has 4" in decisions[0].error and "at least 10" in decisions[0].error
    assert decisions[1].ok


def test_a_cancelled_run_leaves_an_error_row_for_each_group_it_did_not_reach(review):
    import threading

    groups = review.find_candidates(CandidateRequest.recommended())
    cancel = threading.Event()
    seen = []

    def progress(fraction: float, message: str) -> None:
        seen.append(fraction)
        if len(seen) >= 3:
            cancel.set()

    decisions = run_judge(MetricsJudge(), groups, JudgeContext(review.data), progress=progress, cancel=cancel)
    assert len(decisions) == len(groups)
    cancelled = [d for d in decisions if d.error and "cancelled" in d.error]
    assert 0 < len(cancelled) < len(groups)
    assert np.all([d.ok or "cancelled" in d.error for d in decisions])


def test_on_a_tiny_hard_recording_two_neurons_with_a_thin_correlogram_are_not_enough_evidence():
    """1-3 Hz for 2 min: units 2 and 20 are two neurons with alike templates and 1.1 coincidences expected;
    the judge once read the empty refractory window as a dip and merged them."""
    import warnings

    from spikeinterface.core import create_sorting_analyzer

    from engines.curation import AnalyzerData, InjectedFaults, build_ground_truth, compute_missing_extensions

    warnings.filterwarnings("ignore")
    faults = InjectedFaults(0, 0, 1, 1, duplicate_ratio=0.5)
    truth = build_ground_truth(120.0, 24, 16, faults, seed=2, firing_rate_hz=(1.0, 3.0))
    analyzer = create_sorting_analyzer(truth.sorting, truth.recording, format="memory", sparse=True)
    compute_missing_extensions(analyzer, ("random_spikes", "templates", "spike_amplitudes", "unit_locations"))
    groups = [CandidateGroup(0, (2, 20)), CandidateGroup(1, truth.faults["duplicates"][0])]
    thin, duplicate = run_judge(MetricsJudge(), groups, JudgeContext(AnalyzerData(analyzer)))
    assert frozenset((2, 20)) not in truth.true_pairs()
    assert thin.decision == "not enough evidence" and thin.merge_groups == ()
    assert thin.reasoning.startswith("Not enough evidence") and "too few coincidences" in thin.reasoning
    assert duplicate.decision == "merge"  # a partial duplicate still shows its zero-lag peak
