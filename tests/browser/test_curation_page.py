"""The Curation review page in headless Chromium: keyboard review, verdicts that survive reloads and tabs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

READY = re.compile(r"\d+ units · (\d+) candidate groups · (\d+) judged")
FOCUS = re.compile(r"^Group (\d+): units")


def _open(page: Page, app_url: str, query: str = "") -> None:
    page.goto(app_url + "?page=curation" + query)
    # The first visit generates the demo recording, its analyzer, candidates and metrics decisions.
    expect(page.get_by_text(READY).first).to_be_visible(timeout=240_000)
    expect(page.get_by_text(FOCUS).first).to_be_visible(timeout=60_000)


def _focused(page: Page) -> int:
    """The focused group's id (the detail panel redraws as focus moves: read it once it has settled)."""
    for _ in range(50):
        found = re.search(r"Group (\d+): units", page.get_by_text(FOCUS).first.inner_text())
        if found:
            return int(found.group(1))
        page.wait_for_timeout(200)
    raise AssertionError("no group in focus")


def _verdict_of(page: Page, group: int) -> str:
    """The card's "you: …" verdict, read once the card has settled (a card being redrawn reads as empty)."""
    text = ""
    for _ in range(50):
        text = page.locator(f".nd-group-{group}").first.get_by_text(re.compile(r"you: ")).first.inner_text()
        found = re.search(r"you: (\S+)", text)
        if found:
            return found.group(1)
        page.wait_for_timeout(200)
    raise AssertionError(f"group {group}'s card shows no verdict line: {text!r}")


def test_keyboard_review_with_undo_and_a_reload_keeps_the_verdicts(page: Page, app_url: str):
    _open(page, app_url, "&show=all")
    first = _focused(page)
    page.keyboard.press("a")  # accept: saved at once, focus moves on
    expect(page.get_by_text(FOCUS).first).not_to_have_text(re.compile(rf"^Group {first}:"))
    second = _focused(page)
    page.keyboard.press("r")
    expect(page.get_by_text(FOCUS).first).not_to_have_text(re.compile(rf"^Group {second}:"))
    third = _focused(page)
    page.keyboard.press("a")
    expect(page.get_by_text(FOCUS).first).not_to_have_text(re.compile(rf"^Group {third}:"))
    page.keyboard.press("u")  # undo the last verdict: back to that group, its verdict gone
    expect(page.get_by_text(FOCUS).first).to_have_text(re.compile(rf"^Group {third}:"))
    expect(page).to_have_url(re.compile(rf"group={third}"))
    page.reload()
    expect(page.get_by_text(READY).first).to_be_visible(timeout=120_000)
    expect(page.get_by_text(FOCUS).first).to_have_text(
        re.compile(rf"^Group {third}:")
    )  # the link kept the focus
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_text(FOCUS).first).to_have_text(re.compile(rf"^Group {first}:"))
    assert _verdict_of(page, first) == "accept" and _verdict_of(page, second) == "reject"
    assert _verdict_of(page, third) == "—"
    expect(page.get_by_text(re.compile(r"Agreement with the judge: \d+ of 2")).first).to_be_visible()


def test_two_tabs_see_each_others_verdicts_after_a_refresh(browser, app_url: str):
    first, second = (
        browser.new_context(viewport={"width": 1500, "height": 1100}),
        browser.new_context(viewport={"width": 1500, "height": 1100}),
    )
    try:
        a, b = first.new_page(), second.new_page()
        _open(a, app_url)
        group = _focused(a)
        _open(b, app_url, f"&group={group}")
        expect(b.get_by_text(FOCUS).first).to_have_text(re.compile(rf"^Group {group}:"))
        b.keyboard.press("r")
        expect(b.locator(f".nd-group-{group}").first).to_contain_text(
            "you: reject"
        )  # saved before the next one
        a.keyboard.press("a")  # both reviewers answer the same group; each verdict is its own row
        expect(a.locator(f".nd-group-{group}").first).to_contain_text("you: accept")
        b.get_by_role("button", name="Refresh").click()
        expect(b.locator(f".nd-group-{group}").first).to_contain_text(
            "you: accept"
        )  # the latest saved verdict
        a.get_by_role("button", name="Refresh").click()
        assert _verdict_of(a, group) == _verdict_of(b, group) == "accept"
    finally:
        first.close()
        second.close()


