"""The curation grid's card for one group and its detail panel, each built once and then updated in place.

A key press (accept, next) changes the focus and one verdict: rebuilding every card and the
detail on each press made the browser replace all their Bokeh models (buttons, images, text),
which was most of what a review step cost the server. Here a card keeps its models for the
life of the page: a new group in a slot changes its text and border, and its images only when
the group is another one. The detail likewise keeps its buttons and inputs. Images, too, go into
the PNG panes already there: adding or removing a pane makes Bokeh walk every model of the page
again, once per change.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param

from components.background import BackgroundWork
from components.safe_text import code_block, escape_text, safe_choices, text_alert
from engines.curation import CandidateGroup, MergeDecision

__all__ = ["GroupCard", "GroupDetail", "Pictures"]

_VERDICT_STYLE = {"accept": "#2e7d32", "reject": "#c62828", "skip": "#757575", "": "#9e9e9e"}
_EXAMPLES = {"not an example": "", "good (merge)": "good", "bad (do not merge)": "bad"}

_REASONING_CHARS = 220
"""A card shows the judge's reasons up to this length, cut between words with an ellipsis."""

Images = Callable[[int], dict[str, Path]]
"""A group's images by name, drawn off the session's thread."""


def card_text(row: dict[str, Any]) -> str:
    """The card's Markdown: group, units, similarity, the judge's decision, the reviewer's verdict,
    reasons."""
    verdict = row["verdict"] or ""
    decision = row["decision"] or "not judged"
    confidence = f" ({row['confidence']:.0%})" if pd.notna(row["confidence"]) else ""
    similarity = f"{row['similarity']:.2f}" if pd.notna(row["similarity"]) else "?"
    p_merge = row.get("p_merge")
    calibrated = f" · P(merge) {p_merge:.0%}" if p_merge is not None and pd.notna(p_merge) else ""
    reasons = textwrap.shorten(
        str(row["reasoning"]), _REASONING_CHARS, placeholder=" …", break_on_hyphens=False
    )
    return (
        f"**Group {int(row['group_id'])}** · units {escape_text(', '.join(map(str, row['unit_ids'])))} · "
        f"similarity {similarity}\n\nJudge: **{escape_text(decision)}**{confidence}{calibrated} · "
        f"you: **{escape_text(verdict or '—')}**\n\n{escape_text(reasons)}"
    )


class Pictures:
    """A row of PNG panes kept for the page's life: a group's images replace the panes' pictures, not the
    panes."""

    def __init__(self, row: pn.Row, **pane_options: Any) -> None:
        self.view = row
        self._options = pane_options

    def hide(self) -> None:
        """While the next group's images are drawn: nothing of the previous group stays on screen."""
        for shown in self.view:
            shown.visible = False

    def show(self, paths: dict[str, Path]) -> None:
        files = [str(p) for p in paths.values()]
        panes = self.view.objects
        if len(panes) != len(files) or not all(isinstance(pane, pn.pane.PNG) for pane in panes):
            self.view[:] = [pn.pane.PNG(file, **self._options) for file in files]
            return
        for pane, file in zip(panes, files):
            pane.param.update(object=file, visible=True)

    def fail(self, message: pn.viewable.Viewable) -> None:
        self.view[:] = [message]


class GroupCard:
    """One slot of the grid; ``show(row, focused)`` puts a group in it, ``on_open(group_id)`` focuses it."""

    def __init__(
        self, slot: int, work: BackgroundWork, images: Images, on_open: Callable[[int], None]
    ) -> None:
        self._slot = slot
        self._work = work
        self._images = images
        self.group_id: int | None = None
        self._text = pn.pane.Markdown("", margin=(0, 6))
        self._thumbs = Pictures(pn.Row(height=150, width=336), width=160, margin=(0, 2), fixed_aspect=True)
        self._open = pn.widgets.Button(name="Open group", button_type="light", width=130, margin=(0, 6))
        self._on_open = on_open
        self._open.on_click(self._open_group)
        self.view = pn.Column(
            self._text, self._thumbs.view, self._open, width=344, height=340, css_classes=["nd-group-card"]
        )

    def _open_group(self, _event: param.parameterized.Event) -> None:
        """Open: a card that shows no group yet has nothing to open."""
        if self.group_id is not None:
            self._on_open(self.group_id)

    def show(self, row: dict[str, Any], focused: bool) -> None:
        group_id = int(row["group_id"])
        verdict = row["verdict"] or ""
        self._text.object = card_text(row)
        self.view.param.update(
            styles={
                "border": f"3px solid {'#1f77b4' if focused else '#ddd'}",
                "border-left": f"8px solid {_VERDICT_STYLE.get(verdict, '#9e9e9e')}",
                "border-radius": "6px",
                "overflow": "hidden",
            },
            css_classes=["nd-group-card", f"nd-group-{group_id}"],
        )
        if group_id == self.group_id:
            return
        self.group_id = group_id
        self._open.name = f"Open group {group_id}"
        self._thumbs.hide()
        self._work.run(
            f"thumbs-{self._slot}",
            lambda: self._images(group_id),
            apply=self._thumbs.show,
            failed=lambda exc: self._thumbs.fail(pn.pane.Markdown(f"*{escape_text(exc)}*")),
        )


