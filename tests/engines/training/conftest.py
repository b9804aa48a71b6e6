"""Fixtures for the training engine's tests: tiny configs, a run trained once per session, one torch thread.

The machine running the suite is small and shared; one intra-op thread avoids OpenMP threads
spinning against each other, which makes tiny models tens of times slower.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from engines.training.config import TrainingConfig, build_config  # noqa: E402
from engines.training.data.sources import prepare_run_data  # noqa: E402
from engines.training.data.windows import WindowDataset  # noqa: E402
from engines.training.runs import RunFolder, RunRegistry  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_config(
    steps: int = 30,
    *,
    sources: list[dict[str, Any]] | None = None,
    modalities: list[str] | None = None,
    name: str | None = None,
    **sections: dict[str, Any],
) -> TrainingConfig:
    """A model and data small enough that a step takes a few milliseconds."""
    data = {"seq_len": 16, "batch_size": 4, **sections.pop("data", {})}
    training = {
        "log_every": 5,
        "eval_every": 10,
        "checkpoint_every": 10,
        "eval_windows": 8,
        **sections.pop("training", {}),
    }
    model = {
        "d_model": 16,
        "n_heads": 2,
        "n_latents": 2,
        "n_blocks": 1,
        "d_state": 4,
        "embed_dim": 8,
        **sections.pop("model", {}),
    }
    return build_config(
        sources
        or [{"kind": "synthetic", "n_bins": 600, "n_units": 12, "modalities": ["spikes", "lfp", "calcium"]}],
        modalities=modalities,
        model_size="tiny",
        steps=steps,
        name=name,
        data=data,
        training=training,
        model=model,
        **sections,
    )


def new_run(workspace: Path, config: TrainingConfig, policy=None) -> tuple[RunFolder, WindowDataset]:
    folder = RunRegistry(workspace).new_run(config.name)
    folder.config_path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    sessions = prepare_run_data(folder, config.data, policy)
    return folder, WindowDataset(sessions, config.data, config.training.seed)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> RunFolder:
    """One tiny run of 60 steps on two synthetic sessions (two species), trained once for the session."""
    from engines.training.trainer.loop import Trainer

    workspace = tmp_path_factory.mktemp("trained-workspace")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    config = tiny_config(
        60,
        sources=[
            {
                "kind": "synthetic",
                "n_bins": 800,
                "n_units": 12,
                "n_sessions": 2,
                "species": ["mouse", "rat"],
                "modalities": ["spikes", "lfp", "eeg"],
            }
        ],
        optim={"lr": 3e-3, "warmup_steps": 5},
        training={"checkpoint_every": 30},
    )
    folder, dataset = new_run(workspace, config)
    result = Trainer(config, folder, dataset).run(raise_errors=True)
    torch.set_num_threads(previous)
    assert result["state"] == "completed"
    return folder
