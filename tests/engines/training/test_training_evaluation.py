"""Evaluation (held-out decoding, co-bps, baselines), interpretability analyses, and the job kinds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engines.jobs import JobStatus, JobStore, ResultStore, Worker
from engines.jobs.catalog import JobEnvironment, all_job_kinds
from engines.training.errors import OptionalDependencyMissing, RunNotFound
from engines.training.evaluation import bits_per_spike, evaluate_run, load_trained_run, r2_score, ridge_decode
from engines.training.interpret import (
    interpret_run,
    participation_ratio,
    population_geometry,
    predictive_units,
    project_latents,
    selectivity_index,
    tuning_curves,
)
from engines.training.jobs import EVALUATE, INTERPRET


def test_bits_per_spike_is_zero_for_the_mean_rate_and_positive_for_the_true_rate():
    rng = np.random.default_rng(0)
    rates = np.exp(rng.normal(-1, 1, (4000, 3)))
    spikes = rng.poisson(rates)
    assert bits_per_spike(np.broadcast_to(spikes.mean(0), spikes.shape), spikes) == pytest.approx(
        0, abs=1e-12
    )
    assert bits_per_spike(rates, spikes) > 0.2
    assert bits_per_spike(rates[::-1], spikes) < 0


def test_ridge_baseline_recovers_a_lagged_linear_relation_on_held_out_segments():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 3))
    y = np.roll(x[:, :1], 2, axis=0) + 0.5 * x[:, 1:2]
    assert ridge_decode([x[:800]], [y[:800]], [x[900:]], [y[900:]]) > 0.95
    assert r2_score(y, np.zeros_like(y)) < 0


def test_evaluating_a_run_scores_every_modality_with_baselines_and_writes_it_down(trained_run):
    result = evaluate_run(trained_run, cebra_iterations=30)
    assert set(result["decoding_r2"]) == {"all", "spikes", "lfp", "eeg"}
    assert all(
        np.isfinite(v) and v <= 1 for v in result["decoding_r2"].values()
    )  # quality: see the benchmark
    assert np.isfinite(result["co_bps"]) and np.isfinite(result["latent_r2"])
    baselines = result["baselines"]
    assert set(baselines["ridge_r2"]) == {"all", "spikes", "lfp", "eeg"} and baselines["ridge_lags"] == 5
    assert np.isfinite(baselines["cebra_r2"]) and "CEBRA-Behavior" in baselines["cebra_note"]
    assert trained_run.evaluation()["checkpoint_step"] == 60
    assert trained_run.status()["final"]["decoding_r2"] == result["decoding_r2"]["all"]
    with pytest.raises(RunNotFound, match="no checkpoint at step 7"):
        evaluate_run(trained_run, checkpoint_step=7)


def test_selectivity_finds_a_planted_tuned_unit():
    rng = np.random.default_rng(2)
    stimulus = rng.integers(0, 4, 3000)
    activity = rng.normal(size=(3000, 5))
    activity[:, 3] += 2.0 * (stimulus == 2)
    table = selectivity_index(activity, stimulus)
    assert table.iloc[0]["unit"] == 3 and table.iloc[0]["preferred"] == 2 and table.iloc[0]["p_value"] < 1e-10
    mean, sem = tuning_curves(activity, stimulus)
    assert (
        mean.shape == (5, 4) and mean.loc[3, 2] == pytest.approx(2.0, abs=0.15) and (sem.to_numpy() > 0).all()
    )
    continuous, _ = tuning_curves(activity, activity[:, 0] + rng.normal(size=3000), n_bins=5)
    assert list(continuous.columns) == [0, 1, 2, 3, 4] and continuous.loc[0].is_monotonic_increasing


def test_mutual_information_ranks_the_unit_that_carries_the_behaviour_first():
    rng = np.random.default_rng(3)
    activity = rng.normal(size=(2000, 6))
    behaviour = np.c_[np.sin(2 * activity[:, 4]) + 0.1 * rng.normal(size=2000)]
    table = predictive_units(activity, behaviour, top=3, names=["speed"])
    assert list(table.columns) == ["unit", "target", "mutual_info_bits"]
    assert table.iloc[0]["unit"] == 4 and table.iloc[0]["target"] == "speed" and len(table) == 3


def test_population_geometry_measures_dimensionality_and_condition_separation():
    rng = np.random.default_rng(4)
    assert participation_ratio(rng.normal(size=(5000, 8))) == pytest.approx(8, rel=0.05)
    assert participation_ratio(np.outer(rng.normal(size=500), np.ones(8))) == pytest.approx(1, rel=1e-6)
    labels = np.repeat([0, 1, 2], 300)
    activity = rng.normal(scale=0.2, size=(900, 3)) + np.eye(3)[labels] * 3
    geometry = population_geometry(activity, labels)
    assert geometry.silhouette > 0.8
    assert (
        geometry.distances.loc[0, 1] == pytest.approx(np.sqrt(18), rel=0.05)
        and geometry.distances.loc[1, 1] == 0
    )


def test_projections_are_pca_here_and_umap_says_what_to_install():
    activity = np.random.default_rng(5).normal(size=(200, 6))
    projection = project_latents(activity, "pca", 3)
    assert projection.coords.shape == (200, 3) and projection.explained_variance.sum() <= 1
    try:
        import umap  # noqa: F401  (only whether it imports matters)
    except ImportError:
        with pytest.raises(OptionalDependencyMissing, match="pip install umap-learn"):
            project_latents(activity, "umap")


def test_interpreting_a_run_gives_frames_the_page_can_plot(trained_run):
    result = interpret_run(load_trained_run(trained_run), session=1)
    assert result.latents.shape[1] == 16 and result.projection.coords.shape == (len(result.latents), 2)
    assert isinstance(result.selectivity, pd.DataFrame) and len(result.selectivity) == 16
    assert isinstance(result.predictive, pd.DataFrame) and set(result.predictive["target"]) == {
        "behaviour_x",
        "behaviour_y",
    }
    assert result.geometry.participation_ratio >= 1 and result.summary()["session_id"] == "synthetic-0-1"


def test_evaluation_and_interpretation_run_as_jobs_on_a_real_worker(trained_run, policy):
    workspace = trained_run.path.parents[2]
    env = JobEnvironment(source_policy=type(policy)(workspace=workspace))
    kinds = all_job_kinds(env)
    assert EVALUATE in kinds and INTERPRET in kinds
    store, results = JobStore(workspace), ResultStore(workspace)
    for kind, inputs in (
        (EVALUATE, {"run": trained_run.run_id, "checkpoint_step": 60, "cebra_iterations": 0}),
        (INTERPRET, {"run": trained_run.run_id, "session": 0}),
    ):
        job = store.submit(kind, inputs, kinds.get(kind).code_version, 1)
        Worker(store, results, kinds, lease_s=60).run_one()
        job = store.get(job.id)
        assert job.status == JobStatus.DONE, job.error
        folder = results.path_for(job.kind, job.input_hash, job.code_version)
        assert (folder / ("evaluation.json" if kind == EVALUATE else "selectivity.csv")).exists()
    missing = store.submit(EVALUATE, {"run": "no-such-run"}, kinds.get(EVALUATE).code_version, 1)
    Worker(store, results, kinds, lease_s=60).run_one()
    assert "There is no run 'no-such-run'" in store.get(missing.id).error