def _give(give: Callable[[str], None], verdict: str, _event: param.parameterized.Event) -> None:
    """One verdict button's click; the verdict is bound per button (a closure would see the last one)."""
    give(verdict)


class GroupDetail:
    """The focused group: heading and reasons, verdict buttons, images, the judge's report, editing, few-shot
    marking.

    The callbacks get the group shown when the person acted: ``give(verdict)``, ``undo()``,
    ``rejudge(group_id, kept_units)``, ``mark_example(group_id, kind)``.
    """

    def __init__(
        self,
        work: BackgroundWork,
        images: Images,
        give: Callable[[str], None],
        undo: Callable[[], None],
        rejudge: Callable[[int, list[str]], None],
        mark_example: Callable[[int, str], None],
    ) -> None:
        self._work = work
        self._images = images
        self.group_id: int | None = None
        self._showing = False  # set while show() fills the inputs: not a person's choice
        self._none = pn.pane.Markdown("No group selected.")
        self._heading = pn.pane.Markdown("")
        buttons = []
        for label, verdict in (("Accept (a)", "accept"), ("Reject (r)", "reject"), ("Skip (s)", "skip")):
            button = pn.widgets.Button(
                name=label,
                width=110,
                button_type={"accept": "success", "reject": "danger"}.get(verdict, "default"),
            )
            button.on_click(functools.partial(_give, give, verdict))
            buttons.append(button)
        undo_button = pn.widgets.Button(name="Undo (u)", width=100)
        undo_button.on_click(lambda _e: undo())
        self._pictures = Pictures(pn.Row(sizing_mode="stretch_width"), width=420)
        self._report = pn.pane.Markdown("")
        self._units = pn.widgets.MultiChoice(
            name="Units in this group (drop one, then re-judge)", options={}, value=[], width=420
        )
        rejudge_button = pn.widgets.Button(name="Save edited group and re-judge", width=240)
        self._rejudge = rejudge
        rejudge_button.on_click(self._rejudge_group)
        self._example = pn.widgets.RadioButtonGroup(
            name="Few-shot example for the VLM judge", options=_EXAMPLES, value="", button_type="light"
        )
        self._example.param.watch(
            lambda e: None if self._showing or self.group_id is None else mark_example(self.group_id, e.new),
            "value",
        )
        self._body = pn.Column(
            self._heading,
            pn.Row(*buttons, undo_button),
            self._pictures.view,
            pn.Card(self._report, title="Judge's report", collapsed=True, sizing_mode="stretch_width"),
            pn.Row(self._units, rejudge_button),
            pn.Row(
                pn.pane.Markdown(
                    "Few-shot example for the VLM judge (examples are not judged):", margin=(8, 5)
                ),
                self._example,
            ),
            sizing_mode="stretch_width",
            visible=False,
        )
        self.view = pn.Column(
            self._none, self._body, sizing_mode="stretch_width", css_classes=["nd-curation-detail"]
        )

    def show_nothing(self) -> None:
        self.group_id = None
        self._none.visible, self._body.visible = True, False

    def _rejudge_group(self, _event: param.parameterized.Event) -> None:
        """Re-judge the shown group with the units left in the picker; nothing when no group is shown."""
        if self.group_id is not None:
            self._rejudge(self.group_id, self._units.value)

    def show(self, group: CandidateGroup, decision: MergeDecision | None, example: str) -> None:
        """Fill the panel for ``group`` (its latest ``decision``, as the grid last read it); its images are
        (re)drawn only when the group changes."""
        group_id = group.group_id
        report = decision.report if decision and decision.report else (decision.error if decision else "")
        reasoning = decision.reasoning if decision and decision.ok else ""
        units = [str(u) for u in group.unit_ids]
        self._heading.object = (
            f"### Group {group_id}: units {escape_text(', '.join(units))}\n\n"
            f"{escape_text(reasoning) if reasoning else '*Not judged yet.*'}"
        )
        self._report.object = code_block(report) if report else "*No report.*"
        self._showing = True
        try:
            self._units.param.update(options=safe_choices(units), value=units)
            self._example.value = example
        finally:
            self._showing = False
        self._none.visible, self._body.visible = False, True
        if group_id == self.group_id:
            return
        self.group_id = group_id
        self._pictures.hide()
        self._work.run(
            "detail-images",
            lambda: self._images(group_id),
            apply=self._pictures.show,
            failed=lambda exc: self._pictures.fail(text_alert(exc, alert_type="warning")),
        )
