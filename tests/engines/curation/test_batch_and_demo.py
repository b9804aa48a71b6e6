"""Headless batch curation (run.py curate) and the offline demo."""

from __future__ import annotations

import ast
import json
import time

import pandas as pd

from engines.curation import curate_batch, demo_truth, ensure_demo_analyzer, main
from tests.engines.curation.conftest import pairs_of


def test_curate_batch_writes_the_reasoning_csv_and_a_curation_with_the_true_merges(
    analyzer_copy, tmp_path, true_pairs
):
    steps = []
    result = curate_batch(
        analyzer_copy, "metrics", None, 4, tmp_path / "out", progress=lambda f, m: steps.append(f)
    )
    table = pd.read_csv(result.reasoning_csv)
    assert (
        result.reasoning_csv.name == "metrics_merge_reasoning.csv"
        and len(set(table.group_id)) == result.n_groups
    )
    merged = [ast.literal_eval(u) for u, kind in zip(table.merge_units, table.merge_type) if kind == "merge"]
    assert pairs_of(merged) == true_pairs
    curation = json.loads(result.curation_json.read_text())
    assert pairs_of(m["unit_ids"] for m in curation["merges"]) == true_pairs and curation["manual_labels"]
    assert steps == sorted(steps) and steps[-1] == 1.0 and result.run.n_errors == 0


def test_the_curate_command_prints_where_its_files_are_and_fails_cleanly_on_a_bad_folder(
    analyzer_copy, tmp_path, capsys
):
    assert (
        main(
            [
                "--analyzer",
                str(analyzer_copy),
                "--out",
                str(tmp_path / "out"),
                "--preset",
                "slay",
                "--no-labels",
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    assert "candidate groups judged by metrics" in out.out and (tmp_path / "out" / "curation.json").is_file()
    assert main(["--analyzer", str(tmp_path / "missing"), "--out", str(tmp_path / "o2")]) == 1
    assert "No analyzer at" in capsys.readouterr().err


def test_the_demo_is_built_once_and_records_its_true_merges(demo_workspace):
    started = time.perf_counter()
    folder = ensure_demo_analyzer(demo_workspace)
    assert time.perf_counter() - started < 1.0 and folder.is_dir()
    truth = demo_truth(demo_workspace)
    assert len(truth["true_groups"]) == 5 and set(truth["faults"]) == {
        "duplicates",
        "amplitude_splits",
        "temporal_splits",
        "random_splits",
    }
    assert not list((demo_workspace / "curation").glob(".demo-*"))
