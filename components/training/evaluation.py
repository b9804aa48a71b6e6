"""The evaluation panel: held-out decoding R^2 per modality beside the ridge and CEBRA baselines, and co-bps.

"Evaluate" calls ``on_evaluate(step, cebra_iterations)``; the page requests the job and hands
its ``JobWatcher`` to ``watch``. ``show(evaluation)`` renders an evaluation dict (the job's
``evaluation.json``, or the one saved in the run folder): a grouped bar chart and a table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import panel as pn

from components.job_watcher import JobWatcher
from components.safe_text import escape_text
from components.training.plots import decoding_bars, decoding_frame
from components.training.state import OpenRun

__all__ = ["EvaluationPanel", "describe_scores"]

NEWEST = "newest"


def _number(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


def describe_scores(evaluation: dict[str, Any]) -> str:
    """Markdown lines: which checkpoint, co-bps (all inputs and spikes only), each modality alone against
    the baselines, NLB scores (Lorenz), latent recovery, test bins."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(evaluation.get("evaluated", 0) or 0)))
    baselines = evaluation.get("baselines", {}) or {}
    lines = [
        (
            f"**Checkpoint step {evaluation.get('checkpoint_step')}** · evaluated {when} · "
            f"{evaluation.get('n_test_bins', 0):,} held-out test bins"
        ),
        (
            f"- **co-bps** (held-out neurons, Neural Latents Benchmark): {_number(evaluation.get('co_bps'))} "
            f"from every held-in input, {_number(evaluation.get('co_bps_spikes_only'))} "
            "from held-in spikes alone (a Poisson GLM over the latent states, fitted on the train split"
            + (
                f"; the trained spike head: {_number(evaluation['co_bps_head'])})"
                if evaluation.get("co_bps_head") is not None
                else ")"
            )
            + (f" ({escape_text(evaluation['co_bps_note'])})" if evaluation.get("co_bps_note") else "")
        ),
    ]
    alone = evaluation.get("alone_r2") or {}
    if alone:
        cells = " · ".join(
            f"{escape_text(name)} "
            + " / ".join(_number(v.get(method)) for method in ("model", "ridge", "cebra"))
            for name, v in alone.items()
        )
        beaten = sum(
            1
            for v in alone.values()
            if v.get("model") is not None and v["model"] > (v.get("ridge") or -np.inf)
        )
        lines.append(
            f"- **Each modality alone** (R², model / ridge / CEBRA): {cells}; the model beats ridge on "
            f"{beaten} of {len(alone)}"
        )
    nlb = evaluation.get("nlb")
    if nlb:
        lines.append(
            f"- **NLB** (Lorenz test trials): co-bps {_number(nlb.get('co_bps'))}, fp-bps "
            f"{_number(nlb.get('fp_bps'))}; NLB's smoothing baseline co-bps "
            f"{_number(nlb.get('smoothing_co_bps'))}"
        )
    if evaluation.get("latent_r2") is not None:
        lines.append(f"- **Latent recovery** R² (synthetic ground truth): {_number(evaluation['latent_r2'])}")
    if baselines.get("cebra_note"):
        lines.append(f"- CEBRA: {escape_text(baselines['cebra_note'])}")
    elif baselines and baselines.get("cebra_r2") is None:
        lines.append("- CEBRA: not run (give it iterations above 0)")
    if baselines.get("ridge_lags") is not None:
        lines.append(f"- Ridge: linear decoder on the binned inputs with {baselines['ridge_lags']} lags")
    return "\n".join(lines)


class EvaluationPanel(pn.viewable.Viewer):
    """Checkpoint and CEBRA settings, the Evaluate button, the job's progress, and the scores."""

    def __init__(self, run: OpenRun, on_evaluate: Callable[[int | None, int], None]) -> None:
        super().__init__()
        run.param.watch(lambda _e: self._set_checkpoints(run.checkpoint_steps()), "checkpoints")
        self._on_evaluate = on_evaluate
        self._watcher: JobWatcher | None = None
        self._checkpoint = pn.widgets.Select(label="Checkpoint", options=[NEWEST], width=160)
        self._cebra = pn.widgets.IntInput(
            label="CEBRA iterations (0: skip)", value=300, start=0, end=20_000, step=100, width=190
        )
        self._button = pn.widgets.Button(label="Evaluate", button_type="primary", width=110, align="end")
        self._button.on_click(lambda _e: self._request())
        self._job = pn.Column(sizing_mode="stretch_width")
        self._scores = pn.pane.Markdown("", margin=(0, 10))
        self._bars = pn.pane.HoloViews(sizing_mode="stretch_width", visible=False)
        self._table = pn.widgets.Tabulator(
            decoding_frame({}),
            show_index=False,
            disabled=True,
            height=240,
            sizing_mode="stretch_width",
            visible=False,
            layout="fit_columns",
            css_classes=["nd-training-evaluation"],
        )
        self._empty = pn.pane.Markdown(
            "No evaluation yet. *Evaluate* scores a checkpoint on the held-out test split: "
            "behaviour decoding R² with all inputs and with each modality alone, beside a ridge decoder "
            "and CEBRA on the same split, and co-bps on held-out neurons. "
            "It runs as a job (Compute page); CEBRA takes most of the time.",
            css_classes=["nd-muted"],
            margin=(0, 10),
        )

    def _set_checkpoints(self, steps: list[int]) -> None:
        """The open run's checkpoints to choose from, newest first; the choice kept while it exists."""
        options = [NEWEST, *[str(s) for s in reversed(steps)]]
        if options != self._checkpoint.options:
            value = self._checkpoint.value
            self._checkpoint.options = options
            self._checkpoint.value = value if value in options else NEWEST

    def _request(self) -> None:
        value = self._checkpoint.value
        iterations = self._cebra.value or 0  # an emptied field asks for no CEBRA, as 0 does
        self._on_evaluate(None if value == NEWEST else int(value), int(iterations))

    def watch(self, watcher: JobWatcher | None) -> None:
        """Follow a requested evaluation (None: forget the one followed, e.g. another run was opened)."""
        if self._watcher is not None:
            self._watcher.stop()
        self._watcher = watcher
        self._job[:] = [watcher] if watcher is not None else []

    def show_evaluation(self, evaluation: dict[str, Any] | None) -> None:
        """Render an evaluation dict, or the empty state for None."""
        self._empty.visible = not evaluation
        self._bars.visible = self._table.visible = bool(evaluation)
        if not evaluation:
            self._scores.object = ""
            return
        table = decoding_frame(evaluation)
        scores = table.drop(columns="input").apply(pd.to_numeric, errors="coerce").round(3)
        self._table.value = pd.concat(
            [table[["input"]], scores.astype(object).where(scores.notna(), None)], axis=1
        )
        self._bars.object = decoding_bars(evaluation)
        self._scores.object = describe_scores(evaluation)

    def stop(self) -> None:
        self.watch(None)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._checkpoint, self._cebra, self._button),
            self._job,
            self._empty,
            self._scores,
            self._bars,
            self._table,
            sizing_mode="stretch_width",
        )
