"""The review grid on the demo's review (kept here, next to the demo it needs): a click and a key press at
once.

Panel handles a button click and a key press on two of its threads; each must see the focus
the other left and draw what it left: a move made while the click's drawing ran was once never drawn
(the page kept showing the group before it).
"""

from __future__ import annotations

import base64
import re
import threading
import time

import panel as pn

from components.background import BackgroundWork
from components.curation.grid import CurationGrid


def test_a_click_on_accept_and_a_key_press_at_once_move_twice_and_the_page_shows_where_it_ended(
    review, monkeypatch
):
    review.find_candidates()
    grid = CurationGrid(review, BackgroundWork())
    order = list(grid._shown)
    assert grid.group == order[0]
    agreement = grid._table.agreement

    def slow_agreement():  # a busy server: drawing after the click takes a while
        time.sleep(0.3)
        return agreement()

    monkeypatch.setattr(grid._table, "agreement", slow_agreement)  # worked out after each verdict
    view = pn.panel(grid)
    accept = next(b for b in view.select(pn.widgets.Button) if b.name == "Accept (a)")
    click = threading.Thread(target=lambda: setattr(accept, "clicks", accept.clicks + 1))
    click.start()
    time.sleep(0.1)
    grid._keys._handle_msg({"key": "ArrowRight"})  # the message the page's key listener sends
    click.join()
    verdicts = review.table().set_index("group_id")["verdict"]
    assert {group: verdict for group, verdict in verdicts.items() if verdict} == {order[0]: "accept"}
    assert grid.group == order[2]  # accepted and moved on, then moved once more
    focused = [
        re.search(r"nd-group-\d+", pane.object).group()
        for card in view.select(pn.Column)
        if "#1f77b4" in (card.styles or {}).get("border", "")
        for pane in card.select(pn.pane.HTML)
        if "nd-group-card" in pane.object
    ]
    headings = [
        m.object.split(":")[0] for m in view.select(pn.pane.Markdown) if str(m.object).startswith("### Group")
    ]
    assert focused == [f"nd-group-{order[2]}"] and headings == [
        f"### Group {order[2]}"
    ]  # the page shows it too


def test_the_detail_shows_each_focused_groups_own_images(review):
    """Moving on redraws the detail's pictures with the new group's images (in the pane already on the
    page)."""
    review.find_candidates()
    grid = CurationGrid(review, BackgroundWork())  # outside a server: images are drawn inline
    view = pn.panel(grid)
    first = grid.group
    assert _detail_pictures(view) == _pictures_of(review, first)
    grid._keys._handle_msg({"key": "ArrowRight"})
    second = grid.group
    assert second != first
    assert _detail_pictures(view) == _pictures_of(review, second) != _pictures_of(review, first)


def _detail_pictures(view) -> list[str]:
    """The base64 data of the pictures the detail shows, in order."""
    (pane,) = [p for p in view.select(pn.pane.HTML) if "nd-detail-pictures" in str(p.object)]
    return re.findall(r'src="data:image/png;base64,([^"]+)"', pane.object)


def _pictures_of(review, group_id: int) -> list[str]:
    return [base64.b64encode(p.read_bytes()).decode() for p in review.group_images(group_id).values()]


def test_least_sure_first_puts_the_groups_nearest_a_coin_toss_first(review):
    """The ordering a reviewer picks to spend their time where the judge is least sure."""
    review.find_candidates()
    review.judge("metrics")
    grid = CurationGrid(review, BackgroundWork())
    grid.sort_by = "least sure first"
    table = review.table().set_index("group_id")
    doubt = [abs(table.loc[g, "p_merge"] - 0.5) for g in grid._shown]
    raw = [abs(table.loc[g, "score"] - 0.5) for g in grid._shown]
    assert len(grid._shown) == len(table) and grid.group == grid._shown[0]
    assert all((d1, r1) <= (d2, r2) for d1, r1, d2, r2 in zip(doubt, raw, doubt[1:], raw[1:]))
    assert doubt[0] == min(doubt)


def test_the_judges_report_shows_the_focused_groups_own_report_once_opened(review):
    """The report is rendered when its card is opened (not on every move), and follows the focus while
    open."""
    review.find_candidates()
    review.judge("metrics")
    grid = CurationGrid(review, BackgroundWork())
    view = pn.panel(grid)
    (card,) = [c for c in view.select(pn.Card) if c.title == "Judge's report"]
    (report,) = card.objects

    def report_of(group_id: int) -> str:
        return review.decisions()[group_id].report

    first = grid.group
    card.collapsed = False
    assert report_of(first) and report_of(first).splitlines()[0] in report.object
    grid._keys._handle_msg({"key": "ArrowRight"})
    second = report_of(grid.group)
    assert second.splitlines()[0] in report.object and second != report_of(first)
