"""Every page loads from the app's own origin alone: no CDN, no font service, nothing a third party sees.

Real Chromium against the served app, offline like a lab machine behind a firewall: every request
a page makes (its frames, the Neuroglancer iframe and its workers, websockets) is recorded until
the page goes quiet, and each must go to the app's host and port. The chat's icons are drawn
with the Tabler webfont, which must come from the app and load.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PAGES = ["nwb&assistant=1", "curation", "training", "compute"]


class RequestLog:
    """Every address a page asked for, its frames and workers included, with the time of the latest."""

    def __init__(self, page: Page) -> None:
        self.urls: list[str] = []
        self.last = time.monotonic()
        page.on("request", lambda request: self._add(request.url))
        page.on("websocket", lambda socket: self._add(socket.url))

    def _add(self, url: str) -> None:
        self.urls.append(url)
        self.last = time.monotonic()

    def wait_quiet(self, quiet_s: float = 2.0, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() - self.last < quiet_s and time.monotonic() < deadline:
            time.sleep(0.2)

    def elsewhere(self, origin: str) -> list[str]:
        """Requests that did not go to ``origin`` (``blob:`` and ``data:`` addresses are the page's own)."""
        host = urlparse(origin).netloc
        return sorted(
            {
                url
                for url in self.urls
                if not url.startswith(("blob:", "data:")) and urlparse(url).netloc != host
            }
        )


def _tabler_font(page: Page) -> str:
    return page.evaluate(
        "() => [...document.fonts].filter(f => f.family.replaceAll('\"', '') === 'tabler-icons')"
        ".map(f => f.status).join(',')"
    )


@pytest.mark.parametrize("name", PAGES)
def test_a_page_asks_no_one_but_the_app(page: Page, app_url: str, name: str):
    log = RequestLog(page)
    page.goto(f"{app_url}?page={name}")
    expect(page.locator(".nd-pages").first).to_be_visible(timeout=60_000)
    log.wait_quiet()
    assert log.urls, "no request was recorded"
    assert not log.elsewhere(app_url), f"requests to other hosts: {log.elsewhere(app_url)}"


def test_the_neuroglancer_page_and_its_viewer_come_from_the_app_with_icons_drawn(
    webgl_page: Page, app_url: str
):
    page = webgl_page
    log = RequestLog(page)
    page.goto(f"{app_url}?page=neuroglancer")
    expect(page.get_by_placeholder(re.compile(r"^e\.g\. go to"))).to_be_visible(timeout=60_000)
    viewer = page.frame_locator("iframe[title='Neuroglancer viewer']").first
    expect(viewer.locator("canvas").first).to_be_attached(timeout=60_000)
    deadline = time.monotonic() + 30
    while _tabler_font(page) != "loaded" and time.monotonic() < deadline:
        time.sleep(0.2)
    log.wait_quiet()
    assert _tabler_font(page) == "loaded", "the chat's icon font did not load"
    fonts = [url for url in log.urls if "tabler-icons" in url and ".woff" in url]
    assert fonts and all(url.startswith(app_url) for url in fonts), fonts
    assert any("/ngv/v/" in url for url in log.urls), "the viewer's client was not loaded through the app"
    assert not log.elsewhere(app_url), f"requests to other hosts: {log.elsewhere(app_url)}"
