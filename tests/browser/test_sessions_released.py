"""Nothing left behind: 100 sessions opened and closed over every page, then the server's threads, open
files, child processes and temporary files are back within 10% of what it held after a warm-up round
of every page, within 30 s of the last close, and its memory has stopped growing.

Most sessions go over the websocket protocol (``session_probe.open_session``: the page is built
and its on-load work runs; half leave politely, half drop the connection as a lost network does);
some are real Chromium tabs, the Neuroglancer ones with the viewer loaded in its iframe, and one
runs code in the NWB assistant's kernel and is closed while the code still runs. Bokeh discards
a session once it has had no connection for the server's ``--session-lifetime`` (15 s by default,
checked as often); the server here keeps them 3 s, so every session is discarded within 6 s of its
close, and the test allows 30 s.
"""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import served_app
from tests.browser.session_probe import Usage, open_session, server_pid, usage
from tests.support.openai_server import ScriptedOpenAIServer, ScriptedReply, ToolCall

pytestmark = [pytest.mark.browser, pytest.mark.alone, pytest.mark.timeout(420)]

PAGES = ("nwb", "neuroglancer", "curation", "training")
SESSIONS = 100
LIFETIME_S = 3
"""The server's ``--session-lifetime``: a session is discarded within twice this of its last close."""
DISCARDED_S = 2 * LIFETIME_S + 1
RELEASE_S = 30
HELD = ("threads", "files", "children", "temp_entries")
"""What a session holds that must all come back. Resident memory does not fall back to the warm-up level: the
allocator keeps its high-water mark (measured: no session object outlives its session, the fonts matplotlib
opened per thread were the one leak found); the test checks instead that memory stops growing, the second half
of the sessions adding at most 10% of the baseline."""
SLOW_CODE = "import time\nfor i in range(600):\n    time.sleep(0.1)\nprint('never')"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with its own temporary folder (to count what sessions leave there) and a scripted model that
    proposes code, so a session can hold a kernel."""

    def respond(request: dict) -> ScriptedReply:
        if request["messages"][-1]["role"] == "tool":
            return ScriptedReply("The code is below; press Run to run it.")
        return ScriptedReply(
            tool_calls=[ToolCall("propose_code", {"code": SLOW_CODE, "explanation": "A long loop."})]
        )

    workspace = tmp_path_factory.mktemp("sessions-app")
    from tests.support.shared_analyzers import seed_demo

    seed_demo(workspace)
    temp = tmp_path_factory.mktemp("sessions-tmp")
    with ScriptedOpenAIServer(responder=respond) as model:
        env = {"TMPDIR": str(temp), "OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "test-key"}
        with served_app(workspace, "--session-lifetime", str(LIFETIME_S), env=env) as (url, port):
            yield url, server_pid(port), temp


def _tab(browser: Browser, url: str, page_name: str, run_code: bool = False) -> None:
    """One Chromium tab of ``page_name``, shown as a user sees it, then closed."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        if page_name == "nwb":
            page.goto(url + ("?assistant=1" if run_code else "?page=nwb"))
            expect(page.locator(".nd-name", has_text=re.compile("^units$")).first).to_be_visible()
            if run_code:
                box = page.get_by_placeholder(re.compile(r"^Ask about this file"))
                box.fill("run something slow")
                box.press("Enter")
                page.get_by_role("button", name="Run code").first.click()
                expect(page.get_by_text("Running…").first).to_be_visible()
                page.wait_for_timeout(2000)  # the kernel has started and runs the loop
        elif page_name == "neuroglancer":
            page.goto(url + "?page=neuroglancer")
            viewer = page.frame_locator("iframe[title='Neuroglancer viewer']").first.locator("body")
            deadline = time.time() + 90
            while "position" not in viewer.evaluate(
                "() => typeof viewer === 'undefined' ? '' : JSON.stringify(viewer.state.toJSON())"
            ):
                assert time.time() < deadline, "the viewer did not load its state"
                page.wait_for_timeout(300)
        elif page_name == "curation":
            page.goto(url + "?page=curation")  # the first visit builds the demo analyzer (about 30 s)
            expect(
                page.get_by_text(re.compile(r"\d+ units · \d+ candidate groups · \d+ judged")).first
            ).to_be_visible(timeout=240_000)
            # the group images drawn (on the process's drawing threads, which keep matplotlib's fonts open)
            expect(page.locator("img[src^='data:image/png']").first).to_be_visible(timeout=60_000)
        else:
            page.goto(url + "?page=training")
            expect(page.get_by_role("combobox", name="Data", exact=True)).to_have_value(
                "Synthetic demo (bundled, known latents)"
            )
    finally:
        context.close()


