"""Comparing runs: an overlay of one metric for up to 20 ticked runs, a sortable table of hyperparameters
and final metrics, and a parallel-coordinates plot of hyperparameters against a chosen metric.

The chosen metric of each ticked run is read off the session's thread (``load_series(run_id, split,
metric)`` on the page's ``BackgroundWork``: one query of the run's metrics store, two numbers a
logged step); choosing another metric or split reads again. The table (paged on the server) and
the parallel coordinates use the run list's rows.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import panel as pn
import param

from components.background import BackgroundWork
from components.safe_text import escape_text, safe_titles
from components.training.plots import comparison_overlay, parallel_coordinates

__all__ = ["RunComparison", "hyperparameter_table", "varying_hyperparameters", "MAX_COMPARED"]

MAX_COMPARED = 20
"""Runs drawn on the one chart: past 20, colours repeat and the legend outgrows the plot."""

_METRICS = [
    "loss",
    "loss/behaviour",
    "loss/reconstruction",
    "loss/contrastive",
    "loss/adversarial",
    "r2/all",
    "co_bps",
    "lr",
    "tokens_per_s",
    "grad_norm",
]
_VALIDATION_ONLY = ("r2/all", "co_bps")
"""Scored only on the validation split (every ``training.score_every`` steps): never on the train split."""
_FALLBACK_AXES = [
    "model.d_model",
    "model.n_blocks",
    "optim.lr",
    "data.batch_size",
    "data.seq_len",
    "training.steps",
]
_HIDDEN = ("run_id", "message", "started", "total_steps")


def hyperparameter_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Name, state and final metrics first, then every hyperparameter (the columns of ``runs_frame``)."""
    if runs.empty:
        return pd.DataFrame(columns=["name", "state"])
    finals = [c for c in runs.columns if c.startswith("final.")]
    rest = [c for c in runs.columns if c not in ("name", "state", "step", *finals, *_HIDDEN)]
    table = runs[["name", "state", "step", *finals, *rest]].copy()
    for column in finals:
        table[column] = pd.to_numeric(table[column], errors="coerce").round(4)
    return table.reset_index(drop=True)


def varying_hyperparameters(runs: pd.DataFrame, limit: int = 8) -> list[str]:
    """Hyperparameter columns whose value differs between runs (at most ``limit``), else a default set."""
    columns = [c for c in runs.columns if "." in c and not c.startswith("final.") and c not in _HIDDEN]
    varying = [c for c in columns if runs[c].astype(str).nunique() > 1]
    chosen = varying or [c for c in _FALLBACK_AXES if c in runs.columns]
    return chosen[:limit]


