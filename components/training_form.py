"""The start-run form: data, modalities, model size, steps (and a few optimiser and schedule settings).

It builds and validates a ``TrainingConfig`` with the engine's ``build_config`` (no torch) and
hands it to ``on_start``; a config the engine refuses is shown under the form, nothing starts.
The defaults (bundled synthetic demo, tiny model, 200 steps) finish in well under a minute on
two CPU cores, offline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn

from engines.errors import NeurodeckError
from engines.training.config import MODALITIES, MODEL_SIZES, TrainingConfig, build_config
from engines.training.errors import ConfigError

__all__ = ["StartRunForm", "DATA_CHOICES"]

DATA_CHOICES = {
    "Synthetic demo (bundled, known latents)": "synthetic",
    "NWB file (path or URL)": "nwb",
    "nitime real data (shipped with nitime)": "nitime",
    "Session file (.npz)": "session",
}
NITIME_DATASETS = {"grasshopper receptor spikes": "grasshopper", "fMRI ROI series (events)": "fmri_event",
                   "fMRI ROI series": "fmri_roi"}


def _size_label(name: str) -> str:
    size = MODEL_SIZES[name]
    return f"{name} (d_model {size['d_model']}, {size['n_blocks']} Mamba block{'s' if size['n_blocks'] > 1 else ''})"


class StartRunForm(pn.viewable.Viewer):
    """``on_start(config, nproc)`` is called with a validated config; ``busy(True)`` while it starts."""

    def __init__(self, on_start: Callable[[TrainingConfig, int], None], default_nwb: str = "",
                 max_processes: int = 8) -> None:
        super().__init__()
        self._on_start = on_start
        self._data = pn.widgets.Select(name="Data", options=DATA_CHOICES, value="synthetic", sizing_mode="stretch_width")
        self._path = pn.widgets.TextInput(name="NWB file (path or URL)", value=default_nwb, visible=False,
                                          placeholder="/data/session.nwb or https://…", sizing_mode="stretch_width")
        self._nitime = pn.widgets.Select(name="nitime dataset", options=NITIME_DATASETS, visible=False,
                                         sizing_mode="stretch_width")
        self._sessions = pn.widgets.IntInput(name="Synthetic sessions", value=1, start=1, end=16, width=150)
        self._modalities = pn.widgets.CheckBoxGroup(name="Modalities", options=list(MODALITIES),
                                                    value=list(MODALITIES), inline=True)
        self._size = pn.widgets.Select(name="Model size", options={_size_label(n): n for n in MODEL_SIZES},
                                       value="tiny", sizing_mode="stretch_width")
        self._steps = pn.widgets.IntInput(name="Steps", value=200, start=1, end=10_000_000, step=100, width=150)
        self._nproc = pn.widgets.IntInput(name="Processes (torchrun when > 1)", value=1, start=1,
                                          end=max(1, max_processes), width=150)
        self._name = pn.widgets.TextInput(name="Run name", placeholder="optional", sizing_mode="stretch_width")
        self._lr = pn.widgets.FloatInput(name="Learning rate", value=1e-3, start=1e-6, end=1.0, step=1e-4, width=150)
        self._batch = pn.widgets.IntInput(name="Batch size", value=16, start=1, end=4096, width=150)
        self._seq = pn.widgets.IntInput(name="Window (bins)", value=64, start=4, end=65536, width=150)
        self._warmup = pn.widgets.IntInput(name="Warmup steps", value=50, start=0, width=150)
        self._log_every = pn.widgets.IntInput(name="Log every (steps)", value=10, start=1, width=150)
        self._eval_every = pn.widgets.IntInput(name="Validate every", value=50, start=1, width=150)
        self._checkpoint_every = pn.widgets.IntInput(name="Checkpoint every", value=100, start=1, width=150)
        self._seed = pn.widgets.IntInput(name="Seed", value=0, width=150)
        self._start = pn.widgets.Button(name="Start run", button_type="primary", width=140)
        self._start.on_click(lambda _e: self.submit())
        self._message = pn.Column(sizing_mode="stretch_width")
        self._data.param.watch(lambda _e: self._show_source_fields(), "value")

    def _show_source_fields(self) -> None:
        kind = self._data.value
        self._path.visible = kind in ("nwb", "session")
        self._path.name = "NWB file (path or URL)" if kind == "nwb" else "Session file (.npz path)"
        self._nitime.visible = kind == "nitime"
        self._sessions.visible = kind == "synthetic"

    def source(self) -> dict[str, Any]:
        """The data source the form describes, as a config entry."""
        kind = self._data.value
        if kind == "synthetic":
            return {"kind": "synthetic", "n_sessions": int(self._sessions.value)}
        if kind == "nitime":
            return {"kind": "nitime", "dataset": self._nitime.value}
        path = self._path.value.strip()
        if not path:
            raise ConfigError(f"Enter the {'NWB file' if kind == 'nwb' else 'session file'} to train on "
                                 "(a path under the server's folders, or a URL).")
        return {"kind": kind, "path": path}

    def config(self) -> TrainingConfig:
        """The validated config; raises ``ConfigError`` with what to fix."""
        modalities = list(self._modalities.value)
        if not modalities:
            raise ConfigError("Tick at least one modality.")
        size = self._size.value
        name = self._name.value.strip() or f"{self._data.value} {size}"
        return build_config(
            [self.source()], modalities=None if len(modalities) == len(MODALITIES) else modalities,
            model_size=size, steps=int(self._steps.value), name=name,
            data={"batch_size": int(self._batch.value), "seq_len": int(self._seq.value)},
            optim={"lr": float(self._lr.value), "warmup_steps": int(self._warmup.value)},
            training={"log_every": int(self._log_every.value), "eval_every": int(self._eval_every.value),
                      "checkpoint_every": int(self._checkpoint_every.value), "seed": int(self._seed.value)})

    def submit(self) -> None:
        """Validate and start; a refused config is shown under the form."""
        try:
            config = self.config()
        except NeurodeckError as exc:
            self.show_error(str(exc))
            return
        self._message[:] = []
        self._on_start(config, int(self._nproc.value))

    def show_error(self, text: str) -> None:
        self._message[:] = [pn.pane.Alert(text, alert_type="danger", sizing_mode="stretch_width",
                                          css_classes=["nd-training-form-error"])]

    def busy(self, starting: bool) -> None:
        self._start.disabled = starting
        self._start.name = "Starting…" if starting else "Start run"

    def __panel__(self) -> pn.viewable.Viewable:
        advanced = pn.Card(
            pn.Row(self._lr, self._batch), pn.Row(self._seq, self._warmup), pn.Row(self._log_every, self._eval_every),
            pn.Row(self._checkpoint_every, self._seed), title="Optimiser and schedule", collapsed=True,
            sizing_mode="stretch_width")
        return pn.Column(
            self._data, self._path, self._nitime, self._sessions,
            pn.pane.Markdown("Modalities (all ticked: whatever the data has)", margin=(5, 10, 0, 10)),
            self._modalities, self._size, pn.Row(self._steps, self._nproc), self._name, advanced,
            self._start, self._message, sizing_mode="stretch_width")
