"""The NWB page in real headless Chromium: what a user sees and does."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.support.range_server import RangeServer

pytestmark = pytest.mark.browser

ECEPHYS = "pynwb-types/test_ElectricalSeries.nwb"
RASTER_STATUS = re.compile(r"spikes · (individual spikes|datashaded spikes|density from pyramid)")


def _link(app_url: str, **params: str) -> str:
    return app_url + "?" + "&".join(f"{k}={quote(v, safe='/:')}" for k, v in params.items())


def _tree_node(page: Page, name: str):
    return page.locator(".nd-name", has_text=re.compile(f"^{re.escape(name)}$")).first


def test_app_opens_bundled_demo_file(page: Page, app_url: str):
    page.goto(app_url)
    expect(page.get_by_text("Neurodeck").first).to_be_visible()
    expect(page.get_by_text("sub-4_ses-4_ecephys+image.nwb").first).to_be_visible()
    expect(page.get_by_text("Session", exact=True).first).to_be_visible()
    expect(_tree_node(page, "units")).to_be_visible()


def test_deep_link_opens_remote_file_object_and_view(page: Page, app_url: str, range_server):
    url = range_server.url_for(ECEPHYS)
    page.goto(_link(app_url, url=url, path="/acquisition/test_eS", view="hdf5"))
    expect(page.get_by_text("test_ElectricalSeries.nwb").first).to_be_visible()
    expect(page.get_by_text("neurodata type").first).to_be_visible()
    expect(page.get_by_text("ElectricalSeries").first).to_be_visible()


def test_clicking_tree_shows_plot(page: Page, app_url: str):
    page.goto(app_url)
    _tree_node(page, "units").click()
    expect(page.get_by_text(RASTER_STATUS).first).to_be_visible()
    expect(page.locator("canvas").first).to_be_visible()
    assert "path=/units" in page.url


def test_zooming_traces_reads_a_new_window(page: Page, app_url: str, range_server):
    page.goto(_link(app_url, url=range_server.url_for(ECEPHYS), path="/acquisition/test_eS", view="traces"))
    status = page.get_by_text(re.compile(r"^Window ")).first
    expect(status).to_be_visible()
    before = status.inner_text()
    page.get_by_role("button", name="Zoom in").click()
    expect(status).not_to_have_text(before)
    after_button = status.inner_text()
    box = page.locator("canvas").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 400)
    expect(status).not_to_have_text(after_button)


def test_invalid_url_shows_error_and_app_stays_usable(page: Page, app_url: str, range_server):
    page.goto(app_url)
    box = page.get_by_placeholder(re.compile("Local path"))
    box.fill(range_server.url_for("status/404"))
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_text(re.compile(r"No file at .*404")).first).to_be_visible()
    expect(_tree_node(page, "units")).to_be_visible()  # the previous file is still browsable
    assert "status/404" not in page.url  # the address still names the file on screen
    box.fill(range_server.url_for("anm369963.nwb"))
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_text("anm369963.nwb").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"No file at .*404"))).to_have_count(0)


def test_missing_object_in_deep_link_shows_message(page: Page, app_url: str):
    page.goto(_link(app_url, path="/acquisition/does_not_exist"))
    expect(page.get_by_text(re.compile("no object at '/acquisition/does_not_exist'")).first).to_be_visible()
    _tree_node(page, "units").click()
    expect(page.get_by_text(RASTER_STATUS).first).to_be_visible()


def test_back_button_restores_previous_object(page: Page, app_url: str):
    page.goto(app_url)
    _tree_node(page, "units").click()
    expect(page.get_by_text(RASTER_STATUS).first).to_be_visible()
    _tree_node(page, "intervals").click()
    _tree_node(page, "encoding_table").click()
    expect(page).to_have_url(re.compile(r"path=/intervals/encoding_table"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"path=/intervals&"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"path=/units"))
    expect(page.get_by_text(RASTER_STATUS).first).to_be_visible()


def test_app_works_inside_iframe_of_another_origin(page: Page, app_url: str, tmp_path: Path):
    src = _link(app_url, path="/units", embedded="1")
    (tmp_path / "host.html").write_text(
        f"<html><body><h1>Lab site</h1><iframe src='{src}' width='1300' height='900'></iframe></body></html>"
    )
    with RangeServer(tmp_path) as other_origin:
        page.goto(other_origin.url_for("host.html"))
        frame = page.frame_locator("iframe")
        expect(frame.get_by_text(RASTER_STATUS).first).to_be_visible()
        expect(frame.locator(".nd-logo")).to_be_hidden()


def test_two_sessions_do_not_share_state(browser, app_url: str, range_server):
    first, second = browser.new_context(), browser.new_context()
    try:
        a, b = first.new_page(), second.new_page()
        a.goto(app_url)
        b.goto(app_url)
        expect(_tree_node(a, "units")).to_be_visible()
        expect(_tree_node(b, "units")).to_be_visible()
        box = a.get_by_placeholder(re.compile("Local path"))
        box.fill(range_server.url_for("anm369963.nwb"))
        a.get_by_role("button", name="Open").click()
        expect(a.get_by_text("anm369963.nwb").first).to_be_visible()
        _tree_node(b, "units").click()
        expect(b.get_by_text(RASTER_STATUS).first).to_be_visible()
        expect(b.get_by_text("sub-4_ses-4_ecephys+image.nwb").first).to_be_visible()
        expect(b.get_by_text("anm369963.nwb")).to_have_count(0)
    finally:
        first.close()
        second.close()
