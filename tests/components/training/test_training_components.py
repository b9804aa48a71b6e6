"""The Training page without a browser: a real run started from the form and followed to its end, steering
errors as messages, the follower reading only new rows, the comparison, evaluation and interpretation views
rendered to Bokeh, and the page importing (and saying "install torch") where torch is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import pytest
from bokeh.models import ColumnDataSource

from components.training.compare import RunComparison, varying_hyperparameters
from components.training.follow import RunFollower
from components.training.plots import decoding_frame, parallel_coordinates, smooth
from components.training.state import OpenRun
from engines.training import RunRegistry, build_config

ROOT = Path(__file__).resolve().parents[3]
hv.extension("bokeh")  # as the app's pn.extension does: the plots' options need the Bokeh backend


def _tiny_form(page, steps: int, name: str) -> None:
    page.form.param.update(
        steps=steps, run_name=name, log_every=5, eval_every=10, checkpoint_every=10, batch_size=4, window=16
    )


def _plotted_lengths(root) -> list[int]:
    return [
        len(source.data["step"])
        for source in root.select({"type": ColumnDataSource})
        if "step" in source.data
    ]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models on a small shared machine: one intra-op thread is many times faster than OpenMP
    contention."""
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def context(tmp_path):
    from app.context import AppContext
    from app.settings import Settings

    ctx = AppContext.create(Settings(workspace=tmp_path / "workspace", show=False, workers=1))
    yield ctx
    ctx.close()


def test_a_run_started_from_the_form_is_followed_to_its_end(context):
    pytest.importorskip("torch")
    from app.pages.training import TrainingLink, TrainingPage, shared_controller

    link = TrainingLink()
    page = TrainingPage(context, link)
    root = pn.panel(page).get_root()
    _tiny_form(page, 20, "from the form")
    page.form.submit()  # outside a server the start runs inline, then the page opens the run
    assert "from-the-form" in link.run
    assert shared_controller(context.settings).wait(link.run, timeout=120).value == "completed"
    page.poll()
    assert page.header.text.startswith("Step 20 of 20 · completed · 4 points")
    assert max(_plotted_lengths(root)) == 4  # the train curves hold every logged point
    page.refresh_runs()
    assert list(page.runs.visible["name"]) == ["from the form"]
    page.command("pause")  # a finished run cannot pause: the engine's reason is the message
    assert "only a running or starting run can be paused" in page.message
    page.form.data, page.form.path = "nwb", ""
    page.form.submit()
    assert "Enter the NWB file" in page.form.error


def write_finished_run(workspace: Path) -> str:
    """A completed run's folder as the trainer left it before the metrics store (config, status, two metric
    rows in ``metrics.jsonl``), without torch: the page reads it as it reads a new one."""
    folder = RunRegistry(workspace).new_run("written by hand")
    folder.config_path.write_text(json.dumps(build_config([{"kind": "synthetic"}], name="by hand").to_dict()))
    folder.update_status(state="completed", step=10, total_steps=10)
    with open(folder.legacy_metrics_path, "w") as handle:
        for step in (5, 10):
            handle.write(
                json.dumps({"step": step, "split": "train", "loss": 1.0 / step, "loss/behaviour": 0.5}) + "\n"
            )
    return folder.run_id


def test_a_missing_run_in_the_link_is_a_message_and_a_real_one_reopens(context):
    from app.pages.training import TrainingLink, TrainingPage

    run_id = write_finished_run(context.settings.workspace)

    link = TrainingLink(run="no-such-run")
    page = TrainingPage(context, link)
    assert "There is no run 'no-such-run'" in page.message
    link.run = run_id
    assert page.header.text.startswith("Step 10 of 10 · completed · 2 points")


