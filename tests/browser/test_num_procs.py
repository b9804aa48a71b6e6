"""``run.py --num-procs 2``: two server processes on one port and one workspace serve every deep link, and
they end
with the process that started them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import served_app

pytestmark = [pytest.mark.browser, pytest.mark.alone]


def _serving_processes(port: int) -> list[int]:
    """Pids of the ``run.py`` processes serving ``port`` (the parent and its forks)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"run.py" in command and b"--port" in command and str(port).encode() in command:
                found.append(int(entry.name))
    return found


def test_two_processes_serve_deep_links_and_stop_with_their_parent(
    browser, tmp_path: Path, nwb_data_dir: Path
):
    with served_app(tmp_path, "--num-procs", "2", root=nwb_data_dir) as (url, port):
        assert len(_serving_processes(port)) == 3  # the parent that forked, and the two that serve
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        elsewhere: list[str] = []
        try:
            for _ in range(6):  # a page's HTML and its websocket may reach different processes
                page = context.new_page()
                page.on(
                    "request",
                    lambda request: (
                        elsewhere.append(request.url)
                        if request.url.startswith(("http:", "https:")) and not request.url.startswith(url)
                        else None
                    ),
                )
                page.goto(url + "?page=training")
                expect(page.get_by_role("combobox", name="Data", exact=True)).to_have_value(
                    "Synthetic demo (bundled, known latents)", timeout=60_000
                )
                page.locator(".bk-tab", has_text="NWB browser").click()
                expect(page).to_have_url(url + "?page=nwb")  # the session answers: its tab writes the address
                page.close()
        finally:
            context.close()
        assert elsewhere == []  # stylesheets too come from the app, whichever process built the session
    deadline = time.monotonic() + 10
    while _serving_processes(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _serving_processes(port) == []  # no orphaned server keeps the port and the workspace
