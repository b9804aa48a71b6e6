"""Units & labels: every unit's label (good, mua, noise) in an editable table, and the automatic labelers.

A person's edit is stored at once and always wins over a labeler's; a labeler runs off the
session's thread (``BackgroundWork``) and the table is redrawn from the store when it is done.
"""

from __future__ import annotations

import pandas as pd
import panel as pn

from components.background import BackgroundWork
from components.safe_text import escape_text
from engines.curation import CurationReview, UnitLabel

__all__ = ["UnitLabels"]


class UnitLabels(pn.viewable.Viewer):
    """The open analyzer's unit labels; one per opened analyzer."""

    def __init__(self, review: CurationReview, work: BackgroundWork) -> None:
        super().__init__()
        self._review, self._work = review, work
        self._table = pn.widgets.Tabulator(
            pd.DataFrame(),
            show_index=False,
            height=420,
            sizing_mode="stretch_width",
            editors={"label": {"type": "list", "values": ["good", "mua", "noise"]}},
            pagination="local",
            page_size=50,
        )
        self._note = pn.pane.Markdown("")
        self._table.on_edit(self._edited)
        self._labeler = pn.widgets.Select(name="Labeler", options=["thresholds", "bombcell"], width=160)
        self._run = pn.widgets.Button(name="Label all units", button_type="primary", width=140, align="end")
        self._run.on_click(lambda _e: self._label_all())
        self._show()

    def _labelled(self, labels: list[UnitLabel]) -> None:
        self._note.object = f"{len(labels)} units labelled."
        self._show()

    def _show(self) -> None:
        labels = self._review.labels()
        self._table.value = (
            pd.DataFrame(
                [{"unit": str(u), "label": lab.label, "source": lab.source} for u, lab in labels.items()]
            )
            if labels
            else pd.DataFrame(
                {"unit": [str(u) for u in self._review.analyzer.unit_ids], "label": "", "source": ""}
            )
        )

    def _edited(self, event) -> None:
        if event.column == "label":
            unit = self._table.value.iloc[event.row]["unit"]
            unit_id = next(u for u in self._review.analyzer.unit_ids if str(u) == unit)
            self._review.set_label(unit_id, event.value)
            self._show()

    def _label_all(self) -> None:
        name = self._labeler.value
        self._note.object = f"Labelling with {name}…"
        self._work.run(
            "labels",
            lambda: self._review.label_units(name),
            apply=self._labelled,
            failed=lambda exc: setattr(self._note, "object", f"**Labelling failed:** {escape_text(exc)}"),
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._labeler, self._run),
            self._note,
            pn.pane.Markdown("Edit a label in the table; a person's label always wins over a labeler's."),
            self._table,
            sizing_mode="stretch_width",
        )
