"""Two server processes on one workspace (N servers behind a proxy, or ``--num-procs``): what is made through
one
is seen through the other, the run limits count both, and a file opened through both at once is indexed once.

Each server is ``run.py`` on its own port; each browser context talks to one of them, as a sticky session
would."""

from __future__ import annotations

import re
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import served_app
from tests.support.range_server import RangeServer

pytestmark = pytest.mark.browser

CHAT = re.compile(r"^e\.g\. go to")
READY = re.compile(r"\d+ units · (\d+) candidate groups · (\d+) judged")
FOCUS = re.compile(r"^Group (\d+): units")
FILE = "anm369963.nwb"


@dataclass(frozen=True)
class TwoServers:
    url_a: str
    url_b: str
    logs: tuple[Path, Path]


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory) -> TwoServers:
    """Servers A and B on one workspace, at most one training run on the two. ``served_app`` keeps its log in
    the
    folder it is given: each gets its own, and the later ``--workspace`` names the shared one."""
    shared = tmp_path_factory.mktemp("shared-workspace")
    _small_curation_demo(shared)
    folders = [tmp_path_factory.mktemp(f"server-{name}") for name in "ab"]
    with ExitStack() as stack:
        urls = [
            stack.enter_context(served_app(folder, "--workspace", str(shared), "--max-runs-total", "1"))[0]
            for folder in folders
        ]
        yield TwoServers(urls[0], urls[1], (folders[0] / "server.log", folders[1] / "server.log"))


def _small_curation_demo(workspace: Path) -> None:
    """The workspace's curation demo, built small (seconds, not the full demo's 30 s): the page opens it as
    the demo."""
    from engines.curation.demo import DemoSpec, ensure_demo_analyzer
    from engines.curation.ground_truth import InjectedFaults

    ensure_demo_analyzer(
        workspace,
        DemoSpec(
            duration_s=6.0,
            num_units=5,
            num_channels=4,
            seed=3,
            faults=InjectedFaults(amplitude_splits=0, temporal_splits=0, random_splits=1, duplicates=1),
        ),
    )


def _page(browser, url: str, query: str) -> Page:
    page = browser.new_context(viewport={"width": 1500, "height": 1100}).new_page()
    page.set_default_timeout(60_000)
    page.goto(url + query, wait_until="commit")
    return page


def _say(page: Page, text: str) -> None:
    box = page.get_by_placeholder(CHAT)
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_text(text, exact=True).first).to_be_visible()


def test_a_file_opened_through_both_servers_at_once_is_indexed_once(
    browser, two_servers: TwoServers, nwb_data_dir: Path
):
    with RangeServer(nwb_data_dir, latency_s=0.3) as archive:  # a slow archive: both opens overlap the build
        query = f"?page=nwb&url={quote(archive.url_for(FILE), safe='/:')}"
        pages = [_page(browser, two_servers.url_a, query), _page(browser, two_servers.url_b, query)]
        try:
            for page in pages:
                expect(page.get_by_text(FILE).first).to_be_visible()
                expect(page.locator(".nd-name", has_text=re.compile("^units$")).first).to_be_visible()
        finally:
            for page in pages:
                page.context.close()
    built = sum(log.read_text().count(f"indexed {FILE}") for log in two_servers.logs)
    assert built == 1, f"the index of {FILE} was built {built} times by the two servers"


def test_a_chat_and_a_saved_view_made_through_one_server_open_through_the_other(
    browser, two_servers: TwoServers
):
    a = _page(browser, two_servers.url_a, "?page=neuroglancer")
    b = None
    try:
        expect(a.get_by_placeholder(CHAT)).to_be_visible()
        _say(a, "go to 60 40 20")
        _say(a, "save the view as from-a")
        expect(a.get_by_text(re.compile("Saved the view as 'from-a'")).first).to_be_visible()
        expect(a).to_have_url(re.compile(r"chat=[0-9a-f]+"))
        chat = re.search(r"chat=([0-9a-f]+)", a.url).group(1)
        b = _page(browser, two_servers.url_b, f"?page=neuroglancer&chat={chat}&saved=from-a")
        expect(
            b.get_by_text("save the view as from-a", exact=True).first
        ).to_be_visible()  # A's chat, reopened
        expect(b.get_by_text("go to 60 40 20", exact=True).first).to_be_visible()
        _say(b, "describe the view")
        expect(
            b.get_by_text(re.compile(r"Position: x=60, y=40, z=20")).first
        ).to_be_visible()  # the view A saved
    finally:
        a.context.close()
        if b is not None:
            b.context.close()


def test_a_verdict_given_through_one_server_shows_through_the_other(browser, two_servers: TwoServers):
    a = _page(browser, two_servers.url_a, "?page=curation")
    b = None
    try:
        expect(a.get_by_text(READY).first).to_be_visible(timeout=120_000)
        expect(a.get_by_text(FOCUS).first).to_have_text(re.compile(r"Group \d+"))  # may still be drawing
        group = int(re.search(r"Group (\d+)", a.get_by_text(FOCUS).first.inner_text()).group(1))
        a.keyboard.press("a")
        expect(a.locator(f".nd-group-{group}").first).to_contain_text("you: accept")
        b = _page(browser, two_servers.url_b, f"?page=curation&group={group}")
        expect(b.get_by_text(READY).first).to_be_visible(timeout=120_000)
        expect(b.locator(f".nd-group-{group}").first).to_contain_text("you: accept")
    finally:
        a.context.close()
        if b is not None:
            b.context.close()


def test_a_training_run_started_through_one_server_shows_and_counts_on_the_other(
    browser, two_servers: TwoServers
):
    a = _page(browser, two_servers.url_a, "?page=training")
    b = None
    try:
        for label, value in (
            ("Steps", "20000"),
            ("Run name", "on server a"),
        ):  # long enough to be going below
            box = a.get_by_label(label, exact=True).first
            box.fill(value)
            box.press("Enter")
        a.get_by_role("button", name="Start run").click()
        expect(a).to_have_url(re.compile(r"page=training&run=[\w.-]*on-server-a[\w.-]*"))
        run_id = re.search(r"run=([\w.-]+)", a.url).group(1)
        b = _page(browser, two_servers.url_b, f"?page=training&run={run_id}")
        expect(b.locator("code").filter(has_text=run_id).first).to_be_visible()
        expect(b.locator(".nd-training-runs").first.get_by_text("on server a").first).to_be_visible()
        b.get_by_role("button", name="Start run").click()  # the limit is one run on the whole workspace
        expect(b.get_by_text(re.compile("max_runs_total")).first).to_be_visible()
        a.get_by_role("button", name="Stop").click()
    finally:
        a.context.close()
        if b is not None:
            b.context.close()
