"""Opening a file whose server never answers never hangs on a spinner (Neurosift #306 "Loading info...").

The page says what it is opening, then the reason once the policy's deadline passes, with a
Retry button; the session stays usable and opens the next file.
"""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import served_app
from tests.support.range_server import RangeServer

pytestmark = pytest.mark.browser

DEADLINE_S = 3


@pytest.fixture
def impatient_app(tmp_path, nwb_data_dir, monkeypatch):
    """The app with a 3-s request deadline, and a server whose /stall/ route stays silent for a minute."""
    monkeypatch.setenv("NEURODECK_REQUEST_TIMEOUT_S", str(DEADLINE_S))
    (tmp_path / "workspace").mkdir()
    with (
        RangeServer(nwb_data_dir, stall_s=60) as server,
        served_app(tmp_path / "workspace", root=nwb_data_dir) as (url, _port),
    ):
        yield url, server
        server.stop_event.set()


def test_a_silent_server_gives_a_reason_and_a_retry_and_the_page_stays_usable(page: Page, impatient_app):
    app_url, server = impatient_app
    silent = server.url_for("stall/silent.nwb")
    page.goto(f"{app_url}?page=nwb&url={quote(silent, safe='/:')}")
    expect(page.get_by_text(re.compile(r"Opening .*stall/silent\.nwb")).first).to_be_visible()
    started = time.monotonic()
    reason = page.get_by_text(re.compile(rf"did not answer within {DEADLINE_S} s"))
    expect(reason.first).to_be_visible(timeout=30_000)
    assert time.monotonic() - started < 25
    expect(page.get_by_text(re.compile(r"Opening .*stall/silent\.nwb"))).to_have_count(0)
    retry = page.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    server.log.clear()
    retry.click()
    expect(page.get_by_text(re.compile(r"Opening .*stall/silent\.nwb")).first).to_be_visible()
    expect(reason.first).to_be_visible(timeout=30_000)
    assert any(path.startswith("/stall/") for path, _, _ in server.log.entries), "Retry asked nothing"
    box = page.get_by_placeholder(re.compile("Local path"))
    box.fill(server.url_for("anm369963.nwb"))
    page.get_by_role("button", name="Open").click()
    expect(page.locator(".nd-name", has_text=re.compile("^units$")).first).to_be_visible()
    expect(reason).to_have_count(0)
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)
