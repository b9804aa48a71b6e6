"""Runs at scale: list, filter and sort 1,000 runs, and read 20 runs' curves for one comparison chart, with
the run index and metrics stores, against the way the page read runs before them, in the same run.

``measure_runs_at_scale()`` builds two workspaces in a temporary folder holding the same 1,000
runs (config and status as the trainer writes them: three owners, three model sizes, learning
rates, data sources, most runs completed, some failed or stopped; 2,000 logged training steps
x 6 metrics and 40 validation rows each):

- the new layout: each run's metrics in its ``metrics.sqlite`` (``metrics_store``);
- the old layout: the same ``config.json`` / ``status.json``, and ``metrics.jsonl`` for the 20
  runs compared (the old listing never read metrics, so the other runs' JSON lines would change
  nothing measured; leaving them out saves a minute of set-up).

Figures (medians of 5, old and new alternated so a busy machine slows them alike):

- ``runs_1000_list_s``: ``RunRegistry.runs_frame()`` (index refresh by ``stat``, one query; one
  run's status rewritten before each repetition, as a live run does every 5 s) + ``select_runs``
  (text filter, state filter, sort by best validation loss): what the run list does every 3 s.
  ``runs_1000_list_s_before``: the same frame built by re-reading every folder (two JSON files and
  a config validation a run, the code this replaced) + the same filter and sort.
- ``runs_1000_index_build_s``: the first listing of the workspace, which reads every run once.
- ``compare_20_s``: the training loss of 20 runs (2,000 points each, the larger of the two splits)
  read for the comparison chart (``RunFolder.metric_series``); ``compare_20_s_before``: each run's
  whole ``metrics.jsonl`` parsed, its trajectory kept and the column picked, as the comparison did
  through ``RunFolder.metrics()`` before.
- ``compare_20_figure_s``: the new read plus the HoloViews overlay of the 20 smoothed curves
  rendered to a Bokeh figure (the chart the page sends).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import pandas as pd

from engines.training.config import build_config, parse_config
from engines.training.metrics_store import MetricsWriter, current_trajectory, read_jsonl
from engines.training.run_index import select_runs
from engines.training.runs import RunFolder, RunRegistry, write_json_atomic

__all__ = ["measure_runs_at_scale", "make_runs"]

OWNERS = ("alice", "bob", "carol")
SIZES = ("tiny", "small", "base")
SOURCES = ({"kind": "synthetic"}, {"kind": "nitime", "dataset": "grasshopper"})
METRICS = ("loss", "loss/behaviour", "loss/reconstruction", "loss/contrastive", "lr", "tokens_per_s")


def _metric_rows(steps: int, seed: int) -> list[dict[str, Any]]:
    """A run's history: ``steps`` training rows of 6 metrics and a validation row every 50 steps."""
    rng = np.random.default_rng(seed)
    step = np.arange(1, steps + 1)
    decay = 2.0 * np.exp(-step / rng.uniform(200, 900)) + rng.uniform(0.2, 0.6)
    noise = rng.normal(0, 0.05, (4, steps))
    rows: list[dict[str, Any]] = []
    for k in range(steps):
        rows.append(
            {
                "step": int(step[k]),
                "split": "train",
                "loss": float(decay[k] + noise[0, k]),
                "loss/behaviour": float(0.5 * decay[k] + noise[1, k]),
                "loss/reconstruction": float(0.3 * decay[k] + noise[2, k]),
                "loss/contrastive": float(0.2 * decay[k] + noise[3, k]),
                "lr": 1e-3 * min(1.0, (k + 1) / 50),
                "tokens_per_s": 5000.0 + 10 * k % 97,
            }
        )
        if (k + 1) % 50 == 0:
            rows.append({"step": int(step[k]), "split": "val", "loss": float(decay[k] + 0.1)})
    return rows


def make_runs(workspace: Path, n_runs: int, steps: int = 2000, metrics: bool = True) -> list[str]:
    """``n_runs`` finished runs in ``workspace`` (config, status and, with ``metrics``, a metrics store of
    ``steps`` logged steps); returns their ids, oldest first."""
    rng = random.Random(0)
    registry, ids = RunRegistry(workspace), []
    for i in range(n_runs):
        size, source = SIZES[i % 3], SOURCES[i % 2]
        config = build_config(
            [source], model_size=size, steps=steps, name=f"sweep {i:04d} lr {rng.choice([1, 3, 10])}e-4"
        )
        folder = registry.new_run(config.name)
        write_json_atomic(folder.config_path, config.to_dict())
        state = "failed" if i % 17 == 0 else "stopped" if i % 11 == 0 else "completed"
        best = round(0.2 + rng.random(), 4)
        write_json_atomic(
            folder.status_path,
            {
                "state": state,
                "owner": OWNERS[i % 3],
                "step": steps,
                "total_steps": steps,
                "started": 1.7e9 + 60 * i,
                "updated": 1.7e9 + 60 * i + 600,
                "final": {"best_val_loss": best, "val_loss": best + 0.01},
            },
        )
        if metrics:
            writer = MetricsWriter(folder.metrics_path)
            writer.write_many(_metric_rows(steps, i))
            writer.close()
        ids.append(folder.run_id)
    return ids