def test_two_reviewers_verdicts_are_kept_apart_and_their_kappa_shown(browser, tmp_path, nwb_data_dir):
    """Alice and Bob review the same three groups (accept, reject, accept / accept, reject, reject): Cohen's
    kappa 0.4 over 3 groups, beside each one against the judge, in the Reviewers tab."""
    from app.auth import add_password
    from tests.browser.conftest import served_app, signed_in_with_password

    workspace = tmp_path / "ws"
    from tests.support.shared_analyzers import seed_demo

    seed_demo(workspace)
    for name in ("alice", "bob"):
        add_password(workspace / "auth" / "passwords", name, f"{name}'s horse")
    with served_app(workspace, "--auth", "password", root=nwb_data_dir) as (url, _port):
        contexts = []
        try:
            groups = None
            for name, keys in (("alice", "ara"), ("bob", "arr")):
                context = signed_in_with_password(browser, url, name, f"{name}'s horse")
                page = context.new_page()
                contexts.append(context)
                _open(page, url, f"&group={groups[0]}" if groups else "")
                seen = []
                for key in keys:
                    seen.append(_focused(page))
                    page.keyboard.press(key)
                    expect(page.get_by_text(FOCUS).first).not_to_have_text(re.compile(rf"^Group {seen[-1]}:"))
                groups = groups or seen
                assert seen == groups, "both reviewers answered the same groups"
            page.locator(".bk-tab", has_text="Reviewers").click()
            page.get_by_role("button", name="Refresh").last.click()
            expect(page.get_by_text(re.compile(r"Reviewers.*alice \(3\), bob \(3\)")).first).to_be_visible()
            expect(page.get_by_text("alice and bob").first).to_be_visible()
            row = page.locator(".tabulator-row", has_text="alice and bob").first
            expect(row).to_contain_text("0.40")
            expect(page.get_by_text("bob and the judge").first).to_be_visible()
            consensus = re.compile(r"Consensus over 3 groups .*1 accept, 1 reject, 1 split")
            expect(page.get_by_text(consensus).first).to_be_visible()
        finally:
            for context in contexts:
                context.close()


def test_least_sure_first_and_the_demo_s_reliability_diagram(page: Page, app_url: str):
    _open(page, app_url)
    page.get_by_label("Sort by").select_option("least sure first")
    cards = page.locator(".nd-curation-cards").first
    expect(cards).to_contain_text("P(merge)")
    percents = []
    for _ in range(50):  # the cards redraw in the new order: read them once every card shows one
        percents = [int(p) for p in re.findall(r"P\(merge\) (\d+)%", cards.inner_text())]
        if len(percents) == cards.locator("[class*=nd-group-]").count() and percents:
            break
        page.wait_for_timeout(200)
    doubts = [abs(p - 50) for p in percents]
    assert doubts == sorted(doubts), percents
    page.locator(".bk-tab", has_text="Calibration").click()
    expect(page.get_by_text("Calibration on this demo").first).to_be_visible(timeout=30_000)
    expect(
        page.get_by_text(re.compile(r"Expected calibration error \(10 bins\): 0\.\d{3}")).first
    ).to_be_visible()
    expect(page.get_by_text("perfect calibration").first).to_be_visible()  # the plot's legend
    boxes = [canvas.bounding_box() for canvas in page.locator("canvas").all()]
    assert any(box and box["width"] >= 400 and box["height"] >= 350 for box in boxes), boxes  # 460 x 400
