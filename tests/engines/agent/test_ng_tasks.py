"""The Neuroglancer task suite (``benchmarks/ng_tasks.py``) on a slice of its tasks, in both modes, so that
neither the tasks nor the tools they check can rot without a failing test."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from benchmarks._ng_task_list import CATEGORIES, TASKS, Step
from benchmarks.ng_tasks import run_suite, summarize

BY_ID = {task.id: task for task in TASKS}
SLICE = [
    "go-and-zoom",
    "zoom-fit",
    "hide-seg",
    "contrast-of",
    "add-segment",
    "box",
    "layout-4panel",
    "bottom-sphericity",
    "select-bright",
    "undo-one-of-two",
    "go-named-axes",
]
"""One task or more per category; two need a model (the planner does not claim them)."""
NEEDS_A_MODEL = ["select-bright", "go-named-axes"]


def test_the_suite_has_40_tasks_or_more_across_every_category():
    counts = Counter(task.category for task in TASKS)
    assert len(TASKS) >= 40 and len(BY_ID) == len(TASKS)
    assert set(counts) == set(CATEGORIES) and min(counts.values()) >= 5, counts


@pytest.fixture(scope="module")
def slice_runs(tmp_path_factory):
    return run_suite([BY_ID[i] for i in SLICE], tmp_path_factory.mktemp("ngtasks"), latency=(0.0, 0.01))


def test_a_slice_of_the_suite_succeeds_offline_and_with_a_scripted_model(slice_runs):
    offline = {r.task: r for r in slice_runs if r.mode == "offline"}
    scripted = {r.task: r for r in slice_runs if r.mode == "scripted"}
    assert [t for t, r in offline.items() if not r.claimed] == NEEDS_A_MODEL
    assert [f"{t}: {r.problem}" for t, r in offline.items() if r.claimed and not r.success] == []
    assert [f"{t}: {r.problem}" for t, r in scripted.items() if not r.success] == []
    summary = summarize(slice_runs)
    assert summary["offline_claimed"] == len(SLICE) - len(NEEDS_A_MODEL) and summary["offline_success"] == 1.0
    assert summary["scripted_success"] == 1.0
    assert 0 < summary["scripted_p50_s"] <= summary["scripted_p95_s"] < 5


def test_a_model_that_does_the_wrong_thing_fails_the_task(tmp_path):
    """The predicates judge the resulting view: zooming in when asked to zoom out, or selecting the wrong
    cells after reading the table, is a failure."""
    zoom_out = dataclasses.replace(BY_ID["zoom-out-by"], rounds=((Step("zoom", {"factor": 2}),),))
    wrong_cells = dataclasses.replace(
        BY_ID["select-bright"],
        rounds=(BY_ID["select-bright"].rounds[0], (Step("select_segment_ids", {"segments": [3]}),)),
    )
    runs = [
        r for r in run_suite([zoom_out, wrong_cells], tmp_path, latency=(0.0, 0.0)) if r.mode == "scripted"
    ]
    assert [(r.task, r.success) for r in runs] == [("zoom-out-by", False), ("select-bright", False)]
    assert summarize(runs)["scripted_success"] == 0.0
