"""Tables across files in real headless Chromium: a deep link reads a folder of sessions into one table."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import served_app
from tests.support.nwb_files.session_tables import write_session_tables_nwb

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("NEURODECK_SCREENSHOTS", "/tmp/neurodeck-screenshots"))


@pytest.fixture(scope="module")
def sessions_app(tmp_path_factory):
    """The app serving a folder of three generated sessions and one broken file (its only root)."""
    folder = tmp_path_factory.mktemp("study")
    for seed in range(3):
        write_session_tables_nwb(folder / f"session{seed}.nwb", seed=seed, units=20, trials=15)
    (folder / "broken<em>x.nwb").write_bytes(b"<em>not</em> an HDF5 file" * 50)
    with served_app(tmp_path_factory.mktemp("across-workspace"), root=folder) as (url, _port):
        yield url, folder


def test_deep_link_reads_a_folder_into_one_table_with_the_error_listed(page: Page, sessions_app):
    url, folder = sessions_app
    page.goto(f"{url}?across=/intervals/trials&files={quote(str(folder), safe='/')}")
    card = page.locator(".nd-tables-across")
    expect(card.get_by_text(re.compile(r"45 rows from 3 of 4 files; 1 left out"))).to_be_visible()
    for seed in range(3):  # rows of every good session are in the paged table
        expect(card.get_by_text(f"session{seed}.nwb").first).to_be_visible()
    expect(card.get_by_text("broken<em>x.nwb").first).to_be_visible()  # as text, not markup
    expect(card.get_by_text(re.compile("not a readable HDF5 file")).first).to_be_visible()
    expect(card.locator("em")).to_have_count(0)
    card.get_by_role("button", name="Run SQL").click()
    expect(card.get_by_text("3 rows", exact=True)).to_be_visible()
    card.get_by_role("button", name="Plot").click()
    expect(card.locator("canvas").first).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    card.locator("canvas").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "nwb_tables_across.png"))
    assert "across=%2Fintervals%2Ftrials" in page.url or "across=/intervals/trials" in page.url
