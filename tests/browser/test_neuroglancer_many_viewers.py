"""Many Neuroglancer viewers on one server, in real Chromium: every one loads, however many came and went
before.

The viewer's proxy once forwarded through tornado's shared HTTP client (10 requests at once) and
never let go of a closed tab's event stream: on a fresh server the Neuroglancer page opened in
ten tabs one after another, each closed before the next, worked, and from the eleventh on the
viewer was dead for every user (``502 ... Timeout in request queue``). Here one fresh server sees
the page opened and closed 30 times in a row, then 15 tabs open at once; each viewer must get its
state from the server (the demo's position, which only the event stream delivers) and draw. The
viewers of tabs closed long before are gone from the server by then (their address answers 404):
a session's end released its viewer, though neuroglancer's stream handler held it while the old
proxy kept that stream open.
"""

from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import SIGNED_IN, served_app
from tests.browser.test_neuroglancer_page import ViewerProbe

pytestmark = [pytest.mark.browser, pytest.mark.alone]

DEMO_POSITION = [64, 64, 24]
VIEWPORT = {"width": 1100, "height": 800}


@pytest.fixture(scope="module")
def fresh_app(tmp_path_factory, nwb_data_dir) -> str:
    """A server of its own: the eleventh viewer failed only on a server that had seen ten."""
    with served_app(tmp_path_factory.mktemp("many-viewers"), root=nwb_data_dir) as (url, _port):
        yield url


def _viewer_loaded(page: Page, which: str, timeout_s: float = 60) -> None:
    """The real client in the iframe got its state from the server through the proxy, and draws it."""
    viewer = ViewerProbe(page)
    state = viewer.wait(lambda s: s.get("position") == DEMO_POSITION, timeout_s=timeout_s)
    assert state.get("position") == DEMO_POSITION, f"{which} did not load (its state: {state})"
    frame = page.frame_locator("iframe[title='Neuroglancer viewer']").first
    expect(frame.locator("canvas").first).to_be_visible(timeout=timeout_s * 1000)


def _open(context, url: str) -> Page:
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url + "?page=neuroglancer", wait_until="commit")
    return page


def _viewer_address(page: Page, app_url: str) -> str:
    src = page.locator("iframe[title='Neuroglancer viewer']").first.get_attribute("src")
    return app_url + re.search(r"ngv/v/[A-Za-z0-9]+/", src).group(0)


def _still_served(addresses: list[str], timeout_s: float = 60) -> list[str]:
    """The addresses still served after ``timeout_s`` (a session ends 15-30 s after its tab closed)."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [a for a in addresses if requests.get(a, headers=SIGNED_IN, timeout=10).status_code != 404]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(2)


def test_thirty_viewers_one_after_another_then_fifteen_at_once_all_load(webgl_browser, fresh_app: str):
    context = webgl_browser.new_context(viewport=VIEWPORT)
    try:
        started, closed = time.monotonic(), []
        for n in range(30):
            page = _open(context, fresh_app)
            _viewer_loaded(page, f"viewer {n + 1} of 30 in a row")
            closed.append(_viewer_address(page, fresh_app))
            page.close()  # the tab closed before the next one opens
        in_a_row = time.monotonic() - started

        started = time.monotonic()
        pages = [_open(context, fresh_app) for _ in range(15)]
        for n, page in enumerate(pages):
            _viewer_loaded(page, f"viewer {n + 1} of 15 at once", timeout_s=120)
        at_once = time.monotonic() - started
        for page in pages:
            page.close()
        assert not _still_served(closed[:10]), "the viewers of the first tabs closed are still on the server"
        print(f"30 viewers in a row: {in_a_row:.1f} s; 15 at once: {at_once:.1f} s")
    finally:
        context.close()


def test_every_viewer_loads_with_two_server_processes(webgl_browser, tmp_path, nwb_data_dir):
    """``--num-procs 2``: the viewer's requests reach either process, not always the one holding the viewer
    (five
    of six viewers were dead); each process forwards them to the viewer's own."""
    with served_app(tmp_path, "--num-procs", "2", root=nwb_data_dir) as (url, _port):
        for n in range(6):
            context = webgl_browser.new_context(
                viewport=VIEWPORT
            )  # new connections: either process may answer
            try:
                _viewer_loaded(_open(context, url), f"viewer {n + 1} of 6 with two processes")
            finally:
                context.close()
