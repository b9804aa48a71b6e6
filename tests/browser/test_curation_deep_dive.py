"""The curation page's deep dive in headless Chromium: spikeinterface-gui's views of the group in focus, a
merge made in them saved as the reviewer's verdict, and, on a server without the extra, how to install it."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import served_app

pytestmark = pytest.mark.browser

READY = re.compile(r"\d+ units · \d+ candidate groups · \d+ judged")
SHOWN = re.compile(r"^Group (\d+): units (.+?) · built in")
INSTALL = 'pip install "neurodeck[sigui]"'


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """One workspace for both servers, holding the demo (generated once per machine)."""
    workspace = tmp_path_factory.mktemp("deep-dive-workspace")
    from tests.support.shared_analyzers import seed_demo

    seed_demo(workspace)
    return workspace


def _open_curation(page: Page, url: str) -> None:
    page.goto(url + "?page=curation")
    expect(page.get_by_text(READY).first).to_be_visible(timeout=240_000)  # the deep dive is under the grid


def _elsewhere(url: str) -> bool:
    """A request to a host other than the app's (blob: and data: addresses are the page's own)."""
    parts = urlparse(url)
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1"


def _status(page: Page):
    """The deep dive's status line on screen (a tab left keeps a hidden copy of it)."""
    return page.get_by_text(SHOWN).locator("visible=true").first


def _shown(page: Page) -> tuple[int, list[str]]:
    """The group the deep dive shows and its units, from its status line."""
    text = _status(page).inner_text()
    found = SHOWN.search(text)
    assert found, f"no group shown: {text!r}"
    return int(found.group(1)), [u.strip() for u in found.group(2).split(",")]


def _top_units(table, wanted: list[str]) -> set[str]:
    """The unit ids of the table's first rows (as many as ``wanted``), once it has settled on ``wanted`` (it
    is sorted after it is drawn) or after 10 s."""
    seen: set[str] = set()
    for _ in range(50):
        rows = range(len(wanted))
        seen = {
            table.nth(row).locator("[tabulator-field=unit_id]").inner_text().strip("● \n") for row in rows
        }
        if seen == set(wanted):
            break
        table.page.wait_for_timeout(200)
    return seen


def _select_top_two(page: Page, table) -> None:
    """Click the table's first row and ctrl+click its second, as a person selects the units to merge (again if
    a redraw of the table dropped the selection)."""
    selected = page.locator(".nd-sigui-unitlist .tabulator-row.tabulator-selected")
    for _ in range(3):
        table.nth(0).locator("[tabulator-field=channel_id]").click()
        table.nth(1).locator("[tabulator-field=channel_id]").click(modifiers=["Control"])
        try:
            expect(selected).to_have_count(2, timeout=5_000)
            return
        except AssertionError:
            continue
    expect(selected).to_have_count(2)


def test_spikeinterface_gui_shows_the_group_follows_the_grid_and_its_merge_is_my_verdict(
    browser, workspace: Path, tmp_path: Path
):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    elsewhere: list[str] = []
    page.on("request", lambda r: elsewhere.append(r.url) if _elsewhere(r.url) else None)
    try:
        with served_app(workspace) as (url, _port):
            _open_curation(page, url)
            page.get_by_role("button", name="Open in spikeinterface-gui").click()
            expect(_status(page)).to_be_visible(timeout=60_000)
            group, units = _shown(page)
            for title in ("Waveforms", "Probe map", "Spike list", "Traces"):
                expect(page.get_by_text(title, exact=True).first).to_be_visible()
            expect(page.get_by_text("PCA needs the principal_components extension").first).to_be_visible()
            table = page.locator(".nd-sigui-unitlist .tabulator-row")
            expect(table.first).to_be_visible()
            assert _top_units(table, units) == set(units)  # the group's units on top of the table
            expect(page.locator(".nd-sigui-spikelist").get_by_text("visible: ").first).not_to_contain_text(
                "visible: 0 "
            )
            for name in ("waveform", "probe", "trace"):  # each plot drawn at a readable size
                box = page.locator(f".nd-sigui-{name} canvas").first.bounding_box()
                assert box and box["width"] > 400 and box["height"] > 250, (name, box)
            page.screenshot(path=str(tmp_path / "deep-dive.png"), full_page=True)

            _select_top_two(page, table)
            page.locator(".nd-sigui-unitlist").get_by_role("button", name="Merge", exact=True).click()
            expect(page.get_by_text(re.compile(rf"Saved: group {group} accepted")).first).to_be_visible()

            expect(page.locator(f".nd-group-{group}").first).to_contain_text("you: accept")  # the grid knows
            page.keyboard.press("ArrowRight")  # the grid moves on; the deep dive follows
            expect(_status(page)).not_to_have_text(re.compile(rf"^Group {group}:"))
            following, now_shown = _shown(page)
            expect(page).to_have_url(re.compile(rf"group={following}\b"))
            assert _top_units(table, now_shown) == set(now_shown)
            page.screenshot(path=str(tmp_path / "deep-dive-followed.png"), full_page=True)
    finally:
        context.close()
    assert not elsewhere, "\n".join(elsewhere)  # no CDN: React, fonts and scripts all come from the app


def test_without_spikeinterface_gui_the_deep_dive_says_how_to_install_it(browser, workspace: Path, tmp_path):
    stand_in = tmp_path / "no-sigui"
    stand_in.mkdir()
    (stand_in / "spikeinterface_gui.py").write_text("raise ImportError('spikeinterface-gui is not here')\n")
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    try:
        with served_app(workspace, env={"PYTHONPATH": str(stand_in)}) as (url, _port):
            _open_curation(page, url)
            button = page.get_by_role("button", name=f"Deep dive needs {INSTALL}")
            expect(button).to_be_visible(timeout=30_000)
            expect(button).to_be_disabled()
            expect(page.get_by_text("spikeinterface-gui could not be imported").first).to_contain_text(
                INSTALL
            )
            button.scroll_into_view_if_needed()
            page.screenshot(path=str(tmp_path / "deep-dive-missing.png"))
    finally:
        context.close()