def _old_runs_frame(workspace: Path) -> pd.DataFrame:
    """The run list's frame as it was built before the index: every folder's status and config re-read and
    the config validated, on every refresh."""
    rows = []
    root = Path(workspace) / "training" / "runs"
    folders = [RunFolder(p) for p in sorted(root.iterdir()) if (p / "config.json").exists()]
    for folder in folders:
        status, raw = folder.status(), folder.config()
        try:
            hyper = parse_config(raw).hyperparameters()
        except Exception:
            hyper = {}
        row = {
            "run_id": folder.run_id,
            "name": raw.get("name") or folder.run_id,
            "owner": str(status.get("owner", "") or ""),
            "state": folder.effective_state(status).value,
            "step": int(status.get("step", 0)),
            "total_steps": int(status.get("total_steps", 0)),
            "started": status.get("started"),
            "message": str(status.get("message", "")),
        }
        row.update({f"final.{k}": v for k, v in status.get("final", {}).items()})
        row.update(hyper)
        rows.append(row)
    return pd.DataFrame(rows).sort_values("started", ascending=False)


def _old_filter_sort(runs: pd.DataFrame, needle: str, state: str) -> pd.DataFrame:
    """The run list's filter as it was (state, then name or id contains), then the same sort."""
    runs = runs[runs["state"] == state]
    runs = runs[
        runs["name"].str.lower().str.contains(needle, regex=False)
        | runs["run_id"].str.lower().str.contains(needle, regex=False)
    ]
    return runs.sort_values("final.best_val_loss", na_position="last", kind="stable")


def _old_series(path: Path, split: str, metric: str) -> pd.DataFrame:
    rows, _ = read_jsonl(path)
    frame = pd.DataFrame([r for r in current_trajectory(rows) if "event" not in r])
    return frame[frame["split"] == split][["step", metric]]


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def measure_runs_at_scale(
    tmp: Path | None = None, n_runs: int = 1000, compared: int = 20, steps: int = 2000, reps: int = 5
) -> dict[str, Any]:
    """Build the two workspaces under ``tmp`` (a new temporary folder when None), time both ways, print
    the ratios, and return the figures (keys in the module docstring)."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=tmp) as folder:
        new, old = Path(folder) / "new", Path(folder) / "old"
        made = time.perf_counter()
        ids = make_runs(new, n_runs, steps)
        chosen = ids[:: max(1, n_runs // compared)][:compared]
        for (
            run_id
        ) in ids:  # the same runs in the old layout: config and status; metric lines for the compared
            source, target = new / "training" / "runs" / run_id, old / "training" / "runs" / run_id
            target.mkdir(parents=True)
            for name in ("config.json", "status.json"):
                shutil.copy2(source / name, target / name)
            if run_id in chosen:
                lines = (json.dumps(r) + "\n" for r in _metric_rows(steps, ids.index(run_id)))
                (target / "metrics.jsonl").write_text("".join(lines))
        print(f"runs at scale: {n_runs} runs x {steps} steps made in {time.perf_counter() - made:.0f} s")

        registry = RunRegistry(new)
        build_s = _timed(registry.runs_frame)
        live = RunFolder(new / "training" / "runs" / ids[-1])
        new_list, old_list, new_compare, old_compare = [], [], [], []
        for rep in range(reps):
            live.update_status(step=steps - rep)  # a live run's heartbeat: the index re-reads this one run
            new_list.append(
                _timed(lambda: select_runs(registry.runs_frame(), "lr 3", ("completed",), "best val loss"))
            )
            old_list.append(_timed(lambda: _old_filter_sort(_old_runs_frame(old), "lr 3", "completed")))
            new_compare.append(
                _timed(lambda: {r: registry.get(r).metric_series("train", "loss") for r in chosen})
            )
            old_compare.append(
                _timed(
                    lambda: {
                        r: _old_series(old / "training" / "runs" / r / "metrics.jsonl", "train", "loss")
                        for r in chosen
                    }
                )
            )
        shown = select_runs(registry.runs_frame(), "lr 3", ("completed",), "best val loss")
        before = _old_filter_sort(_old_runs_frame(old), "lr 3", "completed")
        assert sorted(shown["run_id"]) == sorted(before["run_id"]), (
            "the index lists other runs than the folders"
        )
        figure_s = _figure_seconds(registry, chosen)
    figures: dict[str, Any] = {
        "runs_1000_list_s": round(median(new_list), 4),
        "runs_1000_list_s_before": round(median(old_list), 3),
        "runs_1000_index_build_s": round(build_s, 2),
        "compare_20_s": round(median(new_compare), 4),
        "compare_20_s_before": round(median(old_compare), 3),
        "compare_20_figure_s": None if figure_s is None else round(figure_s, 3),
        "runs_at_scale_note": f"{n_runs} runs x {steps} logged steps x {len(METRICS)} metrics; "
        f"the list's query keeps {len(shown)} runs; {compared} runs compared",
    }
    figures["runs_1000_list_ratio"] = round(median(old_list) / max(median(new_list), 1e-9), 1)
    figures["compare_20_ratio"] = round(median(old_compare) / max(median(new_compare), 1e-9), 1)
    print("runs at scale:", json.dumps(figures))
    return figures


def _figure_seconds(registry: RunRegistry, chosen: list[str]) -> float | None:
    """Seconds to read the 20 curves and render the comparison overlay to Bokeh (None without HoloViews)."""
    try:
        import holoviews as hv

        from components.training.plots import comparison_overlay
    except ImportError:
        return None
    hv.Store.set_current_backend("bokeh")  # what the page's HoloViews panes use

    def build() -> None:
        frames = {}
        for r in chosen:
            series = registry.get(r).metric_series("train", "loss")
            frames[r] = pd.DataFrame({"step": series["step"], "loss": series["value"]})
        hv.render(comparison_overlay(frames, "loss", "train", 0.6))

    build()  # the first render loads Bokeh's models
    return median(_timed(build) for _ in range(3))
