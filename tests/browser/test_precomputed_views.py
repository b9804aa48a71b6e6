"""Precomputed products in the browser: the density raster from its job, zooming to spikes, the Compute
page."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_units_raster_uses_density_job_and_zooms_to_spikes(page: Page, app_url: str, range_server):
    # A URL no other test opens, so its spike-density job is new.
    source = range_server.url_for("sub-4_ses-4_ecephys+image.nwb")
    page.goto(f"{app_url}?url={quote(source, safe='/:')}&path=/units&view=raster")
    expect(page.get_by_text(re.compile(r"^Spike density pyramid: ")).first).to_be_visible()
    expect(page.get_by_text("Spike density pyramid: ready")).to_be_visible(timeout=60_000)
    status = page.get_by_text(re.compile(r"density from pyramid level \d")).first
    expect(status).to_be_visible()
    canvas = page.locator("canvas").first
    box = canvas.bounding_box()
    for _ in range(25):
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
        page.mouse.wheel(0, -600)
        page.wait_for_timeout(700)
        if page.get_by_text(re.compile(r"· individual spikes ·")).count():
            break
    expect(page.get_by_text(re.compile(r"· individual spikes ·")).first).to_be_visible()

    page.get_by_text(re.compile(r"Compute$")).first.click()
    expect(page).to_have_url(re.compile(r"page=compute"))
    row = page.get_by_role(
        "row", name=re.compile(r"spike-density.*sub-4_ses-4_ecephys\+image\.nwb.*units.*done")
    )
    expect(row.first).to_be_visible()


def test_compute_page_lists_workers(page: Page, app_url: str):
    page.goto(f"{app_url}?page=compute")
    expect(page.get_by_text("Workers")).to_be_visible()
    expect(page.get_by_text(re.compile(r"backend: in-process, 2 worker\(s\)"))).to_be_visible()