def test_live_curves_draw_nothing_for_an_empty_tab_and_every_task_in_one_labelled_figure():
    from bokeh.models import Legend, Plot

    from components.training.live import LiveCurves

    curves = LiveCurves(OpenRun())
    view = pn.panel(curves)
    root = view.get_root()
    assert not list(root.select({"type": Plot}))  # a Training tab without a run builds no figure
    curves.show_frame(pd.DataFrame())
    assert not list(root.select({"type": Plot}))
    frame = pd.DataFrame(
        {
            "step": [5, 10, 10],
            "split": ["train", "train", "val"],
            "loss": [3.0, 2.0, 2.5],
            "loss/behaviour": [1.0, 0.8, 0.9],
            "loss/contrastive": [2.0, 1.2, 1.6],
            "lr": [1e-3, 2e-3, None],
            "tokens_per_s": [1e4, 1.1e4, None],
            "ram_gb": [0.5, 0.6, None],
        }
    )
    curves.show_frame(frame)
    plots = list(root.select({"type": Plot}))
    assert len(plots) == 3  # the total loss, one figure for all the tasks, and the throughput
    legends = [[item.label.value for item in legend.items] for legend in root.select({"type": Legend})]
    assert [
        "behaviour",
        "contrastive",
    ] in legends  # each task named once: train and validation share a colour
    assert sorted((p.xaxis[0].axis_label, p.yaxis[0].axis_label) for p in plots) == [
        ("step", "loss"),
        ("step", "loss"),
        ("step", "tokens/s"),
    ]
    other_run = frame.rename(columns={"loss/behaviour": "loss/spikes"}).drop(columns="loss/contrastive")
    curves.show_frame(other_run)  # another run, other tasks: the figure names the new ones
    assert ["spikes"] in [
        [item.label.value for item in legend.items] for legend in root.select({"type": Legend})
    ]
    view.select(pn.Card)[0].collapsed = False  # the learning rate, throughput and load: drawn once opened
    titles = {p.title.text for p in root.select({"type": Plot})}
    assert {"Learning rate", "Throughput", "Memory of the run"} <= titles and len(titles) == 6
    memory = next(p for p in root.select({"type": Plot}) if p.title.text == "Memory of the run")
    shown = [
        item.label.value
        for legend in memory.select({"type": Legend})
        for item in legend.items
        if item.visible
    ]
    assert shown == ["RAM (GB)"]  # a run on a CPU logs no GPU memory: the legend does not name it


def test_live_curves_plot_the_validation_scores_and_each_modality_loss_once_the_run_logs_them():
    from bokeh.models import Legend, Plot

    from components.training.live import LiveCurves

    curves = LiveCurves(OpenRun())
    view = pn.panel(curves)
    root = view.get_root()
    losses = pd.DataFrame({"step": [5, 10], "split": ["train", "train"], "loss": [3.0, 2.0]})
    curves.show_frame(losses)
    assert not any("R²" in p.title.text for p in root.select({"type": Plot}))  # not scored yet: not drawn
    scored = pd.concat(
        [
            losses.assign(**{"recon/spikes": [1.2, 1.0], "recon/lfp": [0.9, 0.8]}),
            pd.DataFrame(
                {
                    "step": [10, 20],
                    "split": ["val", "val"],
                    "r2/all": [0.1, 0.4],
                    "r2/spikes": [0.05, 0.3],
                    "r2/lfp": [0.0, 0.2],
                    "co_bps": [0.01, 0.05],
                }
            ),
        ],
        ignore_index=True,
    )
    curves.show_frame(scored)
    plots = {p.title.text: p for p in root.select({"type": Plot}) if p.visible}
    r2 = next(p for title, p in plots.items() if title.startswith("Decoding R²"))
    co_bps = next(p for title, p in plots.items() if title.startswith("co-bps"))
    modalities = next(p for title, p in plots.items() if title.startswith("Reconstruction loss per modality"))
    assert [i.label.value for i in r2.select({"type": Legend})[0].items] == ["all", "spikes", "lfp"]
    drawn = {
        r.data_source.data["value"].tolist()[-1] for r in r2.renderers if len(r.data_source.data["step"])
    }
    assert drawn == {0.4, 0.3, 0.2}  # each input's curve ends at its last score
    assert {r.data_source.data["value"].tolist()[-1] for r in co_bps.renderers} == {0.05}
    assert [i.label.value for i in modalities.select({"type": Legend})[0].items] == ["spikes", "lfp"]
    curves.show_frame(losses)  # another run, never scored: the score figures are hidden, not stale
    hidden = [pane for pane in view.select(pn.pane.Bokeh) if pane.object is r2 or pane.object is co_bps]
    assert len(hidden) == 2 and not any(pane.visible for pane in hidden)


def test_the_follower_reads_only_new_rows_and_a_resume_drops_the_later_history(tmp_path):
    folder = RunRegistry(tmp_path).new_run("follow")
    folder.config_path.write_text(json.dumps(build_config([{"kind": "synthetic"}]).to_dict()))
    rows = [{"step": s, "split": "train", "loss": float(s)} for s in (10, 20, 30)]
    # an old trainer still appending JSON lines: the store copies in each complete line as it comes
    folder.legacy_metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 40, "spl')
    follower = RunFollower(folder)
    first = follower.read(with_load=False)
    assert follower.adopt(first) and list(follower.frame["step"]) == [10, 20, 30]  # the half line waits
    stale = follower.read(with_load=False)
    with open(folder.legacy_metrics_path, "a") as handle:
        handle.write(
            'lit": "train", "loss": 40.0}\n'
            + json.dumps({"event": "resume", "step": 20})
            + "\n"
            + json.dumps({"step": 30, "split": "train", "loss": 3.0})
            + "\n"
        )
    fresh = follower.read(with_load=False)
    assert fresh.start == first.end and fresh.end > fresh.start
    assert follower.adopt(fresh)
    assert not follower.adopt(stale)  # read from an old offset: never adds rows twice
    assert list(follower.frame["step"]) == [10, 20, 30] and list(follower.frame["loss"]) == [10.0, 20.0, 3.0]


