"""Every route the server answers, tried without signing in; and the cost of sign-in per page load.

The route list comes from the very tornado application ``app.main.build_server`` makes (Bokeh's,
Panel's and the app's own patterns), so a route added later is tried too. A route counts as open
when a stranger gets anything but 401/403 or a redirect to the sign-in page; the sign-in pages
and static assets (JS, CSS, fonts: the same for everyone) are allowed to be open.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = re.compile(r"^/(login|logout|static/|components/|favicon\.ico)")
"""Routes a stranger may reach: signing in, and assets that hold no data (Bokeh's and Panel's JS, CSS,
fonts)."""
SAMPLES = {
    "/ngdemo/x": "/ngdemo/image/info",
    "/autoload.js": "/autoload.js?bokeh-autoload-element=p1&bokeh-app-path=/&bokeh-absolute-url=http://x/",
}
"""Routes whose plain sample would only be a 404 or a 400: a request that would be served there."""


def route_paths(workspace: Path) -> list[str]:
    """One concrete path per route pattern of the server (regex groups filled with a plausible value)."""
    from app.main import build_server
    from app.settings import Settings

    settings = replace(Settings.from_env(), workspace=workspace, port=0, show=False)
    server, _address = build_server(settings)
    paths: list[str] = []
    for rule in server._tornado.wildcard_router.rules + server._tornado.default_router.rules:
        regex = getattr(rule.matcher, "regex", None)
        if regex is None:
            continue
        pattern = regex.pattern.rstrip("$")
        path = re.sub(r"\(\?P<\w+>[^)]*\)|\([^)]*\)", "x", pattern).replace("\\", "").replace("?", "")
        paths.append(path.replace(".*", "info") or "/")
    server.stop()
    return sorted(set(paths))


def open_routes(base_url: str, paths: list[str]) -> list[str]:
    """The paths a stranger (no cookie, no token) gets an answer from, besides the public ones (a 404 answers
    nothing: the sample path names no data there)."""
    opened = []
    for path in paths:
        if PUBLIC.match(path):
            continue
        answer = requests.get(
            base_url.rstrip("/") + SAMPLES.get(path, path), allow_redirects=False, timeout=10
        )
        to_sign_in = answer.status_code in (301, 302, 303, 307) and "login" in answer.headers.get(
            "Location", ""
        )
        if answer.status_code not in (401, 403, 404) and not to_sign_in:
            opened.append(f"{path} ({answer.status_code})")
    return opened


def serve(workspace: Path, port: int, *extra: str, env: dict | None = None) -> subprocess.Popen:
    """``run.py`` in a child process; returns once it answers."""
    log = open(workspace / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "run.py", "--port", str(port), "--no-show", "--workspace", str(workspace), *extra],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
            return process
        except requests.RequestException:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError((workspace / "server.log").read_text())


def page_load_ms(url: str, repeats: int, **request_options) -> float:
    """Median time of one page request (the document a browser loads first), signed in as given."""
    session = requests.Session()
    session.get(url, timeout=30, **request_options)  # warm: the first session builds the page's imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        answer = session.get(url, timeout=30, **request_options)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.status_code
    return statistics.median(times)


def fresh_workspace() -> Path:
    return Path(tempfile.mkdtemp(prefix="nd-security-"))
