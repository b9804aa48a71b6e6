"""The workspace's run index and the per-run metrics store: 50 runs list, filter and sort as their folders
say, each person's runs stay theirs, and a run folder from before the store (``metrics.jsonl``) reads as
before."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from engines.training.config import build_config
from engines.training.metrics_store import MetricsWriter
from engines.training.run_index import RunIndex, select_runs
from engines.training.runs import RunFolder, RunRegistry, read_metrics, write_json_atomic
from engines.training.trainer.sinks import MetricsLog

OWNERS = ("alice", "bob", "")


def _runs(workspace: Path, count: int = 50) -> list[RunFolder]:
    """``count`` finished runs as the trainer leaves them: three owners, two data sources, best losses."""
    registry, folders = RunRegistry(workspace), []
    for i in range(count):
        source = {"kind": "synthetic"} if i % 2 else {"kind": "nitime", "dataset": "grasshopper"}
        config = build_config([source], model_size="tiny", steps=100, name=f"run {i:02d}", optim={"lr": 1e-3})
        folder = registry.new_run(config.name)
        write_json_atomic(folder.config_path, config.to_dict())
        write_json_atomic(
            folder.status_path,
            {
                "state": "failed" if i % 5 == 0 else "completed",
                "owner": OWNERS[i % 3],
                "step": 100,
                "total_steps": 100,
                "started": 1000.0 + i,
                "final": {"best_val_loss": (i * 37 % 50) / 10},
            },
        )
        folders.append(folder)
    return folders


def test_fifty_runs_list_filter_and_sort_as_their_folders_say(tmp_path):
    folders = _runs(tmp_path)
    runs = RunRegistry(tmp_path).runs_frame()
    newest_first = [f"run {i:02d}" for i in reversed(range(50))]
    assert len(runs) == 50 and list(runs["name"]) == newest_first
    assert runs.set_index("name").loc["run 07", "owner"] == "bob"
    assert runs.set_index("name").loc["run 07", "data.sources"] == "synthetic"

    failed_nitime = select_runs(runs, "NITIME", ("failed",), "best val loss")
    expected = [i for i in range(50) if i % 5 == 0 and i % 2 == 0]  # failed, and on nitime data
    assert sorted(failed_nitime["name"]) == sorted(f"run {i:02d}" for i in expected)
    losses = list(failed_nitime["final.best_val_loss"])
    assert losses == sorted(losses)  # best first
    assert list(select_runs(runs, "", (), "name")["name"]) == [f"run {i:02d}" for i in range(50)]
    assert list(select_runs(runs, "run 4", (), "oldest first")["name"]) == [f"run 4{d}" for d in range(10)]
    assert select_runs(runs, "%", (), "name").empty  # the text is taken literally
    assert select_runs(runs, "run_", (), "name").empty

    write_json_atomic(folders[3].status_path, {**folders[3].status(), "state": "stopped", "step": 40})
    shutil.rmtree(folders[4].path)  # a deleted run
    again = RunRegistry(tmp_path).runs_frame().set_index("name")
    assert len(again) == 49 and "run 04" not in again.index
    assert (again.loc["run 03", "state"], again.loc["run 03", "step"]) == ("stopped", 40)


def test_the_index_reads_again_only_what_changed_and_is_rebuilt_when_deleted(tmp_path):
    folders = _runs(tmp_path, 12)
    index = RunIndex(tmp_path)
    assert index.refresh() == 12 and index.refresh() == 0  # nothing changed: no run read again
    folders[0].update_status(message="checkpoint written")
    assert index.refresh() == 1
    (tmp_path / "training" / "run_index.sqlite").unlink()
    assert len(RunIndex(tmp_path).runs()) == 12  # the folders are the truth: a lost index is rebuilt


def test_a_run_whose_process_died_lists_as_interrupted(tmp_path):
    [folder] = _runs(tmp_path, 1)
    folder.update_status(state="running", pid=2**22 + 12345, pid_started=1.0, host=None)
    assert RunRegistry(tmp_path).list_runs()[0].state.value == "interrupted"


def test_each_persons_runs_come_back_to_them_alone(tmp_path):
    _runs(tmp_path, 30)
    registry = RunRegistry(tmp_path)
    hers = registry.runs_frame(owner="alice")
    assert len(hers) == 10 and set(hers["owner"]) == {"alice"}
    assert set(registry.runs_frame(owner="")["owner"]) == {""}  # runs from before owners: the admins'
    assert registry.runs_frame(owner="mallory").empty
    assert registry.runs_frame(owner="alice' OR '1'='1").empty  # a name is a value, never SQL
    everyone = registry.runs_frame()
    counts = everyone["owner"].value_counts().to_dict()
    assert sorted(counts.items()) == [("", 10), ("alice", 10), ("bob", 10)]


def _legacy_run(workspace: Path) -> RunFolder:
    """A run folder written before the metrics store: its rows in ``metrics.jsonl``, a resume, a NaN loss."""
    [folder] = _runs(workspace, 1)
    rows = [{"step": s, "split": "train", "loss": 10.0 / s} for s in (10, 20, 30)]
    rows += [{"step": 20, "split": "val", "loss": 0.9}, {"event": "resume", "step": 20}]
    rows += [{"step": 30, "split": "train", "loss": float("nan")}]
    rows += [{"step": 40, "split": "train", "loss": 0.2}]
    text = "".join(json.dumps(r) + "\n" for r in rows)  # NaN as Python's json writes it
    folder.legacy_metrics_path.write_text(text + '{"step": 50, "sp')  # a line still being written
    return folder


def test_an_old_run_folder_is_copied_into_the_store_on_first_read_and_reads_as_before(tmp_path):
    folder = _legacy_run(tmp_path)
    before = folder.legacy_metrics_path.read_bytes()
    assert not folder.metrics_path.exists()
    rows, offset = read_metrics(folder.metrics_path)
    assert folder.metrics_path.exists()
    assert folder.legacy_metrics_path.read_bytes() == before  # left as it was
    assert [r.get("event") or r["split"] for r in rows] == ["train"] * 3 + ["val", "resume", "train", "train"]
    assert rows[5]["loss"] is None  # NaN is not JSON: stored as null, read as missing

    frame = folder.metrics()
    assert list(frame["step"]) == [10, 20, 20, 30, 40]  # step 30 logged before the resume is gone
    assert frame["loss"].isna().sum() == 1
    series = folder.metric_series("train", "loss")
    assert list(series["step"]) == [10, 20, 40] and math.isclose(series["value"].iloc[-1], 0.2)

    assert read_metrics(folder.metrics_path, offset) == ([], offset)  # a second read copies nothing twice
    with open(folder.legacy_metrics_path, "a") as handle:  # an old trainer still appending
        handle.write('lit": "train", "loss": 0.1}\n')
    new, _ = read_metrics(folder.metrics_path, offset)
    assert new == [{"step": 50, "split": "train", "loss": 0.1}]
    assert len(read_metrics(folder.metrics_path)[0]) == 8


def test_a_resumed_old_run_keeps_its_history_and_logs_through_the_same_sink_api(tmp_path):
    folder = _legacy_run(tmp_path)
    log = MetricsLog(folder.metrics_path)  # what the trainer opens on resume: the old lines come first
    log.write({"step": 60, "split": "train", "loss": 0.05})
    log.write({"event": "checkpoint", "step": 60}, durable=True)
    seen, offset = read_metrics(folder.metrics_path)  # another reader, while the log is open
    log.write({"step": 70, "split": "train", "loss": 0.04, "r2/spikes": 0.5})  # a new metric, no new schema
    log.close()
    assert [r["step"] for r in seen][-2:] == [60, 60] and seen[-1]["event"] == "checkpoint"
    later, _ = read_metrics(folder.metrics_path, offset)
    assert later == [{"step": 70, "split": "train", "loss": 0.04, "r2/spikes": 0.5, "time": later[0]["time"]}]
    assert list(folder.metric_series("train", "r2/spikes")["value"]) == [0.5]


def test_a_run_without_metrics_reads_empty_and_creates_nothing(tmp_path):
    [folder] = _runs(tmp_path, 1)
    assert read_metrics(folder.metrics_path, 0) == ([], 0)
    assert folder.metrics().empty and folder.metric_series("val", "loss").empty
    assert not folder.metrics_path.exists()


@pytest.mark.parametrize("metric", ["loss", 'odd "name"'])
def test_one_metric_of_one_split_comes_back_along_the_trajectory(tmp_path, metric):
    [folder] = _runs(tmp_path, 1)
    writer = MetricsWriter(folder.metrics_path)
    writer.write_many([{"step": s, "split": "val", metric: s / 10} for s in (1, 2, 3)])
    writer.write({"event": "resume", "step": 1})
    writer.write({"step": 2, "split": "val", metric: 9.0})
    writer.write({"step": 2, "split": "train", metric: 7.0})
    writer.close()
    series = folder.metric_series("val", metric)
    assert list(series["step"]) == [1, 2] and list(series["value"]) == [0.1, 9.0]
