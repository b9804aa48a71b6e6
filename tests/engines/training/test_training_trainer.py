"""The training loop: it learns, resumes exactly, guards against NaNs, stops early, survives a full disk,
and mirrors metrics to TensorBoard without phantom runs (torchrun: see test_training_control)."""

from __future__ import annotations

import json
import resource
import shutil
import signal

import numpy as np
import pytest
import torch
from conftest import new_run, tiny_config

from engines.training.cli import main_evaluate, main_train
from engines.training.data.session import Session, save_session
from engines.training.errors import CheckpointError
from engines.training.runs import RunFolder, read_metrics
from engines.training.trainer.checkpoint import load_checkpoint, save_checkpoint
from engines.training.trainer.loop import Trainer


def _losses(folder: RunFolder, split: str = "train") -> dict[int, float]:
    frame = folder.metrics()
    frame = frame[frame["split"] == split]
    return dict(zip(frame["step"].astype(int), frame["loss"]))


def test_a_short_run_lowers_the_validation_loss(workspace):
    config = tiny_config(40, optim={"lr": 3e-3, "warmup_steps": 5})
    folder, dataset = new_run(workspace, config)
    result = Trainer(config, folder, dataset).run(raise_errors=True)
    val = _losses(folder, "val")
    assert result["state"] == "completed" and sorted(val) == [10, 20, 30, 40]
    assert val[40] < val[10]
    status = folder.status()
    assert status["state"] == "completed" and status["final"]["best_val_loss"] == pytest.approx(
        min(val.values())
    )
    assert [c.step for c in folder.checkpoints()] == [20, 30, 40]  # keep_checkpoints=3


def test_resuming_from_a_checkpoint_reproduces_the_uninterrupted_losses(workspace):
    config = tiny_config(
        30, training={"checkpoint_every": 10, "log_every": 2, "keep_checkpoints": 5}, model={"dropout": 0.1}
    )
    straight, dataset = new_run(workspace, config)
    Trainer(config, straight, dataset).run(raise_errors=True)
    resumed, dataset = new_run(workspace, config)
    Trainer(config, resumed, dataset, resume_from=straight.checkpoints()[0].path).run(raise_errors=True)
    expected, got = _losses(straight), _losses(resumed)
    assert sorted(got) == list(range(12, 31, 2))
    np.testing.assert_allclose([got[s] for s in got], [expected[s] for s in got], rtol=1e-6)
    events = [r for r in read_metrics(resumed.metrics_path)[0] if r.get("event") == "resume"]
    assert events and events[0]["step"] == 10 and events[0]["checkpoint"] == "step_00000010.pt"
    state = load_checkpoint(resumed.checkpoints()[-1].path)
    assert state["data_position"] == {"seed": 0, "step": 30} and set(state) >= {
        "optimizer",
        "scheduler",
        "scaler",
        "rng",
    }


def test_non_finite_losses_are_skipped_counted_and_fail_the_run_past_the_limit(workspace, policy):
    huge = np.full((400, 4), 3e38, dtype=np.float32)  # finite counts whose Poisson loss overflows
    session = Session(
        "overflow", 0.02, {"spikes": huge}, behaviour=np.random.default_rng(0).normal(size=(400, 1))
    )
    path = save_session(session, workspace / "overflow.npz")
    config = tiny_config(
        20,
        sources=[{"kind": "session", "path": str(path)}],
        data={"modality_dropout": 0, "heldout_fraction": 0},
        training={"max_nonfinite": 3},
    )
    folder, dataset = new_run(workspace, config, policy)
    result = Trainer(config, folder, dataset).run()
    assert result["state"] == "failed" and "NaN or infinite 4 times (limit 3)" in result["message"]
    events = [r for r in read_metrics(folder.metrics_path)[0] if r.get("event") == "nonfinite"]
    assert [e["count"] for e in events] == [1, 2, 3, 4]
    assert folder.status()["state"] == "failed"


