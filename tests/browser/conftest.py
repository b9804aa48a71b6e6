"""Browser-test harness: the real app served by ``run.py`` and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
WEBGL_ARGS = [*CHROMIUM_ARGS[:-1], "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
"""WebGL through SwiftShader (software), which the real Neuroglancer client needs to draw. Only the pages with
the
viewer use it: software GPU compositing costs every other page CPU time."""


TEST_TOKEN = os.environ.setdefault("NEURODECK_TEST_TOKEN", secrets.token_urlsafe(16))
"""The sign-in token of every app these tests serve (``NEURODECK_TOKEN``); browsers present it as a header.
Kept in
the environment: pytest may import this module twice (as a conftest and from a test), and both must agree."""
SIGNED_IN = {"Authorization": f"token {TEST_TOKEN}"}


def signed_in_with_password(browser, url: str, user: str, password: str):
    """A context of ``user`` signed in through the app's password form (``--auth password``), as a person
    would: the sign-in page opened, filled in, and closed."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100}, extra_http_headers={})
    page = context.new_page()
    page.goto(url + "login")
    page.locator("input[name=username]").fill(user)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Sign in").click()
    from playwright.sync_api import expect

    expect(page.get_by_text(f"{user} · Sign out")).to_be_visible()
    page.close()
    return context


def sign_in_every_context(browser):
    """Every context of ``browser`` signed in to the test apps, as a user who opened the printed address would
    be;
    a test that wants a stranger passes ``extra_http_headers={}``."""
    new_context = browser.new_context

    def signed_in_context(**options):
        options.setdefault("extra_http_headers", SIGNED_IN)
        return new_context(**options)

    browser.new_context = signed_in_context
    return browser


_SERVER_LOGS: list[Path] = []
"""Logs of the apps serving now: a failing browser test shows their ends (the server runs in another
process)."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for path in _SERVER_LOGS:
            report.sections.append((f"server log {path}", _log_tail(path)))


def _log_tail(path: Path, lines: int = 60) -> str:
    """The log's last lines, without the requests for static files that fill it."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(unreadable: {exc})"
    kept = [line for line in text.splitlines() if "GET /static/" not in line and "favicon" not in line]
    return "\n".join(kept[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed; dev/setup --with-browser installs it.")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@contextmanager
def served_app(
    workspace: Path,
    *extra: str,
    port: int | None = None,
    root: Path | None = None,
    env: dict[str, str] | None = None,
):
    """``run.py`` on a free port (loopback URLs allowed, test data readable); yields (base URL, port)."""
    port = port or _free_port()
    log = open(workspace / "server.log", "w")
    roots = ["--root", str(root)] if root is not None else []
    process = subprocess.Popen(
        [
            sys.executable,
            "run.py",
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--no-show",
            "--workspace",
            str(workspace),
            "--allow-private-urls",
            *roots,
            "--root",
            str(workspace),
            "--num-threads",
            "4",
            *extra,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NEURODECK_TOKEN": TEST_TOKEN, **(env or {})},
    )
    prefix = extra[extra.index("--prefix") + 1].rstrip("/") if "--prefix" in extra else ""
    url = f"http://127.0.0.1:{port}{prefix}/"
    _SERVER_LOGS.append(workspace / "server.log")
    try:
        wait_until_serving(url, process, workspace / "server.log")
        yield url, port
    finally:
        _SERVER_LOGS.remove(workspace / "server.log")
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def wait_until_serving(url: str, process: subprocess.Popen, log_path: Path, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log_path.read_text())
        try:
            answer = requests.get(url, headers=SIGNED_IN, timeout=10, allow_redirects=False)
            if answer.status_code == 200 or "login" in answer.headers.get(
                "Location", ""
            ):  # served, or asks to sign in
                return
        except requests.RequestException:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s:\n" + log_path.read_text())


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, nwb_data_dir) -> str:
    """The app served by run.py on a free port; loopback URLs allowed so it can read the test server. Its
    workspace holds the curation demo already (generated once per machine)."""
    workspace = tmp_path_factory.mktemp("app-workspace")
    from tests.support.shared_analyzers import seed_demo

    seed_demo(workspace)
    with served_app(workspace, root=nwb_data_dir) as (url, _port):
        yield url


@pytest.fixture(scope="module")
def playwright_driver(chromium_path):
    """One Playwright driver per test module: both browsers below come from it. Not per session: its sync API
    keeps an event loop running in the main thread while it lives, which later tests' ``asyncio.run``
    refuses."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # the first render of a page builds its plots server-side
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_driver, chromium_path):
    browser = sign_in_every_context(
        playwright_driver.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    )
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def webgl_browser(playwright_driver, chromium_path):
    browser = sign_in_every_context(
        playwright_driver.chromium.launch(executable_path=chromium_path, headless=True, args=WEBGL_ARGS)
    )
    yield browser
    browser.close()


@pytest.fixture
def webgl_page(webgl_browser):
    context = webgl_browser.new_context(viewport={"width": 1600, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
