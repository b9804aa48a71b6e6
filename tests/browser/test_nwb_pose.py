"""The pose view in real headless Chromium, opened by deep link on a file served over HTTP range requests."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.support.nwb_files.pose import NODES, POSE_PATH, write_pose_nwb
from tests.support.range_server import RangeServer
from tests.support.xss import XssSweep

pytestmark = pytest.mark.browser

SKELETON_CYAN = np.array([0, 229, 255])
BRIGHT = 230


@pytest.fixture(scope="module")
def pose_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pose-files")
    write_pose_nwb(folder / "pose.nwb")
    with RangeServer(folder) as server:
        yield server, folder


def _open_pose(page: Page, app_url: str, file_url: str, extra: str = "") -> None:
    query = f"?page=nwb&url={quote(file_url, safe='/:')}&path={quote(POSE_PATH)}&view=pose{extra}"
    page.goto(app_url + query)
    expect(page.get_by_text(re.compile(r"rows read")).first).to_be_visible()


def test_deep_link_shows_nodes_and_the_skeleton_over_the_frame(page: Page, app_url: str, pose_server):
    server, _ = pose_server
    _open_pose(page, app_url, server.url_for("pose.nwb"), "&t0=4.5&t1=5.5")
    expect(page.get_by_text(re.compile(r"Window 4\.500 – 5\.500 s")).first).to_be_visible()
    expect(page.get_by_text("frame 151 of 300").first).to_be_visible()  # the window's centre, 5 s
    for node in NODES:
        expect(page.get_by_role("cell", name=re.compile(rf"{node}$")).first).to_be_visible()
    assert "view=pose" in page.url
    canvas = page.locator("canvas").first
    expect(canvas).to_be_visible()
    page.wait_for_timeout(500)  # Bokeh paints after the models arrive
    pixels = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(int)
    cyan = (np.abs(pixels - SKELETON_CYAN).sum(axis=2) < 60).sum()
    bright = (np.abs(pixels - BRIGHT).max(axis=2) < 12).sum()
    assert cyan > 200, "the skeleton's edges are not drawn"
    assert bright > 50, "the video frame (a bright square under the nose) is not drawn"


def test_crafted_node_names_show_as_text(page: Page, app_url: str, pose_server):
    server, folder = pose_server
    sweep = XssSweep()
    crafted = sweep.payload("pose node name")
    write_pose_nwb(folder / "crafted.nwb", node_names=[crafted, "b", "c", "d"])
    sweep.arm(page)
    _open_pose(page, app_url, server.url_for("crafted.nwb"))
    expect(page.get_by_role("cell", name=crafted).first).to_be_visible()
    assert sweep.collect(page) == []
