"""Offline by default: every page, each of its tabs shown in turn, asks nothing of any host but the app's own.

A request to a CDN or any other host leaks to a third party who looks at a page and breaks the page on an
offline machine. Panel points a pane's stylesheets at its CDN when the pane is updated while it is not on the
page (a hidden tab of ``Tabs(dynamic=True)``): the curation page's tabs are filled while hidden.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

LOADED = {
    "nwb": lambda page: page.locator(".nd-name", has_text=re.compile("^units$")).first,
    "curation": lambda page: (
        page.get_by_text(re.compile(r"\d+ units · \d+ candidate groups · \d+ judged")).first
    ),
    "training": lambda page: page.get_by_role("combobox", name="Data", exact=True),
    "neuroglancer": lambda page: (
        page.frame_locator("iframe[title='Neuroglancer viewer']").first.locator("canvas").first
    ),
}


def _recorded(page: Page) -> list[str]:
    """Every address the page and its frames ask for, from now on."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    return asked


SHELL_TABS = re.compile(r"NWB browser|Neuroglancer \+ chat|Curation review|Training$|Compute$")
"""The app's own page tabs (clicking one leaves the page under test)."""


def _show_every_tab(page: Page) -> list[str]:
    """Click each of the page's tabs in turn (Bokeh's tab headers have no ARIA role)."""
    headers = page.locator(".bk-tab")
    names = [name for name in headers.all_inner_texts() if not SHELL_TABS.search(name)]
    for name in names:
        page.locator(".bk-tab", has_text=re.compile(f"^{re.escape(name)}$")).first.click()
        page.wait_for_timeout(1500)  # the tab's first render and what it loads
    return names


@pytest.mark.parametrize("page_name", sorted(LOADED))
def test_every_tab_of_the_page_asks_only_the_app_s_own_host(page: Page, app_url: str, page_name: str):
    asked = _recorded(page)
    page.goto(f"{app_url}?page={page_name}")
    expect(LOADED[page_name](page)).to_be_visible(timeout=240_000)
    page.wait_for_timeout(3000)  # work the page does once loaded (tabs filled while hidden)
    shown = _show_every_tab(page)
    app = urlsplit(app_url).netloc
    elsewhere = sorted(
        {
            url
            for url in asked
            if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != app
        }
    )
    assert not elsewhere, f"the {page_name} page (tabs shown: {shown}) asked other hosts: {elsewhere}"
    assert asked, "no request was seen at all"
