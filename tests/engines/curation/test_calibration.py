"""The metrics judge's calibration: the shipped map, the fit that writes it, the error that measures it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engines.curation import CandidateRequest, demo_truth
from engines.curation.calibration import (
    CALIBRATION_FILE,
    calibrated_probability,
    expected_calibration_error,
    fit_reliability,
    load_calibration,
    reliability_bins,
    review_reliability,
)
from engines.curation.calibration_fit import (
    FIT_RECORDINGS,
    HELD_OUT_SEEDS,
    build_calibration,
    fit_breakpoints,
    fit_points,
)
from engines.curation.metrics_judge import MetricsJudgeParams


def _shipped_points() -> dict[str, list[tuple[float, bool]]]:
    stored = json.loads(CALIBRATION_FILE.read_text())["fit_summary"]["points"]
    return {name: [(float(s), bool(o)) for s, o in found] for name, found in stored.items()}


def test_the_shipped_map_is_monotone_within_zero_and_one_and_never_certain():
    calibration = load_calibration()
    probabilities = np.array([calibration.probability(s) for s in np.linspace(0.0, 1.0, 1001)])
    assert np.all(np.diff(probabilities) >= 0)
    assert 0.0 < probabilities.min() < 0.05 and 0.95 < probabilities.max() < 1.0
    assert calibration.judge == "metrics" and calibration.fit_summary["n_groups"] >= 300


def test_the_shipped_map_was_not_fitted_on_the_demo_or_the_benchmark_seed():
    seeds = {r["seed"] for r in load_calibration().fit_summary["recordings"]}
    assert len(seeds) >= 5 and not seeds & set(HELD_OUT_SEEDS) and set(HELD_OUT_SEEDS) == {7, 11}


def test_the_shipped_file_is_exactly_what_the_fit_makes_of_its_points():
    payload = json.loads(CALIBRATION_FILE.read_text())
    assert build_calibration(_shipped_points()) == payload


def test_the_smallest_fit_recording_regenerates_the_points_the_file_holds():
    recording = FIT_RECORDINGS[0]
    assert fit_points(recording) == _shipped_points()[recording.name]


def test_expected_calibration_error_matches_a_hand_computation():
    probabilities = [0.05, 0.15, 0.18, 0.95, 1.0]
    outcomes = [0, 1, 0, 1, 1]
    # bin 0: |0.05 - 0| x 1/5; bin 1: |0.165 - 0.5| x 2/5; bin 9 (1.0 included): |0.975 - 1| x 2/5
    assert expected_calibration_error(probabilities, outcomes) == pytest.approx(0.01 + 0.134 + 0.01)
    assert expected_calibration_error([0.0, 1.0], [0, 1]) == 0.0
    bins = reliability_bins(probabilities, outcomes)
    assert [b.count for b in bins] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert bins[1].mean_predicted == pytest.approx(0.165) and bins[1].observed == 0.5
    assert bins[2].observed is None


def test_a_block_of_three_merges_says_four_in_five_not_certainty():
    xs, ps = fit_breakpoints([0.1, 0.2, 0.3, 0.8, 0.9, 0.95], [0, 0, 0, 1, 1, 1])
    assert np.interp(0.9, xs, ps) == pytest.approx(0.8) and np.interp(0.15, xs, ps) == pytest.approx(0.2)
    assert xs[0] == 0.0 and xs[-1] == 1.0 and list(ps) == sorted(ps)
    with pytest.raises(ValueError, match="both true merges and non-merges"):
        fit_breakpoints([0.1, 0.9], [1, 1])


def test_a_judge_with_other_settings_gets_no_calibrated_probability():
    assert calibrated_probability("metrics", MetricsJudgeParams(), 0.99) == pytest.approx(
        load_calibration().probability(0.99), abs=1e-4
    )
    assert calibrated_probability("metrics", MetricsJudgeParams(threshold=0.6), 0.99) is None
    assert calibrated_probability("vlm", MetricsJudgeParams(), 0.99) is None


def test_the_demo_s_decisions_carry_a_calibrated_probability_within_the_floor(review, demo_workspace):
    review.find_candidates(CandidateRequest.recommended())
    review.judge("metrics")
    decisions = list(review.decisions("metrics").values())
    assert decisions and all(0.0 < d.p_merge < 1.0 for d in decisions if d.ok)
    report = review_reliability(decisions, demo_truth(demo_workspace)["true_groups"])
    assert report is not None and report.n == sum(d.ok for d in decisions)
    assert report.ece <= 0.1 and sum(b.count for b in report.bins) == report.n


def test_an_analyzer_without_known_merges_shows_the_fit_data_labelled_as_such():
    report = fit_reliability(load_calibration())
    assert "fit data" in report.title and "in-sample" in report.note
    assert sum(b.count for b in report.bins) == report.n == load_calibration().fit_summary["n_groups"]
    assert report.ece <= 0.1
