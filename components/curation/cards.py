"""The curation grid's card for one group and its detail panel, each built once and then updated in place.

A key press (accept, next) changes the focus and one verdict: rebuilding every card and the
detail on each press made the browser replace all their Bokeh models (buttons, images, text),
which was most of what a review step cost the server. Here a card keeps its models for the
life of the page.

What a page change costs is the browser's: Bokeh lays out the whole page again for each change of a
model's classes, visibility or size (``LayoutDOMView.invalidate_layout`` climbs to the root), about 10 ms
each on a 2-core machine, while a new text of an HTML pane is only set as the pane's inner HTML. So a card
is one HTML pane, text and pictures together, written whole (escaped here) when its group or its pictures
change; its frame (focus, verdict) is the slot's ``styles``, which Bokeh applies without a layout. The
pictures go in as ``data:`` URIs, as Panel's PNG pane would send them, but inside the card's one HTML: PNG
panes of their own had to be hidden and shown (a layout each) so that no picture of the group before stayed
on screen while the next was drawn. The detail's pictures are one HTML pane for the same reason.
"""

from __future__ import annotations

import base64
import functools
import html
import mimetypes
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param

from components.background import BackgroundWork
from components.safe_text import code_block, escape_text, safe_choices
from engines.curation import CandidateGroup, MergeDecision

__all__ = ["GroupCard", "GroupDetail", "card_text", "pictures_html"]

_VERDICT_STYLE = {"accept": "#2e7d32", "reject": "#c62828", "skip": "#757575", "": "#9e9e9e"}
_EXAMPLES = {"not an example": "", "good (merge)": "good", "bad (do not merge)": "bad"}

_REASONING_CHARS = 220
"""A card shows the judge's reasons up to this length, cut between words with an ellipsis."""

Images = Callable[[int], dict[str, Path]]
"""A group's images by name, drawn off the session's thread."""

_NOTE_CSS = """
.nd-pictures-note { color: #777; font-style: italic; margin: 6px 0; }
.nd-pictures-failed { color: #8a4b00; background: #fff4e0; padding: 6px 8px; border-radius: 4px; }
"""
"""A line in place of pictures: being drawn, or why they could not be."""

_CARD_CSS = (
    """
.nd-group-card { font-size: 12px; line-height: 1.4; padding-top: 6px; }
.nd-group-card p { margin: 0 0 6px 0; }
.nd-card-text { height: 150px; overflow: hidden; }
.nd-card-text p {
  display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 2; overflow: hidden;
}
.nd-card-text p.nd-reasons { -webkit-line-clamp: 4; }
.nd-card-pictures { height: 150px; display: flex; gap: 4px; align-items: flex-start; overflow: hidden; }
.nd-card-pictures img { width: 160px; max-height: 150px; object-fit: contain; }
"""
    + _NOTE_CSS
)
"""The card's own look, fixed heights included: its button stays in place while its pictures are drawn."""

_DETAIL_CSS = (
    """
.nd-detail-pictures { display: flex; gap: 8px; align-items: flex-start; min-height: 320px; }
.nd-detail-pictures img { flex: 1 1 0; min-width: 0; max-width: 420px; object-fit: contain; }
"""
    + _NOTE_CSS
)


def card_text(row: dict[str, Any]) -> str:
    """The card's text as HTML paragraphs, every value escaped: group, units, similarity, the judge's
    decision, the reviewer's verdict, reasons."""
    verdict = row["verdict"] or ""
    decision = row["decision"] or "not judged"
    confidence = f" ({row['confidence']:.0%})" if pd.notna(row["confidence"]) else ""
    similarity = f"{row['similarity']:.2f}" if pd.notna(row["similarity"]) else "?"
    p_merge = row.get("p_merge")
    calibrated = f" · P(merge) {p_merge:.0%}" if p_merge is not None and pd.notna(p_merge) else ""
    reasons = textwrap.shorten(
        str(row["reasoning"]), _REASONING_CHARS, placeholder=" …", break_on_hyphens=False
    )
    units = html.escape(", ".join(map(str, row["unit_ids"])))
    return (
        f"<p><strong>Group {int(row['group_id'])}</strong> · units {units} · similarity {similarity}</p>"
        f"<p>Judge: <strong>{html.escape(decision)}</strong>{confidence}{calibrated} · "
        f"you: <strong>{html.escape(verdict or '—')}</strong></p>"
        f'<p class="nd-reasons">{html.escape(reasons)}</p>'
    )


def pictures_html(paths: dict[str, Path]) -> str:
    """A group's pictures as ``<img>`` elements with the files' bytes inline (read here, off the session's
    thread); each picture's name is its ``alt`` text."""
    tags = []
    for name, path in paths.items():
        kind = mimetypes.guess_type(Path(path).name)[0] or "image/png"
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        tags.append(f'<img src="data:{kind};base64,{data}" alt="{html.escape(str(name))}">')
    return "".join(tags)


