"""The platform in real headless Chromium: page-owned deep links, a shared time window, stall isolation."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psutil
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import CHROMIUM_ARGS, served_app, sign_in_every_context
from tests.support.range_server import RangeServer

pytestmark = pytest.mark.browser

RASTER_WINDOW = re.compile(r"^(\d+\.\d\d) – (\d+\.\d\d) s · [\d,]+ spikes")


def _link(app_url: str, **params: str) -> str:
    return app_url + "?" + "&".join(f"{k}={quote(v, safe='/:,')}" for k, v in params.items())


def _tree_node(page: Page, name: str):
    return page.locator(".nd-name", has_text=re.compile(f"^{re.escape(name)}$")).first


def _raster_window(page: Page) -> tuple[float, float]:
    status = page.get_by_text(RASTER_WINDOW).first
    expect(status).to_be_visible()
    match = RASTER_WINDOW.match(status.inner_text())
    return float(match.group(1)), float(match.group(2))


def test_views_of_one_file_share_the_time_window(page: Page, app_url: str):
    page.goto(_link(app_url, path="/units", t0="120", t1="130"))
    expect(page.get_by_text(re.compile(r"^120\.00 – 130\.00 s · [\d,]+ spikes")).first).to_be_visible()
    _tree_node(page, "acquisition").click()
    _tree_node(page, "experiment_ids").click()  # an event series: its events of the same window
    expect(page.get_by_text(re.compile(r"^120\.00 – 130\.00 s · [\d,]+ events")).first).to_be_visible()
    page.get_by_role(
        "button", name="Traces", exact=True
    ).click()  # the same series as a line: the same window
    status = page.get_by_text(re.compile(r"^Window ")).first
    expect(status).to_contain_text("Window 120.000 – 130.000 s")
    page.get_by_role("button", name="Zoom in").click()  # 122.5 - 127.5
    expect(status).to_contain_text("Window 122.500 – 127.500 s")
    expect(page).to_have_url(re.compile(r"t0=122\.5&t1=127\.5"))
    _tree_node(page, "units").click()
    expect(page.get_by_text(re.compile(r"^122\.50 – 127\.50 s · [\d,]+ spikes")).first).to_be_visible()
    _tree_node(page, "intervals").click()
    _tree_node(page, "encoding_table").click()
    expect(page).to_have_url(re.compile(r"path=/intervals/encoding_table.*t0=122\.5"))
    page.go_back()  # zooms replaced their history entry: Back goes to the previous object, same window
    expect(page).to_have_url(re.compile(r"path=/intervals&"))


def test_a_copied_address_reopens_the_same_picture(browser, app_url: str):
    first = browser.new_context(viewport={"width": 1400, "height": 1000})
    second = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        a = first.new_page()
        a.goto(_link(app_url, path="/units", t0="300", t1="360"))
        assert _raster_window(a) == (300.0, 360.0)
        picker = a.locator("input.choices__input--cloned").first  # the unit picker (Choices.js)
        picker.click()
        picker.fill("3")
        a.get_by_role("option", name="3", exact=True).click()
        expect(a).to_have_url(re.compile(r"units=3"))
        expect(a.get_by_text(re.compile(r"1 picked unit\(s\)")).first).to_be_visible()
        b = second.new_page()
        b.goto(a.url)
        assert _raster_window(b) == (300.0, 360.0)
        expect(b.get_by_text(re.compile(r"1 picked unit\(s\)")).first).to_be_visible()
    finally:
        first.close()
        second.close()


def test_invalid_link_values_show_a_message_and_fall_back(page: Page, app_url: str):
    page.goto(_link(app_url, path="/units", view="movie", t0="soon", t1="130", channels="1,x"))
    expect(page.get_by_text(re.compile(r"t0='soon'.*not valid")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"channels='1,x'.*not valid")).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"The view 'movie' cannot show '/units'")).first).to_be_visible()
    _raster_window(page)  # the raster is shown with its default window


def test_each_page_keeps_its_own_state_across_tabs_and_history(page: Page, app_url: str):
    page.goto(_link(app_url, path="/units"))
    _raster_window(page)
    page.locator(".bk-tab", has_text="Compute").click()
    expect(page).to_have_url(re.compile(r"\?page=compute$"))
    expect(page.get_by_text("Workers").first).to_be_visible()
    page.go_back()
    expect(page).to_have_url(re.compile(r"page=nwb&path=/units"))
    _raster_window(page)
    page.go_forward()
    expect(page).to_have_url(re.compile(r"\?page=compute$"))
    # The address changes at once; the tab when the server has answered: click when a person would.
    expect(page.get_by_text("Workers").first).to_be_visible()
    page.locator(".bk-tab", has_text="NWB browser").click()
    expect(page).to_have_url(re.compile(r"page=nwb&path=/units"))  # switching tabs kept the NWB page's state
    _raster_window(page)


@pytest.fixture
def stalling_app(tmp_path, nwb_data_dir, monkeypatch):
    """An app whose remote reads wait 5 minutes, and a server that stays silent until told to answer.

    With the usual 10-s timeout, the 12 stalled sessions (rendered one after another on a 2-core
    machine) time out and redraw around the moment of the click, and what would be measured is that
    burst of redrawing, not a stall. Here they are all still waiting when the click comes.
    """
    monkeypatch.setenv("NEURODECK_REQUEST_TIMEOUT_S", "300")
    (tmp_path / "workspace").mkdir()
    with (
        RangeServer(nwb_data_dir, stall_s=300) as silent,
        served_app(tmp_path / "workspace", root=nwb_data_dir) as (url, _port),
    ):
        yield url, silent


@contextmanager
def other_users_browser(
    playwright_driver, chromium_path
) -> Iterator[tuple[Browser, Callable[[], list[psutil.Process]]]]:
    """A second Chromium for the other users' pages, and a function listing its processes now (to pause
    them: see below). Chromium starts a renderer for each page it opens, so the list is taken when asked:
    one taken at launch would leave every page's renderer running."""
    before = {p.pid for p in psutil.process_iter()}
    browser = sign_in_every_context(
        playwright_driver.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    )
    launched = [
        p for p in psutil.process_iter(["name"]) if p.pid not in before and "chrom" in (p.info["name"] or "")
    ]

    def processes() -> list[psutil.Process]:
        found = {p.pid: p for p in launched if p.is_running()}
        for process in list(found.values()):
            for child in process.children(recursive=True):
                found.setdefault(child.pid, child)
        return list(found.values())

    try:
        yield browser, processes
    finally:
        browser.close()