class RunComparison(pn.viewable.Viewer):
    """``show(runs, ticked)``: ``runs`` the listed runs (``runs_frame`` rows), ``ticked`` the ids to
    overlay."""

    metric: param.Selector[str] = param.Selector(
        default="loss", objects=_METRICS, doc="Metric overlaid for the ticked runs."
    )
    split: param.Selector[str] = param.Selector(default="val", objects=["val", "train"])
    smoothing = param.Number(default=0.6, bounds=(0.0, 0.99), step=0.01)
    target: param.Selector[str | None] = param.Selector(
        default=None, objects=[], allow_None=True, doc="Metric of the parallel coordinates."
    )

    def __init__(
        self, work: BackgroundWork, load_series: Callable[[str, str, str], pd.DataFrame], **params
    ) -> None:
        super().__init__(**params)
        self._work = work
        self._load_series = load_series
        self._runs = pd.DataFrame()
        self._ticked: list[str] = []
        self._frames: dict[str, pd.DataFrame] = {}
        self._dropped = 0
        self._drawn = (self.metric, self.split)
        self._overlay = pn.pane.HoloViews(
            comparison_overlay({}, "loss", "val", 0.6), sizing_mode="stretch_width", linked_axes=False
        )
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(),
            show_index=False,
            disabled=True,
            sizing_mode="stretch_width",
            pagination="remote",
            page_size=15,
            frozen_columns=["name"],
            layout="fit_data_table",
            css_classes=["nd-training-hparams"],
        )
        self._parallel = pn.pane.HoloViews(sizing_mode="stretch_width", linked_axes=False)
        self._note = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))

    def show_runs(self, runs: pd.DataFrame, ticked: list[str]) -> None:
        """New list rows or ticks (session thread): reload the ticked runs' metrics when they may have
        changed."""
        if list(ticked) == self._ticked and runs.equals(self._runs):
            return  # the list refreshes every few seconds: redraw only what changed
        changed = list(ticked) != self._ticked or not _same_progress(runs, self._runs, ticked)
        self._runs, self._ticked = runs, list(ticked)
        table = hyperparameter_table(runs)
        self._table.param.update(
            value=table, titles=safe_titles(table)
        )  # names come from the runs' config files
        finals = [
            c
            for c in runs.columns
            if c.startswith("final.") and pd.to_numeric(runs[c], errors="coerce").notna().any()
        ]
        self.param.target.objects = finals
        if self.target not in finals:
            self.target = (
                "final.best_val_loss" if "final.best_val_loss" in finals else (finals[0] if finals else None)
            )
        self._draw_parallel()
        if changed:
            self._reload()

    @param.depends("metric", "split", watch=True)
    def _reload(self) -> None:
        if self.metric in _VALIDATION_ONLY and self.split == "train":
            self.split = "val"  # reloads: a train curve of a validation score would be empty
            return
        listed = set(self._runs.get("run_id", []))
        ticked = [r for r in self._ticked if r in listed]
        ids = ticked[:MAX_COMPARED]
        names = dict(zip(self._runs["run_id"], self._runs["name"])) if not self._runs.empty else {}
        load, split, metric = self._load_series, self.split, self.metric
        self._dropped = len(ticked) - len(ids)

        def read() -> dict[str, pd.DataFrame]:
            frames = {}
            for r in ids:
                series = load(r, split, metric)
                frames[f"{str(names.get(r, r))[:28]} ({r[-4:]})"] = pd.DataFrame(
                    {"step": series["step"], metric: series["value"]}
                )
            return frames

        self._work.run(
            "compare",
            read,
            apply=lambda frames: self._adopt(frames, metric, split),
            failed=lambda exc: setattr(self._note, "object", f"Could not read the runs: {escape_text(exc)}"),
        )

    def _adopt(self, frames: dict[str, pd.DataFrame], metric: str, split: str) -> None:
        self._frames, self._drawn = frames, (metric, split)
        self._note.object = (
            "Tick runs in the run list to overlay their curves here."
            if not frames
            else f"One chart shows {MAX_COMPARED} runs: the first {MAX_COMPARED} of the "
            f"{MAX_COMPARED + self._dropped} ticked. Untick some to see the others."
            if self._dropped
            else ""
        )
        self._draw_overlay()

    @param.depends("smoothing", watch=True)
    def _draw_overlay(self) -> None:
        metric, split = self._drawn  # what the frames hold, though another metric may be on its way
        self._overlay.object = comparison_overlay(self._frames, metric, split, self.smoothing)

    @param.depends("target", watch=True)
    def _draw_parallel(self) -> None:
        if self.target is None or self._runs.empty:
            self._parallel.object = None
            return
        self._parallel.object = parallel_coordinates(
            self._runs, varying_hyperparameters(self._runs), self.target
        )

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Row(
            pn.widgets.Select.from_param(self.param.metric, name="Metric", width=180),
            pn.widgets.RadioButtonGroup.from_param(self.param.split, width=140, align="end"),
            pn.widgets.FloatSlider.from_param(self.param.smoothing, name="Smoothing (train)", width=200),
        )
        return pn.Column(
            controls,
            self._note,
            self._overlay,
            pn.pane.Markdown(
                "#### Hyperparameters and final metrics (click a header to sort)", margin=(10, 10, 0, 10)
            ),
            self._table,
            pn.pane.Markdown("#### Parallel coordinates", margin=(10, 10, 0, 10)),
            pn.widgets.Select.from_param(self.param.target, name="Colour and last axis by", width=240),
            self._parallel,
            sizing_mode="stretch_width",
        )


def _same_progress(new: pd.DataFrame, old: pd.DataFrame, ids: list[str]) -> bool:
    """True when none of the ticked runs logged another step (their curves need no re-read)."""
    if new.empty or old.empty or not ids:
        return new.empty == old.empty

    def steps(frame: pd.DataFrame) -> dict[str, int]:
        rows = frame[frame["run_id"].isin(ids)]
        return dict(zip(rows["run_id"], rows["step"]))

    return steps(new) == steps(old)