def _note(text: Any, failed: bool = False) -> str:
    """A line in place of the pictures (an error when ``failed``), escaped."""
    kind = "nd-pictures-failed" if failed else "nd-pictures-note"
    return f'<p class="{kind}">{html.escape(str(text))}</p>'


_DRAWING = _note("Drawing the pictures…")
"""What a card or the detail shows while its group's pictures are drawn: nothing of the group before."""


class GroupCard:
    """One slot of the grid; ``show(row, focused)`` puts a group in it, ``on_open(group_id)`` focuses it."""

    def __init__(
        self, slot: int, work: BackgroundWork, images: Images, on_open: Callable[[int], None]
    ) -> None:
        self._slot = slot
        self._work = work
        self._images = images
        self.group_id: int | None = None
        self._text = ""
        self._pictures = _DRAWING
        self._body = pn.pane.HTML(
            "", width=324, height=300, margin=(0, 6), disable_math=True, stylesheets=[_CARD_CSS]
        )
        # One label for every group: a new label is a change the browser redraws the button for, on each page.
        self._open = pn.widgets.Button(label="Open this group", button_type="light", width=130, margin=(4, 6))
        self._on_open = on_open
        self._open.on_click(self._open_group)
        self.view = pn.Column(self._body, self._open, width=344, height=350, css_classes=["nd-card-slot"])

    def _open_group(self, _event: param.parameterized.Event) -> None:
        """Open: a card that shows no group yet has nothing to open."""
        if self.group_id is not None:
            self._on_open(self.group_id)

    def show(self, row: dict[str, Any], focused: bool) -> None:
        group_id = int(row["group_id"])
        verdict = row["verdict"] or ""
        self.view.styles = {
            "border": f"3px solid {'#1f77b4' if focused else '#ddd'}",
            "border-left": f"8px solid {_VERDICT_STYLE.get(verdict, '#9e9e9e')}",
            "border-radius": "6px",
            "overflow": "hidden",
        }
        self._text = card_text(row)
        if group_id != self.group_id:
            self.group_id = group_id
            self._pictures = _DRAWING
            self._work.run(
                f"thumbs-{self._slot}",
                lambda: pictures_html(self._images(group_id)),
                apply=functools.partial(self._show_pictures, group_id),
                failed=lambda exc: self._show_pictures(group_id, _note(exc, failed=True)),
            )
        self._draw()

    def _show_pictures(self, group_id: int, pictures: str) -> None:
        if group_id == self.group_id:  # a group paged past: its pictures are not this card's
            self._pictures = pictures
            self._draw()

    def _draw(self) -> None:
        self._body.object = (
            f'<div class="nd-group-card nd-group-{self.group_id}">'
            f'<div class="nd-card-text">{self._text}</div>'
            f'<div class="nd-card-pictures">{self._pictures}</div></div>'
        )


def _give(give: Callable[[str], None], verdict: str, _event: param.parameterized.Event) -> None:
    """One verdict button's click; the verdict is bound per button (a closure would see the last one)."""
    give(verdict)


def _verdict_buttons(give: Callable[[str], None], undo: Callable[[], None]) -> pn.Row:
    """Accept, reject, skip and undo, each doing what its key does."""
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
    return pn.Row(*buttons, undo_button)


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
        self._pictures = pn.pane.HTML(
            _detail_pictures(_DRAWING),
            sizing_mode="stretch_width",
            disable_math=True,
            stylesheets=[_DETAIL_CSS],
        )
        self._report = pn.pane.Markdown("")
        self._report_text = ""
        self._report_card = pn.Card(
            self._report, title="Judge's report", collapsed=True, sizing_mode="stretch_width"
        )
        self._report_card.param.watch(lambda _event: self._fill_report(), "collapsed")
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
            _verdict_buttons(give, undo),
            self._pictures,
            self._report_card,
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

    def _fill_report(self) -> None:
        """The report is rendered (Markdown, highlighted) when its card is open: not on every move past a
        group."""
        if not self._report_card.collapsed:
            self._report.object = self._report_text

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
        self._report_text = code_block(report) if report else "*No report.*"
        self._fill_report()
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
        self._pictures.object = _detail_pictures(_DRAWING)
        self._work.run(
            "detail-images",
            lambda: pictures_html(self._images(group_id)),
            apply=functools.partial(self._show_pictures, group_id),
            failed=lambda exc: self._show_pictures(group_id, _note(exc, failed=True)),
        )

    def _show_pictures(self, group_id: int, pictures: str) -> None:
        if group_id == self.group_id:
            self._pictures.object = _detail_pictures(pictures)


def _detail_pictures(pictures: str) -> str:
    return f'<div class="nd-detail-pictures">{pictures}</div>'
