"""The aligned view in real headless Chromium: a deep link stacks the named series on one time axis."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.support.nwb_files.aligned import BROKEN, CRAFTED_NAME, write_aligned_nwb
from tests.support.range_server import RangeServer

pytestmark = pytest.mark.browser

CRAFTED = f"/acquisition/{CRAFTED_NAME}"
READABLE = [
    "/acquisition/lfp",
    "/acquisition/ttl",
    "/acquisition/notes",
    "/intervals/trials",
    "/units",
    CRAFTED,
]


@pytest.fixture(scope="module")
def aligned_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("aligned")
    write_aligned_nwb(folder / "aligned.nwb")
    with RangeServer(folder) as server:
        yield server.url_for("aligned.nwb")


def _link(app_url: str, **params: str) -> str:
    return app_url + "?" + "&".join(f"{k}={quote(v, safe='/:,')}" for k, v in params.items())


def _panels_at(page: Page, t0: float, t1: float):
    """The panel titles that say they show ``t0``-``t1`` (the status line above says it with 3 decimals)."""
    return page.get_by_text(re.compile(re.escape(f" · {t0:.2f} – {t1:.2f} s · ")))


def test_deep_link_stacks_the_series_and_a_zoom_reaches_every_panel(page: Page, app_url: str, aligned_url):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    series = ",".join([*READABLE, f"/acquisition/{BROKEN}"])
    page.goto(_link(app_url, url=aligned_url, view="align", series=series, t0="10", t1="20"))
    expect(page.get_by_text("Window 10.000 – 20.000 s").first).to_be_visible()
    for path in READABLE:  # the crafted name too: shown as text, never as markup
        title = page.locator("strong").filter(has_text=re.compile(f"^{re.escape(path)}$"))
        expect(title).to_be_visible()
    expect(_panels_at(page, 10, 20)).to_have_count(len(READABLE))
    expect(page.get_by_text(re.compile(f"{BROKEN} could not be read: .*'rate'")).first).to_be_visible()
    assert page.locator("img[src='x']").count() == 0 and dialogs == []

    page.get_by_role("button", name="Zoom in").click()
    expect(page.get_by_text("Window 12.500 – 17.500 s").first).to_be_visible()
    expect(_panels_at(page, 12.5, 17.5)).to_have_count(len(READABLE))
    expect(page).to_have_url(re.compile(r"t0=12\.5&t1=17\.5"))

    canvas = page.locator("canvas").first  # the top panel's plot (the traces)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 400)  # zoom on that one panel
    expect(page).not_to_have_url(re.compile(r"t0=12\.5&t1=17\.5"))
    assert _settled_window(page) != (12.5, 17.5)


def _settled_window(page: Page, timeout_s: float = 20.0) -> tuple[float, float]:
    """The address's window once every readable panel says it shows it (a wheel zoom sends several)."""
    for _ in range(int(timeout_s / 0.5)):
        match = re.search(r"t0=([-\d.e]+)&t1=([-\d.e]+)", page.url)
        window = (float(match.group(1)), float(match.group(2)))
        if _panels_at(page, *window).count() == len(READABLE):
            return window
        page.wait_for_timeout(500)
    raise AssertionError(f"the panels never all showed the address's window ({page.url})")


def test_picking_series_adds_a_history_entry_that_back_restores(page: Page, app_url: str, aligned_url):
    page.goto(
        _link(app_url, url=aligned_url, view="align", series="/acquisition/lfp,/units", t0="0", t1="30")
    )
    units_title = page.locator("strong").filter(has_text=re.compile(r"^/units$"))
    expect(units_title).to_be_visible()
    page.get_by_role("button", name=re.compile(r"Remove item.*Units")).click()  # the chip "Units · /units"
    expect(page).to_have_url(re.compile(r"series=/acquisition/lfp$"))
    expect(units_title).to_have_count(0)
    page.go_back()
    expect(page).to_have_url(re.compile(r"series=/acquisition/lfp,/units$"))
    expect(units_title).to_be_visible()
    expect(_panels_at(page, 0, 30)).to_have_count(2)
    page.go_forward()
    expect(units_title).to_have_count(0)
