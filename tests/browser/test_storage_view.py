"""The storage view in Chromium: a deep link to a badly chunked remote file shows its chunks and the
warning, the button makes a rechunked copy that reads then use, and the Compute page lists the job."""

from __future__ import annotations

import os
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.support.nwb_files.bad_chunks import BAD_CHUNKS_PATH, write_bad_chunks_nwb
from tests.support.range_server import RangeServer

pytestmark = pytest.mark.browser

SCREENSHOT = os.environ.get("NEURODECK_SCREENSHOT_DIR")
"""Where to keep the page's picture for a person to look at (unset: no picture)."""


@pytest.fixture(scope="module")
def bad_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-served")
    write_bad_chunks_nwb(folder / "bad_chunks.nwb", rows=1000)
    with RangeServer(folder) as server:
        yield server


def test_storage_view_by_deep_link_warns_and_the_button_makes_a_copy(page: Page, app_url: str, bad_server):
    source = bad_server.url_for("bad_chunks.nwb")
    page.goto(f"{app_url}?url={quote(source, safe='/:')}&path={BAD_CHUNKS_PATH}&view=storage&t0=0&t1=0.01")
    expect(page.get_by_text("298,022 × 1").first).to_be_visible(timeout=30_000)
    expect(
        page.get_by_text(re.compile(r"touches 96 chunks of 596 KB: 57 MB for 1\.9 KB")).first
    ).to_be_visible()
    expect(page.locator("canvas").first).to_be_visible()  # the chunk grid
    if SCREENSHOT:
        page.screenshot(path=os.path.join(SCREENSHOT, "storage_view_bad.png"), full_page=True)
    page.get_by_role("button", name="Make a rechunked copy").click()
    expect(page.get_by_text("Rechunked copy: ready")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Reads use the rechunked copy").first).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"from the rechunked copy on disk in 0 requests")).first
    ).to_be_visible()
    if SCREENSHOT:
        page.wait_for_timeout(1500)  # the grid's new plot
        page.screenshot(path=os.path.join(SCREENSHOT, "storage_view_copy.png"), full_page=True)

    page.get_by_text(re.compile(r"Compute$")).first.click()
    expect(page).to_have_url(re.compile(r"page=compute"))
    expect(page.get_by_role("row", name=re.compile(r"rechunk.*bad_chunks\.nwb.*done")).first).to_be_visible()
