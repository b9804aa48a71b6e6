"""The start-run form: data, modalities, model size, steps (and a few optimiser and schedule settings).

Its values are parameters (``form.steps = 500``), its widgets are built from them. ``submit()``
builds and validates a ``TrainingConfig`` with the engine's ``build_config`` (no torch) and hands
it to ``on_start``; a config the engine refuses is shown under the form and nothing starts.
The defaults (bundled synthetic demo, tiny model, 200 steps) finish in well under a minute on
two CPU cores, offline.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import panel as pn
import param

from components.safe_text import text_alert
from engines.errors import NeurodeckError
from engines.training.config import MODALITIES, MODEL_SIZES, TrainingConfig, build_config
from engines.training.errors import ConfigError

__all__ = ["StartRunForm", "DATA_CHOICES"]

DATA_CHOICES = {
    "Synthetic demo (bundled, known latents)": "synthetic",
    "NWB file (path or URL)": "nwb",
    "nitime real data (shipped with nitime)": "nitime",
    "Session file (.npz)": "session",
    "Lorenz benchmark (LFADS / NLB, generated)": "lorenz",
}
NITIME_DATASETS = {
    "grasshopper receptor spikes": "grasshopper",
    "fMRI ROI series (events)": "fmri_event",
    "fMRI ROI series": "fmri_roi",
}


def _size_label(name: str) -> str:
    size = MODEL_SIZES[name]
    plural = "s" if size["n_blocks"] > 1 else ""
    return f"{name} (d_model {size['d_model']}, {size['n_blocks']} Mamba block{plural})"


class StartRunForm(pn.viewable.Viewer):
    """``on_start(config, nproc)`` is called with a validated config; ``busy(True)`` while it starts."""

    data: param.Selector[str] = param.Selector(
        default="synthetic", objects=DATA_CHOICES, doc="Where the sessions come from."
    )
    path = param.String(default="", doc="The NWB file (path or URL) or session file (.npz) to train on.")
    nitime_dataset: param.Selector[str] = param.Selector(default="grasshopper", objects=NITIME_DATASETS)
    sessions = param.Integer(default=1, bounds=(1, 16), doc="Synthetic sessions to generate.")
    modalities = param.ListSelector(
        default=list(MODALITIES),
        objects=list(MODALITIES),
        doc="Modalities to train on; all ticked: whatever the data has.",
    )
    model_size: param.Selector[str] = param.Selector(
        default="tiny", objects={_size_label(n): n for n in MODEL_SIZES}
    )
    steps = param.Integer(default=200, bounds=(1, 10_000_000))
    processes = param.Integer(default=1, bounds=(1, 64), doc="More than one: a torchrun subprocess.")
    run_name = param.String(default="", doc="Optional; '<data> <size>' when empty.")
    lr = param.Number(default=1e-3, bounds=(1e-7, 1.0))
    batch_size = param.Integer(default=16, bounds=(1, 4096))
    window = param.Integer(default=64, bounds=(4, 65536), doc="Bins per training window (seq_len).")
    warmup_steps = param.Integer(default=50, bounds=(0, None))
    log_every = param.Integer(default=10, bounds=(1, None))
    eval_every = param.Integer(default=50, bounds=(1, None))
    score_every = param.Integer(
        default=50,
        bounds=(0, None),
        doc="Steps between light evaluations (decoding R², co-bps on validation data); 0: none.",
    )
    checkpoint_every = param.Integer(default=100, bounds=(1, None))
    seed = param.Integer(default=0)

    def __init__(
        self,
        on_start: Callable[[TrainingConfig, int], None],
        default_nwb: str = "",
        max_processes: int = 8,
        **params,
    ) -> None:
        super().__init__(path=default_nwb, **params)
        self._on_start = on_start
        self.param.processes.bounds = (1, max(1, max_processes))
        self._start = pn.widgets.Button(label="Start run", button_type="primary", width=140)
        self._start.on_click(lambda _e: self.submit())
        self._message = pn.Column(sizing_mode="stretch_width")
        self._w = self._widgets()
        self._show_source_fields()

    def source(self) -> dict[str, Any]:
        """The data source the form describes, as a config entry."""
        if self.data == "synthetic":
            return {"kind": "synthetic", "n_sessions": int(self.sessions)}
        if self.data == "nitime":
            return {"kind": "nitime", "dataset": self.nitime_dataset}
        if self.data == "lorenz":  # trials of 120 bins: NLB's splits, held-out neurons, forward window
            return {"kind": "lorenz", "seed": int(self.seed)}
        if not self.path.strip():
            raise ConfigError(
                f"Enter the {'NWB file' if self.data == 'nwb' else 'session file'} to train on "
                "(a path under the server's folders, or a URL)."
            )
        return {"kind": self.data, "path": self.path.strip()}

    def config(self) -> TrainingConfig:
        """The validated config; raises ``ConfigError`` with what to fix."""
        modalities = list(self.modalities)
        if not modalities:
            raise ConfigError("Tick at least one modality.")
        return build_config(
            [self.source()],
            modalities=None if len(modalities) == len(MODALITIES) else modalities,
            model_size=self.model_size,
            steps=int(self.steps),
            name=self.run_name.strip() or f"{self.data} {self.model_size}",
            data={"batch_size": self.batch_size, "seq_len": self.window},
            optim={"lr": float(self.lr), "warmup_steps": self.warmup_steps},
            training={
                "log_every": self.log_every,
                "eval_every": self.eval_every,
                "score_every": self.score_every,
                "checkpoint_every": self.checkpoint_every,
                "seed": self.seed,
            },
        )

    def submit(self) -> None:
        """Validate and start; a refused config is shown under the form."""
        try:
            config = self.config()
        except NeurodeckError as exc:
            self.show_error(str(exc))
            return
        self._message[:] = []
        self._on_start(config, int(self.processes))

    def show_error(self, text: str) -> None:
        self._message[:] = [
            text_alert(
                text, alert_type="danger", sizing_mode="stretch_width", css_classes=["nd-training-form-error"]
            )
        ]

    @property
    def error(self) -> str:
        """The refusal shown under the form ('' when none)."""
        alerts = [pane for pane in self._message if isinstance(pane, pn.pane.Alert)]
        return html.unescape(str(alerts[0].object)) if alerts else ""  # as it reads on screen

    def busy(self, starting: bool) -> None:
        self._start.disabled = starting
        self._start.label = "Starting…" if starting else "Start run"

    def _widgets(self) -> dict[str, pn.widgets.Widget]:
        number = {"width": 150}
        kinds: dict[str, tuple[type[pn.widgets.Widget], dict[str, Any]]] = {
            "data": (pn.widgets.Select, {"name": "Data", "sizing_mode": "stretch_width"}),
            "path": (
                pn.widgets.TextInput,
                {
                    "name": "File (path or URL)",
                    "sizing_mode": "stretch_width",
                    "placeholder": "/data/session.nwb or https://…",
                },
            ),
            "nitime_dataset": (pn.widgets.Select, {"name": "nitime dataset", "sizing_mode": "stretch_width"}),
            "sessions": (pn.widgets.IntInput, {"name": "Synthetic sessions", **number}),
            "modalities": (pn.widgets.CheckBoxGroup, {"name": "Modalities", "inline": True}),
            "model_size": (pn.widgets.Select, {"name": "Model size", "sizing_mode": "stretch_width"}),
            "steps": (pn.widgets.IntInput, {"name": "Steps", "step": 100, **number}),
            "processes": (pn.widgets.IntInput, {"name": "Processes (torchrun when > 1)", **number}),
            "run_name": (
                pn.widgets.TextInput,
                {"name": "Run name", "placeholder": "optional", "sizing_mode": "stretch_width"},
            ),
            "lr": (pn.widgets.FloatInput, {"name": "Learning rate", "step": 1e-4, **number}),
            "batch_size": (pn.widgets.IntInput, {"name": "Batch size", **number}),
            "window": (pn.widgets.IntInput, {"name": "Window (bins)", **number}),
            "warmup_steps": (pn.widgets.IntInput, {"name": "Warmup steps", **number}),
            "log_every": (pn.widgets.IntInput, {"name": "Log every (steps)", **number}),
            "eval_every": (pn.widgets.IntInput, {"name": "Validate every", **number}),
            "score_every": (pn.widgets.IntInput, {"name": "Evaluate every (0: off)", **number}),
            "checkpoint_every": (pn.widgets.IntInput, {"name": "Checkpoint every", **number}),
            "seed": (pn.widgets.IntInput, {"name": "Seed", **number}),
        }
        return {name: kind.from_param(self.param[name], **options) for name, (kind, options) in kinds.items()}

    @param.depends("data", watch=True)
    def _show_source_fields(self) -> None:
        widgets = getattr(self, "_w", None)
        if widgets is not None:
            widgets["path"].visible = self.data in ("nwb", "session")
            widgets["nitime_dataset"].visible = self.data == "nitime"
            widgets["sessions"].visible = self.data == "synthetic"

    def __panel__(self) -> pn.viewable.Viewable:
        w = self._w
        advanced = pn.Card(
            pn.Row(w["lr"], w["batch_size"]),
            pn.Row(w["window"], w["warmup_steps"]),
            pn.Row(w["log_every"], w["eval_every"]),
            pn.Row(w["score_every"], w["checkpoint_every"]),
            w["seed"],
            title="Optimiser and schedule",
            collapsed=True,
            sizing_mode="stretch_width",
        )
        return pn.Column(
            w["data"],
            w["path"],
            w["nitime_dataset"],
            w["sessions"],
            pn.pane.Markdown("Modalities (all ticked: whatever the data has)", margin=(5, 10, 0, 10)),
            w["modalities"],
            w["model_size"],
            pn.Row(w["steps"], w["processes"]),
            w["run_name"],
            advanced,
            self._start,
            self._message,
            sizing_mode="stretch_width",
        )