def test_smoothing_is_tensorboards_debiased_average():
    values = np.array([1.0, 3.0, 2.0, 5.0])
    expected, last = [], 0.0
    for k, value in enumerate(values, start=1):
        last = 0.6 * last + 0.4 * value
        expected.append(last / (1 - 0.6**k))
    assert np.allclose(smooth(values, 0.6), expected) and np.allclose(smooth(values, 0.0), values)


def _runs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": ["a", "b", "c"],
            "name": ["slow", "fast", "odd"],
            "state": ["completed"] * 3,
            "step": [100, 100, 50],
            "total_steps": [100, 100, 50],
            "started": [1.0, 2.0, 3.0],
            "message": "",
            "final.best_val_loss": [2.0, 1.0, None],
            "optim.lr": [1e-3, 4e-3, 1e-2],
            "model.d_model": [32, 32, 32],
            "data.sources": ["synthetic", "nitime", "synthetic"],
        }
    )


def test_parallel_coordinates_scale_each_axis_and_leave_out_runs_without_the_metric():
    runs = _runs_frame()
    axes = varying_hyperparameters(runs)
    assert axes == ["optim.lr", "data.sources"]  # d_model is the same everywhere: no axis for it
    plot = parallel_coordinates(runs, axes, "final.best_val_loss")
    lines = plot.get(1)
    assert len(lines.data) == 2  # "odd" has no best val loss
    ys = {path["run"]: list(path["y"]) for path in lines.data}
    assert ys["slow"] == [0.0, 1.0, 1.0] and ys["fast"] == [1.0, 0.0, 0.0]  # lr, sources (text), metric
    hv.render(plot)


def test_comparison_overlays_the_ticked_runs(tmp_path):
    from components.background import BackgroundWork

    series = {r: pd.DataFrame({"step": [10, 20], "value": [2.0, 1.0 + k]}) for k, r in enumerate(["a", "b"])}
    comparison = RunComparison(BackgroundWork(), lambda run_id, split, metric: series[run_id])
    root = pn.panel(comparison).get_root()
    comparison.show_runs(_runs_frame(), ["a", "b"])
    assert sorted(_plotted_lengths(root)).count(2) >= 2  # one curve per ticked run
    assert comparison.target == "final.best_val_loss"


def test_evaluation_and_interpretation_views_render_a_real_run(tmp_path):
    pytest.importorskip("torch")
    from components.training.evaluation import EvaluationPanel
    from components.training.interpret import InterpretationPanel
    from engines.training.evaluation import evaluate_run, load_trained_run
    from engines.training.interpret import interpret_run
    from engines.training.trainer.control import RunController

    controller = RunController(tmp_path, None)
    config = build_config(
        [{"kind": "synthetic", "n_bins": 1200, "n_units": 16}],
        model_size="tiny",
        steps=10,
        data={"seq_len": 16, "batch_size": 4},
        training={"log_every": 5, "eval_windows": 4},
    )
    run_id = controller.start(config)
    assert controller.wait(run_id, timeout=120).value == "completed"
    folder = controller.registry.get(run_id)
    evaluation = evaluate_run(folder, cebra_iterations=0)
    panel = EvaluationPanel(OpenRun(), lambda step, iterations: None)
    root = pn.panel(panel).get_root()
    panel.show_evaluation(evaluation)
    table = decoding_frame(evaluation)
    assert list(table["input"])[0] == "all" and table["ridge R²"].notna().all()
    assert any("Checkpoint step 10" in str(getattr(m, "text", "")) for m in root.references())
    result = interpret_run(load_trained_run(folder))
    view = InterpretationPanel(OpenRun(), lambda step: None)
    pn.panel(view).get_root()
    view.show_result(result, 10)
    pn.panel(view).get_root()  # every plot of the analyses renders


def test_the_page_imports_without_torch_and_says_to_install_it(tmp_path):
    script = f"""
import sys

class NoTorch:  # as if torch were not installed
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError("No module named torch", name=name)

sys.meta_path.insert(0, NoTorch())
from pathlib import Path
import panel as pn
from app.context import AppContext
from app.settings import Settings
from app.pages.training import TrainingLink, TrainingPage
from tests.components.training.test_training_components import write_finished_run
ctx = AppContext.create(Settings(workspace=Path({str(tmp_path)!r}), show=False, workers=1))
page = TrainingPage(ctx, TrainingLink(run=write_finished_run(ctx.settings.workspace)))
pn.panel(page).get_root()
print(page.header.text)  # runs are listed and followed without torch
page.form.submit()
print(page.form.error)
page.interpret(None)
print(page.message)
assert "torch" not in sys.modules
ctx.close()
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("Step 10 of 10 · completed · 2 points")
    assert done.stdout.count("Training needs PyTorch") == 2 and "pip install torch" in done.stdout
