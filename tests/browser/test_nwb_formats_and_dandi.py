"""The NWB page beyond NWB files: EDF recordings by range, and browsing DANDI to open a file."""

from __future__ import annotations

import re
import shutil
from urllib.parse import quote

import pyedflib
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import served_app
from tests.engines.edf.test_edf import write_recording
from tests.support.dandi_server import DandiApiServer, FakeAsset, FakeDandiset
from tests.support.range_server import RangeServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def files(tmp_path_factory, nwb_data_dir):
    folder = tmp_path_factory.mktemp("served")
    write_recording(folder / "sleep.edf", pyedflib.FILETYPE_EDFPLUS)
    shutil.copy(nwb_data_dir / "anm369963.nwb", folder / "anm369963.nwb")
    with RangeServer(folder) as server:
        yield server


def test_an_edf_recording_opens_by_range_with_its_channels_and_annotations(page: Page, app_url: str, files):
    page.goto(app_url + "?url=" + quote(files.url_for("sleep.edf"), safe=""))
    expect(page.get_by_text(re.compile(r"sleep\.edf · EDF\+C · 4 signals")).first).to_be_visible(
        timeout=60_000
    )
    status = page.get_by_text(re.compile(r"^Window ")).first
    expect(status).to_contain_text("Window 0.000 – 10.000 s of 0.000 – 30.000 s · 3 channel(s)")
    page.get_by_role("button", name="Zoom in").click()
    expect(status).to_contain_text("Window 2.500 – 7.500 s")
    expect(page).to_have_url(re.compile(r"t0=2\.5&t1=7\.5"))
    page.get_by_text("Annotations", exact=True).click()
    page.get_by_role("button", name="Load annotations").click()
    expect(page.get_by_text("button press").first).to_be_visible()
    page.get_by_role("button", name="◀ back to the NWB browser").click()
    expect(page.get_by_text("sub-4_ses-4_ecephys+image.nwb").first).to_be_visible()


@pytest.fixture(scope="module")
def dandi_app(tmp_path_factory, nwb_data_dir, files):
    dandiset = FakeDandiset(
        "000123",
        "Whisker barrel recordings",
        [
            FakeAsset(
                "sub-1/sub-1_ecephys.nwb",
                (nwb_data_dir / "anm369963.nwb").stat().st_size,
                "a1",
                url=files.url_for("anm369963.nwb"),
            ),
            FakeAsset("README.txt", 12, "a2"),
        ],
        published=["0.240101.1200"],
    )
    with DandiApiServer([dandiset]) as api:
        with served_app(
            tmp_path_factory.mktemp("dandi-app"),
            root=nwb_data_dir,
            env={"NEURODECK_DANDI_API_URL": api.api_url},
        ) as (url, _port):
            yield url


def test_search_dandi_list_a_dandisets_files_and_open_one(page: Page, dandi_app: str):
    page.goto(dandi_app)
    page.get_by_text("Browse DANDI").first.click()
    box = page.get_by_placeholder(re.compile("Search dandisets"))
    box.fill("whisker")
    page.get_by_role("button", name="Search DANDI").click()
    expect(page.get_by_text("Whisker barrel recordings").first).to_be_visible()
    page.get_by_text("Whisker barrel recordings").first.click()
    expect(page.get_by_text("sub-1/sub-1_ecephys.nwb").first).to_be_visible()
    page.get_by_text("sub-1/sub-1_ecephys.nwb").first.click()
    expect(page).to_have_url(re.compile(r"url=dandi://000123@0\.240101\.1200/sub-1/sub-1_ecephys\.nwb"))
    expect(page.get_by_text(re.compile(r"sub-1_ecephys\.nwb · NWB")).first).to_be_visible(timeout=60_000)


def test_dandi_offline_says_so_and_the_page_keeps_working(page: Page, app_url: str):
    page.goto(app_url)  # this server's DANDI address is the real archive, unreachable from here
    page.get_by_text("Browse DANDI").first.click()
    page.get_by_role("button", name="Search DANDI").click()
    expect(
        page.get_by_text(re.compile(r"DANDI:.*(offline|reach|refused|private)", re.I)).first
    ).to_be_visible(timeout=60_000)
    expect(page.locator(".nd-name", has_text=re.compile("^units$")).first).to_be_visible()
