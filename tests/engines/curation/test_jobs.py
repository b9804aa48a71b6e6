"""Curation's job kinds run by a real worker on a real job store, as the page and run.py worker do."""

from __future__ import annotations

import json
import shutil

import pytest

from engines.curation import CandidateRequest, CurationReview, open_analyzer
from engines.curation.jobs import APPLY_KIND, EXTENSIONS_KIND, JUDGE_KIND
from engines.io.policy import SourcePolicy
from engines.jobs import JobEnvironment, JobStatus, JobStore, ResultStore, Worker, all_job_kinds


@pytest.fixture
def env(workspace, analyzer_copy) -> JobEnvironment:
    return JobEnvironment(SourcePolicy(workspace=workspace, allowed_roots=(analyzer_copy.parent,)))


def _run(env: JobEnvironment, kind: str, inputs: dict):
    store, results = JobStore(env.workspace), ResultStore(env.workspace)
    kinds = all_job_kinds(env)
    job = store.submit(kind, inputs, kinds.get(kind).code_version, max_attempts=1)
    Worker(store, results, kinds).run_one()
    done = store.get(job.id)
    return done, results.path_for(kind, done.input_hash, done.code_version)


def test_the_catalogue_lists_the_three_curation_kinds(env):
    assert {EXTENSIONS_KIND, JUDGE_KIND, APPLY_KIND} <= set(all_job_kinds(env).names())


def test_extensions_job_computes_what_is_missing_reading_the_recording_in_a_child(env, analyzer_copy):
    for name in ("spike_amplitudes", "quality_metrics"):
        shutil.rmtree(analyzer_copy / "extensions" / name)
    job, folder = _run(
        env,
        EXTENSIONS_KIND,
        {"analyzer": str(analyzer_copy), "extensions": ["spike_amplitudes", "quality_metrics"]},
    )
    assert job.status is JobStatus.DONE, job.error
    assert job.summary["computed"] == ["spike_amplitudes", "quality_metrics"]
    assert open_analyzer(analyzer_copy)[1].complete and json.loads((folder / "computed.json").read_text())


def test_judge_job_stores_its_decisions_and_writes_the_reasoning_csv(env, analyzer_copy):
    review = CurationReview.open(env.workspace, analyzer_copy)
    groups = review.find_candidates(CandidateRequest.recommended())
    run_id = review.start_judge_run("metrics")
    job, folder = _run(env, JUDGE_KIND, {"analyzer": str(analyzer_copy), "run_id": run_id})
    assert job.status is JobStatus.DONE, job.error
    assert job.summary["n_done"] == len(groups) and job.summary["status"] == "done"
    assert set(review.decisions("metrics")) == {g.group_id for g in groups}
    assert (folder / "merge_reasoning.csv").read_text().count("\n") >= len(groups) + 1


def test_apply_job_writes_the_curated_analyzer_into_its_result(env, analyzer_copy, demo_workspace):
    from engines.curation import demo_truth

    review = CurationReview.open(env.workspace, analyzer_copy)
    truth = demo_truth(demo_workspace)["true_groups"]
    curation = review.curation()
    curation["merges"] = [{"unit_ids": group} for group in truth]
    job, folder = _run(
        env, APPLY_KIND, {"analyzer": str(analyzer_copy), "curation": curation, "censor_ms": 0.4}
    )
    assert job.status is JobStatus.DONE, job.error
    assert job.summary["n_units_after"] == len(review.analyzer.unit_ids) - len(truth)
    assert len(open_analyzer(folder / "analyzer")[0].unit_ids) == job.summary["n_units_after"]


def test_a_folder_outside_the_allowed_roots_fails_the_job_with_the_reason(env, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    job, _ = _run(env, EXTENSIONS_KIND, {"analyzer": str(outside)})
    assert job.status is JobStatus.FAILED and "outside the folders this server may read" in job.error
