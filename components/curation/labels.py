"""Units & labels: every unit's label (good, mua, noise) in an editable table, and the automatic labelers.

A person's edit is stored at once and always wins over a labeler's; a labeler runs off the
session's thread (``BackgroundWork``) and the table is redrawn from the store when it is done.
UnitRefine models from the operator's folder add a column each (label and probability) beside
bombcell's, kept in the workspace; they inform the person and never set a unit's label.
"""

from __future__ import annotations

import pandas as pd
import panel as pn

from components.background import BackgroundWork, run_on_session_thread
from components.safe_text import escape_text, safe_titles
from engines.curation import CurationReview, UnitLabel
from engines.curation.unitrefine import UnitRefineModel, UnitRefineModels, bombcell_agreement
from engines.curation.unitrefine_store import ModelLabelStore

__all__ = ["UnitLabels"]


class UnitLabels(pn.viewable.Viewer):
    """The open analyzer's unit labels; one per opened analyzer."""

    def __init__(
        self, review: CurationReview, work: BackgroundWork, unitrefine: UnitRefineModels | None = None
    ) -> None:
        super().__init__()
        self._review, self._work = review, work
        self._unitrefine = unitrefine if unitrefine is not None and unitrefine.configured else None
        self._model_store = ModelLabelStore(review.workspace)
        self._doc = pn.state.curdoc
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
        self._model = pn.widgets.Select(name="UnitRefine model", options=[], width=260)
        self._run_model = pn.widgets.Button(
            name="Label with UnitRefine", button_type="primary", width=180, align="end", disabled=True
        )
        self._run_model.on_click(lambda _e: self._label_with_model())
        self._models: dict[str, UnitRefineModel] = {}
        self._model_note = pn.pane.Markdown("", sizing_mode="stretch_width")
        self._show()
        if self._unitrefine is not None:
            self._model_note.object = "Reading the UnitRefine models…"
            self._work.run(
                "unitrefine-models", self._unitrefine.models, apply=self._listed, failed=self._model_failed
            )

    # --- the table -------------------------------------------------------------------------------------
    def _labelled(self, labels: list[UnitLabel]) -> None:
        self._note.object = f"{len(labels)} units labelled."
        self._show()

    def _show(self) -> None:
        labels = self._review.labels()
        units = list(self._review.analyzer.unit_ids)
        table = pd.DataFrame(
            {
                "unit": [str(u) for u in units],
                "label": [labels[u].label if u in labels else "" for u in units],
                "source": [labels[u].source if u in labels else "" for u in units],
            }
        )
        bombcell = self._model_store.labeler_labels(self._review.key, "bombcell")
        if bombcell:
            table["bombcell"] = [bombcell.get(u, "") for u in units]
        for model, by_unit in sorted(self._model_store.latest(self._review.key).items()):
            table[model] = [by_unit[u].label if u in by_unit else "" for u in units]
            probabilities = [by_unit[u].probability if u in by_unit else None for u in units]
            table[f"{model} p"] = [None if p is None else round(p, 3) for p in probabilities]
        self._table.editors = {
            column: ({"type": "list", "values": ["good", "mua", "noise"]} if column == "label" else None)
            for column in table.columns
        }
        self._table.param.update(value=table, titles=safe_titles(table))  # model names come from folders

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

    # --- UnitRefine -----------------------------------------------------------------------------------
    def _listed(self, found: tuple[list[UnitRefineModel], list[str]]) -> None:
        models, problems = found
        self._models = {m.name: m for m in models}
        current = self._model.value if self._model.value in self._models else next(iter(self._models), None)
        self._model.param.update(options=list(self._models), value=current)
        self._run_model.disabled = not models
        lines = [self._describe(m) for m in models] or ["No UnitRefine model in the operator's folder."]
        lines += [f"- ⚠ {escape_text(problem)}" for problem in problems]
        self._model_note.object = "\n".join(lines)

    def _model_failed(self, exc: BaseException) -> None:
        self._model_note.object = f"**UnitRefine models unavailable:** {escape_text(exc)}"

    @staticmethod
    def _describe(model: UnitRefineModel) -> str:
        classes = ", ".join(escape_text(c) for c in model.classes) or "unknown"
        trained = (
            f", trained with SpikeInterface {escape_text(model.trained_with)}" if model.trained_with else ""
        )
        return (
            f"- **{escape_text(model.name)}** ({escape_text(model.kind)}): classes {classes}; "
            f"reads {len(model.metrics)} metrics{trained}"
        )

    def _label_with_model(self) -> None:
        name, models = self._model.value, self._unitrefine
        if not name or models is None:
            return
        review, store, doc = self._review, self._model_store, self._doc
        self._run_model.disabled = True
        self._note.object = f"UnitRefine: labelling with {escape_text(name)}…"

        def progress(fraction: float, message: str) -> None:
            text = f"UnitRefine: {escape_text(message)} ({fraction:.0%})"
            run_on_session_thread(doc, lambda: setattr(self._note, "object", text))

        def work() -> tuple[str, int, float | None, list[str]]:
            model, labels, notes = models.label(review.analyzer, name, progress)
            store.record(review.key, model, labels, review.session)
            bombcell = store.labeler_labels(review.key, "bombcell")
            agreement, _count = bombcell_agreement(
                {lab.unit_id: lab.label for lab in labels}, bombcell, model.kind
            )
            return model.name, len(labels), agreement, notes

        self._work.run("unitrefine", work, apply=self._model_labelled, failed=self._model_run_failed)

    def _model_labelled(self, result: tuple[str, int, float | None, list[str]]) -> None:
        name, count, agreement, notes = result
        said = f" Agreement with bombcell: {agreement:.0%}." if agreement is not None else ""
        warned = "".join(f"\n\n⚠ {escape_text(n)}" for n in notes[:3])
        self._note.object = f"{count} units labelled by UnitRefine model {escape_text(name)}.{said}{warned}"
        self._run_model.disabled = False
        self._show()

    def _model_run_failed(self, exc: BaseException) -> None:
        self._note.object = f"**UnitRefine labelling failed:** {escape_text(exc)}"
        self._run_model.disabled = False

    def __panel__(self) -> pn.viewable.Viewable:
        unitrefine = (
            [pn.Row(self._model, self._run_model), self._model_note] if self._unitrefine is not None else []
        )
        return pn.Column(
            pn.Row(self._labeler, self._run),
            *unitrefine,
            self._note,
            pn.pane.Markdown("Edit a label in the table; a person's label always wins over a labeler's."),
            self._table,
            sizing_mode="stretch_width",
        )