def test_early_stopping_ends_a_run_whose_validation_loss_stalls(workspace):
    config = tiny_config(100, optim={"lr": 1e-12}, training={"eval_every": 5, "early_stopping_patience": 2})
    folder, dataset = new_run(workspace, config)
    result = Trainer(config, folder, dataset).run()
    assert result["state"] == "early_stopped" and result["steps"] == 15
    assert folder.checkpoints()[-1].step == 15


def test_a_full_disk_during_checkpointing_keeps_the_previous_checkpoint(workspace):
    folder = RunFolder(workspace / "run")
    folder.path.mkdir()
    save_checkpoint(folder, 10, {"weights": torch.zeros(1000)}, {"val_loss": 1.0})
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, hard))
    try:
        with pytest.raises(CheckpointError) as caught:
            save_checkpoint(folder, 20, {"weights": torch.zeros(100_000)}, {"val_loss": 0.5})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, handler)
    assert "Writing checkpoint step 20 failed: the disk is full" in str(caught.value)
    assert "checkpoint step 10 is intact" in str(caught.value)
    assert [c.step for c in folder.checkpoints()] == [10]
    assert sorted(p.name for p in folder.checkpoint_dir.iterdir()) == [
        "step_00000010.json",
        "step_00000010.pt",
    ]
    assert load_checkpoint(folder.checkpoints()[0].path)["weights"].shape == (1000,)


def test_metrics_are_mirrored_to_tensorboard_with_hparams_and_no_phantom_run(workspace):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny_config(10, training={"eval_every": 5})
    folder, dataset = new_run(workspace, config)
    Trainer(config, folder, dataset).run(raise_errors=True)
    assert [p for p in folder.tensorboard_dir.iterdir() if p.is_dir()] == []
    events = EventAccumulator(str(folder.tensorboard_dir), size_guidance={"tensors": 0}).Reload()
    assert {"train/loss", "val/loss", "train/lr"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("val/loss")] == [5, 10]
    plugins = events.PluginTagToContent("hparams")
    assert "_hparams_/experiment" in plugins and "_hparams_/session_start_info" in plugins


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_out_of_memory_fails_the_run_and_keeps_the_last_checkpoint(workspace):
    source = {"kind": "synthetic", "n_bins": 20000, "n_units": 20, "modalities": ["spikes"]}
    small = tiny_config(10, sources=[source], training={"device": "cuda", "checkpoint_every": 10})
    folder, dataset = new_run(workspace, small)
    assert Trainer(small, folder, dataset).run()["state"] == "completed"
    huge = tiny_config(
        10,
        sources=[source],
        data={"batch_size": 256, "seq_len": 8192},
        model={"d_model": 4096, "n_heads": 8},
        training={"device": "cuda"},
    )
    _, big_data = new_run(workspace, huge)
    result = Trainer(huge, folder, big_data).run()  # a (256, 8192, 4096) activation alone is 34 GB
    assert result["state"] == "failed" and "Out of GPU memory" in result["message"]
    assert folder.status()["state"] == "failed" and [c.step for c in folder.checkpoints()] == [10]


def test_cli_trains_on_an_nwb_file_and_evaluates_it(tmp_path, nwb_data_dir, capsys):
    source = tmp_path / "data" / "A8604.nwb"
    source.parent.mkdir()
    shutil.copy(nwb_data_dir / "A8604-211122_phy.nwb", source)
    out = tmp_path / "nwb-run"
    code = main_train(
        [
            "--data",
            str(source),
            "--steps",
            "3",
            "--out",
            str(out),
            "--model-size",
            "tiny",
            "--bin-s",
            "0.1",
            "--workspace",
            str(tmp_path / "ws"),
        ]
    )
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and printed["state"] == "completed" and printed["steps"] == 3
    assert main_evaluate([str(out), "--cebra-iterations", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["checkpoint_step"] == 3 and result["co_bps"] is not None
    assert main_train(["--data", str(source), "--steps", "3", "--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_cli_reports_bad_configs_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  sources: [{kind: synthetic}]\ntraining:\n  stpes: 5\n")
    assert main_train(["--config", str(bad), "--workspace", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "training.stpes: unknown key. Did you mean 'steps'?" in err and "Traceback" not in err