@pytest.mark.alone  # it times this session beside stalled ones: other tests running beside it would count
def test_a_stalled_server_in_other_sessions_never_slows_this_one(
    browser, playwright_driver, chromium_path, stalling_app
):
    """12 sessions open files on a server that accepts connections and never answers; a click here stays fast.

    The 12 stalled pages run in their own Chromium, paused while the click is measured: each draws a loading
    animation in software, and 12 of them take this machine's two cores, where other users' browsers would
    run on their own machines. Paused, their sessions and sockets stay open on the server.
    """
    app_url, silent = stalling_app
    mine = browser.new_context(viewport={"width": 1400, "height": 1000})
    with other_users_browser(playwright_driver, chromium_path) as (theirs, their_processes_now):
        page = mine.new_page()
        page.goto(app_url)
        _tree_node(page, "units").click()  # once before: what is measured is the other sessions' effect,
        expect(page.get_by_text(RASTER_WINDOW).first).to_be_visible()  # not a first raster's one-off costs
        _tree_node(page, "intervals").click()
        expect(page).to_have_url(re.compile(r"path=/intervals"))
        stalled = []
        for i in range(12):
            other = theirs.new_context(viewport={"width": 800, "height": 600}).new_page()
            other.goto(_link(app_url, url=silent.url_for(f"stall/{i}.nwb")), wait_until="commit")
            stalled.append(other)
        for other in stalled:
            expect(other.get_by_placeholder(re.compile("Local path"))).to_be_visible(timeout=30_000)
        waiting = lambda: {path for path, _, _ in list(silent.log.entries)}  # noqa: E731
        deadline = time.monotonic() + 30
        while len(waiting()) < len(stalled) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(waiting()) == len(stalled), "not every other session reached the silent server"
        their_processes = their_processes_now()
        for process in their_processes:
            process.suspend()
        try:
            started = time.monotonic()
            _tree_node(page, "units").click()
            expect(page.get_by_text(RASTER_WINDOW).first).to_be_visible()
            elapsed = time.monotonic() - started
        finally:
            for process in their_processes:
                process.resume()
        print(f"\nraster shown {elapsed:.2f} s after the click, with 12 sessions stalled on a silent server")
        assert elapsed < 2.0, f"the raster took {elapsed:.1f} s while 12 other sessions were stalled"
        silent.stop_event.set()  # the silent server finally answers 504: the stalled sessions say so, no hang
        expect(stalled[0].get_by_text(re.compile(r"answered HTTP 504")).first).to_be_visible(timeout=30_000)
    mine.close()
