"""The run list and the comparison at scale: 1,000 runs paged on the server, filtered and ordered; 20 runs
read from their metrics stores and drawn on one chart, each in its own colour, named in a legend beside
the plot."""

from __future__ import annotations

import holoviews as hv
import pandas as pd
import panel as pn
from bokeh.models import GlyphRenderer, Legend, Line, Plot

from components.background import BackgroundWork
from components.training.compare import MAX_COMPARED, RunComparison
from components.training.runs import PAGE_SIZE, RunList
from engines.training import RunRegistry, build_config
from engines.training.metrics_store import MetricsWriter
from engines.training.runs import write_json_atomic

hv.extension("bokeh")  # as the app's pn.extension does: the plots' options need the Bokeh backend


def _thousand_runs() -> pd.DataFrame:
    """A ``runs_frame`` of 1,000 runs, as the index returns it."""
    n = 1000
    return pd.DataFrame(
        {
            "run_id": [f"run-{i:04d}" for i in range(n)],
            "name": [f"sweep {i:04d}" for i in range(n)],
            "owner": [("alice", "bob")[(i // 10) % 2] for i in range(n)],
            "state": ["failed" if i % 10 == 0 else "completed" for i in range(n)],
            "step": [i for i in range(n)],
            "total_steps": n,
            "started": [float(i) for i in range(n)],
            "message": "",
            "final.best_val_loss": [(i * 7919 % n) / n for i in range(n)],
            "data.sources": ["nitime" if i % 4 == 0 else "synthetic" for i in range(n)],
            "model.d_model": 32,
        }
    )


def test_the_run_list_pages_filters_and_orders_a_thousand_runs():
    runs = RunList()
    root = pn.panel(runs).get_root()
    runs.update(_thousand_runs())
    table = runs._table
    assert (table.pagination, table.page_size) == ("remote", PAGE_SIZE)  # the browser gets one page
    assert len(table.value) == 1000 and table.value["name"].iloc[0] == "sweep 0999"  # newest first
    assert "1000 of 1000 runs" in runs._count.object

    runs.param.update(text="BOB", state="failed", sort="best val loss")
    shown = runs.visible
    assert len(shown) == 50 and set(shown["owner"]) == {"bob"} and set(shown["state"]) == {"failed"}
    assert list(shown["final.best_val_loss"]) == sorted(shown["final.best_val_loss"])
    assert list(table.value["run_id"]) == list(shown["run_id"])
    assert "50 of 1000 runs" in runs._count.object

    runs.param.update(text="nitime", state="all", sort="name")
    assert len(runs.visible) == 250 and runs.visible["name"].iloc[0] == "sweep 0000"
    table.selection = [0, 1]  # ticked on the first page
    assert runs.compare == ["run-0000", "run-0004"]
    assert runs._count.object == "250 of 1000 runs · 2 ticked to compare"
    runs.text = "sweep 0004"
    assert list(table.value["run_id"]) == ["run-0004"] and table.selection == [0]  # the tick follows its run
    assert root is not None


def _stored_runs(workspace, count: int) -> list[str]:
    registry, ids = RunRegistry(workspace), []
    for i in range(count):
        config = build_config([{"kind": "synthetic"}], model_size="tiny", steps=200, name=f"lr sweep {i:02d}")
        folder = registry.new_run(config.name)
        write_json_atomic(folder.config_path, config.to_dict())
        write_json_atomic(folder.status_path, {"state": "completed", "step": 200, "started": float(i)})
        writer = MetricsWriter(folder.metrics_path)
        writer.write_many(
            [{"step": s, "split": "val", "loss": 2.0 / (1 + i) + 1.0 / s} for s in range(10, 201, 10)]
        )
        writer.close()
        ids.append(folder.run_id)
    return ids


def test_compare_draws_twenty_runs_on_one_chart_each_in_its_own_colour(tmp_path):
    ids = _stored_runs(tmp_path, MAX_COMPARED + 2)
    registry = RunRegistry(tmp_path)
    comparison = RunComparison(
        BackgroundWork(), lambda run_id, split, metric: registry.get(run_id).metric_series(split, metric)
    )
    root = pn.panel(comparison).get_root()
    comparison.show_runs(registry.runs_frame(), ids)

    [chart] = [p for p in root.select({"type": Plot}) if "ticked runs" in (p.title.text or "")]
    lines = [r for r in chart.renderers if isinstance(r, GlyphRenderer) and isinstance(r.glyph, Line)]
    assert len(lines) == MAX_COMPARED  # 20 runs on one chart; the 21st and 22nd are named, not drawn
    assert all(len(r.data_source.data["step"]) == 20 for r in lines)
    assert len({r.glyph.line_color for r in lines}) == MAX_COMPARED  # no two runs share a colour
    [legend] = chart.select({"type": Legend})
    assert legend in chart.right  # beside the plot, never over the curves
    labels = [item.label.value for item in legend.items]
    assert len(labels) == MAX_COMPARED and labels[0].startswith("lr sweep 00 (")
    assert "first 20 of the 22 ticked" in comparison._note.object

    comparison.metric = "lr"  # a metric these runs never logged: an empty chart, not an error
    [chart] = [p for p in root.select({"type": Plot}) if "lr (validation)" in (p.title.text or "")]
    assert all(
        len(r.data_source.data.get("step", [])) == 0 for r in chart.renderers if isinstance(r, GlyphRenderer)
    )


def test_a_validation_score_compares_on_the_validation_split_even_when_train_was_chosen(tmp_path):
    registry = RunRegistry(tmp_path)
    ids = []
    for i in range(2):
        config = build_config([{"kind": "synthetic"}], model_size="tiny", steps=200, name=f"run {i}")
        folder = registry.new_run(config.name)
        write_json_atomic(folder.config_path, config.to_dict())
        write_json_atomic(folder.status_path, {"state": "completed", "step": 200, "started": float(i)})
        writer = MetricsWriter(folder.metrics_path)
        writer.write_many([{"step": s, "split": "train", "loss": 1.0 / s} for s in range(1, 201)])
        writer.write_many(
            [{"step": s, "split": "val", "loss": 1.0 / s, "r2/all": 0.1 * i + s / 400} for s in (100, 200)]
        )
        writer.close()
        ids.append(folder.run_id)
    comparison = RunComparison(
        BackgroundWork(), lambda run_id, split, metric: registry.get(run_id).metric_series(split, metric)
    )
    root = pn.panel(comparison).get_root()
    comparison.show_runs(registry.runs_frame(), ids)
    comparison.split = "train"
    comparison.metric = "r2/all"  # scored on validation windows only
    assert comparison.split == "val"
    [chart] = [p for p in root.select({"type": Plot}) if "r2/all (validation)" in (p.title.text or "")]
    lines = [r for r in chart.renderers if isinstance(r, GlyphRenderer) and isinstance(r.glyph, Line)]
    assert sorted(list(r.data_source.data["value"]) for r in lines) == [[0.25, 0.5], [0.35, 0.6]]
