"""The review grid: one card per candidate group (images, similarity, the judge's decision and reasons,
the reviewer's verdict), filters and sorting, a focused group driven by the keyboard, and agreement.

Keys: ``a`` accept (merge), ``r`` reject, ``s`` skip, ``u`` undo, ``←``/``→`` previous/next.
Each verdict is saved the moment it is given (``CurationReview.record_verdict``), so a reload, a
crash or a second tab loses nothing; ``refresh`` re-reads what other tabs saved. Images are
drawn (and cached on disk) off the session's thread, on the process's drawing threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import panel as pn
import param
from panel.io.document import hold

from components.background import BackgroundWork, run_on_session_thread
from components.curation.cards import GroupCard, GroupDetail
from components.curation.keyboard import KeyboardShortcuts
from components.safe_text import text_alert
from engines.curation import CurationReview
from engines.curation.review_table import FILTERS, SORTS, ReviewTable
from engines.errors import NeurodeckError

__all__ = ["CurationGrid"]

log = logging.getLogger(__name__)

CARDS_PER_PAGE = 6
_KEY_OF = {"accept": "a", "reject": "r", "skip": "s"}
_DRAWING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="drawing")
"""Every session's group images are drawn here. Matplotlib keeps the fonts it used open per thread (two file
descriptors, cached by thread id for up to 64 threads): drawn on each session's own threads, every session
left its fonts open after it ended. Two threads keep two sets; a group draws in about 0.2 s."""


class CurationGrid(pn.viewable.Viewer):
    """``group`` is the focused group (the page's deep link); ``changed`` counts saved verdicts."""

    group = param.Integer(default=None, allow_None=True, doc="The focused group's id.")
    show: param.Selector[str] = param.Selector(default="all", objects=list(FILTERS))
    sort_by: param.Selector[str] = param.Selector(default="similarity", objects=list(SORTS))
    min_similarity = param.Number(default=0.0, bounds=(0.0, 1.0), step=0.05)
    page_number = param.Integer(default=0, bounds=(0, None))
    changed = param.Integer(default=0, doc="Increases with every verdict saved here.")

    def __init__(
        self,
        review: CurationReview,
        work: BackgroundWork,
        on_rejudge: Callable[[list[int]], None] | None = None,
        **params,
    ) -> None:
        super().__init__(**params)
        self._review = review
        self._work = work
        self._on_rejudge = on_rejudge
        self._table = ReviewTable(review)
        self._agreement_of = -1  # the table version the agreement line shows
        self._shown: list[int] = []
        self._drawing = (
            False  # a redraw sets the focus and page itself: no nested redraws (on its own thread)
        )
        self._lock = threading.RLock()  # outside a server, two presses may come on two threads at once
        self._doc = pn.state.curdoc
        self._keys = KeyboardShortcuts(
            keys=["a", "r", "s", "u", "ArrowLeft", "ArrowRight"], on_key=self._on_key
        )
        self._cards = pn.FlexBox(sizing_mode="stretch_width", css_classes=["nd-curation-cards"])
        # A button does what its key does, one press at a time with the keys (a click and a key press can be
        # handled on two threads at once: both would move from the same focus).
        self._card_slots = [
            GroupCard(slot, work, self._images, on_open=self._focus) for slot in range(CARDS_PER_PAGE)
        ]
        self._detail = GroupDetail(
            work,
            self._images,
            give=lambda verdict: self._on_key(_KEY_OF[verdict]),
            undo=lambda: self._on_key("u"),
            rejudge=self._edit_and_rejudge,
            mark_example=self._mark_example,
        )
        self._status = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._agreement = pn.pane.Markdown("", margin=(0, 10))
        self._message = pn.Column(sizing_mode="stretch_width")
        self.refresh()

    # --- data ----------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read candidates, decisions and every tab's verdicts from the store, and redraw."""
        self._table.reload()
        self._redraw()

    @param.depends("show", "sort_by", "min_similarity", watch=True)
    def _on_view_change(self) -> None:
        self.page_number = 0
        self._redraw()

    @param.depends("page_number", watch=True)
    def _on_page(self) -> None:
        """A page asked for (the page buttons): focus its first group. The drawing put the page back on the
        focused group's, so the buttons only ever showed the focus's own page."""
        with self._lock:
            if self._drawing:  # the drawing itself set the page (to the focus's)
                return
            start = self.page_number * CARDS_PER_PAGE
            position = self._shown.index(self.group) if self.group in self._shown else -1
            if self._shown and not start <= position < start + CARDS_PER_PAGE:
                self.group = self._shown[min(start, len(self._shown) - 1)]  # redraws (``_on_group``)
            else:
                self._redraw()

    def _redraw(self) -> None:
        with self._lock:  # another thread's change waits for this drawing, then draws what it changed
            if self._drawing:
                return
            self._drawing = True
            try:
                # One patch for the page: unheld, the page line, each card and the detail reached the browser
                # one message at a time, and a reader (or a test) saw the new page line over old cards.
                with hold(self._doc):
                    self._draw()
            finally:
                self._drawing = False

    def _draw(self) -> None:
        visible = self._table.visible(self.show, self.sort_by, self.min_similarity)
        self._shown = [int(g) for g in visible["group_id"]] if not visible.empty else []
        if self._shown and self.group not in self._shown:
            self.group = self._shown[0]
        pages = max(1, -(-len(self._shown) // CARDS_PER_PAGE))
        if self.group in self._shown:
            self.page_number = min(self._shown.index(self.group) // CARDS_PER_PAGE, pages - 1)
        start = self.page_number * CARDS_PER_PAGE
        rows = visible.iloc[start : start + CARDS_PER_PAGE] if not visible.empty else visible
        frame = self._table.frame
        total, reviewed = len(frame), int(frame["reviewed"].sum()) if not frame.empty else 0
        self._status.object = (
            f"{len(self._shown)} of {total} groups shown · {reviewed} reviewed · "
            f"page {self.page_number + 1} of {pages} · keys: a accept, r reject, s skip, u undo, "
            f"← → move"
        )
        records = rows.to_dict("records")
        for card, row in zip(self._card_slots, records):
            card.show(row, focused=int(row["group_id"]) == self.group)
        if len(self._cards) != len(records):
            self._cards[:] = [card.view for card in self._card_slots[: len(records)]]
        self._show_agreement()
        self._show_detail()

    def _show_agreement(self) -> None:
        """The agreement line, worked out again only when a verdict or a refresh changed the table."""
        if self._agreement_of == self._table.version:
            return
        self._agreement_of = self._table.version
        agreement = self._table.agreement()
        if not agreement.n_compared:
            self._agreement.object = (
                "*Agreement with the judge appears once you accept or reject judged groups.*"
            )
            return
        kappa = f", Cohen's κ {agreement.kappa:.2f}" if agreement.kappa is not None else ""
        self._agreement.object = (
            f"**Agreement with the judge:** {agreement.n_agree} of {agreement.n_compared} "
            f"({agreement.rate:.0%}){kappa} · disagreements: "
            f"{', '.join(map(str, agreement.disagreements[:12])) or 'none'}"
        )

    def _images(self, group_id: int) -> dict[str, Path]:
        """The group's images, drawn on the drawing threads (this session's work thread waits for them).

        A group paged past before its turn to be drawn is not drawn: its pictures would be dropped (a newer
        request replaced it), and paging through 2,000 groups queued the drawings of every page passed.
        """

        def draw() -> dict[str, Path]:
            shown = {card.group_id for card in self._card_slots} | {self._detail.group_id}
            return self._review.group_images(group_id) if group_id in shown else {}

        return _DRAWING.submit(draw).result()

    @param.depends("group", watch=True)
    def _on_group(self) -> None:
        self._redraw()

    def _show_detail(self) -> None:
        group = None if self.group is None else self._table.group(self.group)
        if group is None:
            self._detail.show_nothing()
            return
        self._detail.show(
            group, self._table.decisions.get(group.group_id), self._table.example(group.group_id)
        )

    # --- verdicts and keys -----------------------------------------------------------------------------
    def give(self, verdict: str) -> None:
        """Save ``verdict`` for the focused group and move to the next one."""
        if self.group is None:
            return
        try:
            saved = self._review.record_verdict(self.group, verdict)
        except NeurodeckError as exc:
            self._message[:] = [text_alert(exc, alert_type="danger")]
            return
        self._message[:] = []
        self.changed += 1
        self._table.apply_verdict(saved)
        self._move(+1)

    def undo(self) -> None:
        undone = self._review.undo()
        if undone is None:
            self._message[:] = [pn.pane.Alert("Nothing of yours to undo.", alert_type="info")]
            return
        self.changed += 1
        self._table.reload_verdicts()
        self.group = undone.group_id
        self._redraw()

    def _move(self, step: int) -> None:
        if not self._shown:
            self._redraw()
            return
        index = self._shown.index(self.group) if self.group in self._shown else -1
        target = self._shown[max(0, min(len(self._shown) - 1, index + step))]
        if target == self.group:
            self._redraw()
        else:
            self.group = target

    def _focus(self, group_id: int) -> None:
        run_on_session_thread(self._doc, lambda: self._locked(lambda: setattr(self, "group", group_id)))

    def _on_key(self, key: str) -> None:
        """A key press or a verdict button, on Panel's pool: acted on on the session's thread, in the order
        pressed.

        Changed from the pool, a press handled while another was drawing could leave the browser showing the
        older group (the server had moved on): each press now changes the page on the session's thread.
        """
        run_on_session_thread(self._doc, lambda: self._locked(lambda: self._act(key)))

    def _locked(self, action: Callable[[], None]) -> None:
        with self._lock:  # one press at a time, each seeing the focus the previous one left
            action()

    def _act(self, key: str) -> None:
        actions = {
            "a": lambda: self.give("accept"),
            "r": lambda: self.give("reject"),
            "s": lambda: self.give("skip"),
            "u": self.undo,
            "ArrowRight": lambda: self._move(+1),
            "ArrowLeft": lambda: self._move(-1),
        }
        actions.get(key, lambda: None)()

    def _mark_example(self, group_id: int, kind: str) -> None:
        try:
            self._review.set_example(group_id, kind or None)
        except NeurodeckError as exc:
            self._message[:] = [text_alert(exc, alert_type="danger")]
            return
        self._table.set_example(group_id, kind)

    def _edit_and_rejudge(self, group_id: int, units: list[str]) -> None:
        keep = tuple(u for u in self._review.group(group_id).unit_ids if str(u) in set(units))
        try:
            edited = self._review.edit_group(group_id, keep)
        except NeurodeckError as exc:
            self._message[:] = [text_alert(exc, alert_type="danger")]
            return
        self._message[:] = [
            text_alert(
                f"Group {edited.group_id} made from group {group_id} "
                f"(units {', '.join(map(str, edited.unit_ids))}); judging it.",
                alert_type="info",
            )
        ]
        self.refresh()
        self.group = edited.group_id
        if self._on_rejudge is not None:
            self._on_rejudge([edited.group_id])

    def _previous_page(self, _event: param.parameterized.Event | None) -> None:
        """A page button, like a key: acted on on the session's thread, one press at a time."""
        run_on_session_thread(self._doc, lambda: self._locked(lambda: self._turn_page(-1)))

    def _next_page(self, _event: param.parameterized.Event | None) -> None:
        run_on_session_thread(self._doc, lambda: self._locked(lambda: self._turn_page(+1)))

    def _turn_page(self, step: int) -> None:
        last = max(0, (len(self._shown) - 1) // CARDS_PER_PAGE)
        self.page_number = max(0, min(self.page_number + step, last))

    def __panel__(self) -> pn.viewable.Viewable:
        previous_page = pn.widgets.Button(name="◀ page", width=80)
        next_page = pn.widgets.Button(name="page ▶", width=80)
        refresh = pn.widgets.Button(name="Refresh", width=90)
        pager = pn.Row(previous_page, next_page, refresh)
        previous_page.on_click(self._previous_page)
        next_page.on_click(self._next_page)
        refresh.on_click(lambda _e: self.refresh())  # shows what other tabs and reviewers saved
        controls = pn.Row(
            pn.widgets.Select.from_param(self.param.show, name="Show", width=170),
            pn.widgets.Select.from_param(self.param.sort_by, name="Sort by", width=150),
            pn.widgets.FloatSlider.from_param(self.param.min_similarity, name="Min. similarity", width=180),
            pager,
            sizing_mode="stretch_width",
        )
        return pn.Column(
            self._keys,
            controls,
            self._status,
            self._agreement,
            self._message,
            pn.Row(pn.Column(self._cards, width=720), self._detail.view, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
