"""The Sweeps (icephys) view in real headless Chromium, on a file served by the Range server."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.support.nwb_files.icephys import write_icephys_nwb
from tests.support.range_server import RangeServer
from tests.support.xss import XssSweep

pytestmark = pytest.mark.browser

ICEPHYS = "/general/intracellular_ephys"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The icephys file and a crafted one (markup in its descriptions and tags) over HTTP."""
    folder = tmp_path_factory.mktemp("icephys-served")
    write_icephys_nwb(folder / "icephys.nwb")
    sweep = XssSweep()
    write_icephys_nwb(folder / "crafted.nwb", text=sweep.payload("sweep description"))
    with RangeServer(folder) as server:
        yield server, sweep


def _link(app_url: str, url: str, **params: str) -> str:
    return (
        app_url + "?" + urlencode({"page": "nwb", "url": url, "path": ICEPHYS, "view": "icephys", **params})
    )


def _chip(page: Page, name: str):
    """A sweep shown as picked in the sweep selector."""
    return page.locator(".choices__inner .choices__item", has_text=name)


def _select(page: Page, label: str):
    return page.locator("select").filter(has=page.locator("option", has_text=label)).first


def test_a_deep_link_opens_the_sweeps_it_names_and_the_choice_goes_back_into_it(
    page: Page, app_url: str, served
):
    server, _ = served
    page.goto(_link(app_url, server.url_for("icephys.nwb"), sweeps="3-5", sweep_group="condition.tag"))
    for name in ("sweep 3 · ccs_03 (CurrentClampSeries)", "sweep 5 · ccs_05 (CurrentClampSeries)"):
        expect(_chip(page, name)).to_be_visible()
    expect(page.get_by_text("3 of 9 sweeps, from the icephys tables").first).to_be_visible()
    expect(_chip(page, "sweep 0 · ccs_00")).to_have_count(0)
    expect(page.locator("canvas").first).to_be_visible()

    _select(page, "sequential · stimulus_type").select_option(label="sequential · stimulus_type")
    _select(page, "voltage steps").select_option("voltage steps")  # a whole group
    expect(_chip(page, "sweep 7 · vcs_07 (VoltageClampSeries)")).to_be_visible()
    page.get_by_role("button", name="Average each group (mean ± SD)").click()
    expect(page.get_by_text("mean ± SD per group").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"sweeps=6-8"))
    expect(page).to_have_url(re.compile(r"average=1"))

    page.goto(page.url)  # the copied address reopens the same picture
    expect(_chip(page, "sweep 8 · vcs_08 (VoltageClampSeries)")).to_be_visible()
    expect(
        page.get_by_text("3 of 9 sweeps, from the icephys tables · grouped by sequential").first
    ).to_be_visible()
    expect(page.get_by_text("mean ± SD per group").first).to_be_visible()


def test_a_sweep_the_file_lacks_is_named_in_the_view(page: Page, app_url: str, served):
    server, _ = served
    page.goto(_link(app_url, server.url_for("icephys.nwb"), sweeps="99"))
    expect(page.get_by_text("This file has no sweep 99; its sweeps are 0–8").first).to_be_visible()
    expect(_chip(page, "sweep 0 · ccs_00 (CurrentClampSeries)")).to_be_visible()  # the default
    expect(page.locator("canvas").first).to_be_visible()


def test_markup_in_sweep_descriptions_and_groups_shows_as_text(page: Page, app_url: str, served):
    server, sweep = served
    sweep.arm(page)
    bad_group = sweep.payload("sweep_group argument")
    page.goto(_link(app_url, server.url_for("crafted.nwb"), sweep_group=bad_group))
    expect(page.get_by_text("3 of 9 sweeps, from the icephys tables").first).to_be_visible()
    assert sweep.shown(page, "sweep description")  # in the sweeps' table
    assert sweep.shown(page, "sweep_group argument")  # in the message that it is no group
    _select(page, "condition · tag").select_option(label="condition · tag")
    expect(page.get_by_text("grouped by condition · tag").first).to_be_visible()
    assert sweep.collect(page) == []