def _protocol_sessions(url: str, count: int, at_once: int = 4) -> None:
    """``count`` sessions over the websocket protocol, cycling through the pages, ``at_once`` at a time (on a
    thread of their own: Playwright's sync API keeps an event loop running on this one)."""

    async def all_of_them() -> None:
        gate = asyncio.Semaphore(at_once)

        async def one(i: int) -> None:
            async with gate:
                await open_session(url, PAGES[i % len(PAGES)], stay_s=1.0, drop=i % 2 == 1)

        await asyncio.gather(*(one(i) for i in range(count)))

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, all_of_them()).result()


def _settled(pid: int, temp: Path, since: float) -> Usage:
    """The server's usage once every session closed before ``since`` has been discarded and its thread count
    has held still for 3 s."""
    time.sleep(max(0.0, since + DISCARDED_S - time.time()))
    last = usage(pid, temp)
    while True:
        time.sleep(3)
        now = usage(pid, temp)
        if now.threads == last.threads:
            return now
        last = now


def test_a_hundred_sessions_leave_nothing_behind(server, browser, webgl_browser):
    url, pid, temp = server
    started = time.monotonic()
    # Warm-up: a round of sessions of every page, four at once (first imports, the demo data, thread pools
    # grown to their size, the caches and the allocator's arenas filled), the viewer loaded in a tab, the
    # curation grid's images drawn in a tab (each drawing thread then holds matplotlib's two fonts open for
    # the process's life: CI once saw those 4 descriptors opened after the warm-up), code run in a kernel.
    _protocol_sessions(url, 6 * len(PAGES))
    _tab(webgl_browser, url, "neuroglancer")
    _tab(browser, url, "curation")
    _tab(browser, url, "nwb", run_code=True)
    baseline = _settled(pid, temp, since=time.time())
    warmed = time.monotonic()

    halves = []
    for tabs in (("kernel", "nwb", "neuroglancer"), ("curation", "training")):
        for name in tabs:  # the kernel's tab closes while its code still runs
            _tab(
                webgl_browser if name == "neuroglancer" else browser,
                url,
                "nwb" if name == "kernel" else name,
                run_code=name == "kernel",
            )
        _protocol_sessions(url, SESSIONS // 2 - len(tabs))
        closed = time.time()
        after = _released(pid, temp, baseline, closed)
        halves.append(after)
        print(
            f"after {len(halves) * SESSIONS // 2} sessions, {time.time() - closed:.0f} s after the last "
            f"closed: {after}; descriptors opened since the warm-up: {after.opened_since(baseline)}"
        )
    print(
        f"baseline after warm-up: {baseline}\nwarm-up and settling {warmed - started:.0f} s, "
        f"{SESSIONS} sessions and their release {time.monotonic() - warmed:.0f} s"
    )
    first, last = halves
    assert not last.within(baseline, measures=HELD), (
        f"{RELEASE_S} s after {SESSIONS} sessions closed the server still holds more than after warm-up: "
        f"{'; '.join(last.within(baseline, measures=HELD))} (baseline: {baseline}; now: {last}; descriptors "
        f"opened since the warm-up: {last.opened_since(baseline)})"
    )
    grown = last.rss_mb - first.rss_mb
    assert grown <= 0.10 * baseline.rss_mb, (
        f"the second {SESSIONS // 2} sessions left {grown:.0f} MB more resident memory than the first "
        f"({first.rss_mb:.0f} -> {last.rss_mb:.0f} MB): about {grown / (SESSIONS // 2):.1f} MB per session "
        "kept"
    )


def _released(pid: int, temp: Path, baseline: Usage, closed: float) -> Usage:
    """The server's usage once its threads, files, children and temporary entries are back (or ``RELEASE_S``
    after ``closed``), and its ended sessions are discarded."""
    time.sleep(max(0.0, closed + DISCARDED_S - time.time()))
    after = usage(pid, temp)
    while after.within(baseline, measures=HELD) and time.time() < closed + RELEASE_S:
        time.sleep(2)
        after = usage(pid, temp)
    return after
