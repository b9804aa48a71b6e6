"""Apply & export: write the chosen merges into a new curated analyzer (after a confirmation); the exports.

Applying runs as a job; the page starts it (``on_apply(curation)``) and hands the job's
report back to ``show_report`` (it reads the report file: components open no files).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import panel as pn

from components.safe_text import code_span
from engines.curation import CurationReview

__all__ = ["ApplyMerges"]


class ApplyMerges(pn.viewable.Viewer):
    """Which decisions to apply, the two-step Apply button, the report, and the CSV/JSON exports."""

    def __init__(self, review: CurationReview, on_apply: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self._review, self._on_apply = review, on_apply
        self._source = pn.widgets.Select(
            name="Merges from", options=["human", "human_then_judge", "judge"], width=200
        )
        self._remove_noise = pn.widgets.Checkbox(name="Remove units labelled noise")
        self._apply = pn.widgets.Button(name="Apply merges…", button_type="warning", width=150)
        self._confirm = pn.widgets.Button(
            name="Yes, write a new curated analyzer", button_type="danger", width=260, visible=False
        )
        self._report = pn.Column(sizing_mode="stretch_width")
        self._apply.on_click(lambda _e: self._ask())
        self._confirm.on_click(lambda _e: self._confirmed())

    def _curation(self) -> dict[str, Any]:
        return self._review.curation(self._source.value, self._remove_noise.value)

    def _ask(self) -> None:
        merges = self._curation().get("merges", [])
        self._report[:] = [
            pn.pane.Markdown(
                f"{len(merges)} merge(s) will be applied into a new analyzer; the original is not changed."
            )
        ]
        self._confirm.visible = True

    def _confirmed(self) -> None:
        self._confirm.visible = False
        self._on_apply(self._curation())

    def show_report(self, folder: str, summary: dict[str, Any]) -> None:
        """The applied job's ``report.json`` (``summary``) for the new analyzer under ``folder``."""
        self._report[:] = [
            pn.pane.Markdown(
                f"**Applied:** {summary.get('n_units_before')} → "
                f"{summary.get('n_units_after')} units · new analyzer in "
                f"{code_span(f'{folder}/analyzer')}"
            ),
            pn.pane.JSON({k: v for k, v in summary.items() if k != "table"}, depth=1),
        ]

    def _exports(self) -> pn.Row:
        reasoning = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(self._review.export_reasoning_csv().read_bytes()),
            filename="merge_reasoning.csv",
            label="Reasoning log (CSV)",
            width=200,
        )
        curation_json = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(
                self._review.export_curation_json(
                    source=self._source.value, remove_noise=self._remove_noise.value
                ).read_bytes()
            ),
            filename="curation.json",
            label="SpikeInterface curation (JSON)",
            width=260,
        )
        return pn.Row(reasoning, curation_json)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._source, self._remove_noise),
            pn.Row(self._apply, self._confirm),
            self._report,
            pn.pane.Markdown("### Exports"),
            self._exports(),
            sizing_mode="stretch_width",
        )
