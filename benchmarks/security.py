"""Benchmark the app's defences against the attacks of issue 14, and what sign-in costs a page load.

Run ``python benchmarks/security.py``. It serves the app twice from ``run.py`` (token sign-in,
the default, and ``--auth none`` for comparison) and measures:

- ``xss_payloads_tried`` / ``xss_executed``: every link argument of every page carries an
  ``<img onerror>`` or ``<script>`` payload in real Chromium (``tests/support/xss.py``); a payload
  that runs pushes its number onto ``window.__xss``.
- ``secrets_in_kernel_env``: secrets put in the server's environment that approved code can read
  in its kernel (``/proc/self/environ``).
- ``reads_outside_roots``: crafted paths, symlinks, ``file://`` URLs and LINDI chunk references
  to files outside every root, and non-global addresses, that the source policy let through.
- ``unauthenticated_routes``: routes of the served app (every pattern of its tornado application)
  that answer a stranger, besides the sign-in pages and static assets.
- ``sign_in_overhead_ms``: the median page request signed in (cookie) minus the median with no
  sign-in at all, the competing set-up (``--auth none``), measured in the same run.

The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._attacks import reads_outside_roots, secrets_in_kernel_env  # noqa: E402
from benchmarks._routes import fresh_workspace, open_routes, page_load_ms, route_paths, serve  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS, _free_port  # noqa: E402  (the browser tests' own launch)

REPEATS = 15
TOKEN = "benchmark-token"


def _xss_sweep(url: str) -> tuple[int, int, list[str]]:
    """(payloads tried, payloads executed, payloads not shown as text) over every page's link arguments."""
    from playwright.sync_api import sync_playwright

    from tests.support.xss import link_sweep

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(extra_http_headers={"Authorization": f"token {TOKEN}"})
        page = context.new_page()
        page.set_default_timeout(30_000)
        sweep, missing = link_sweep(page, url)
        browser.close()
    return len(sweep.tried), len(sweep.executed), missing


def main() -> None:
    env = {**os.environ, "NEURODECK_TOKEN": TOKEN}
    paths = route_paths(fresh_workspace())
    signed_port, open_port = _free_port(), _free_port()
    signed = serve(fresh_workspace(), signed_port, env=env)
    unsigned = serve(fresh_workspace(), open_port, "--auth", "none", env=env)
    try:
        signed_url, open_url = f"http://127.0.0.1:{signed_port}/", f"http://127.0.0.1:{open_port}/"
        exposed = open_routes(signed_url, paths)
        print(
            f"routes: {len(paths)} patterns; open to a stranger besides sign-in and assets: "
            f"{exposed or 'none'}"
        )
        page = "?page=compute"
        with_sign_in = page_load_ms(signed_url + page, REPEATS, headers={"Authorization": f"token {TOKEN}"})
        without = page_load_ms(open_url + page, REPEATS)
        print(
            f"page request: {with_sign_in:.1f} ms signed in, {without:.1f} ms with --auth none "
            f"(medians of {REPEATS}); overhead {with_sign_in - without:+.1f} ms"
        )
        tried, executed, not_shown = _xss_sweep(signed_url)
        print(
            f"xss: {tried} payloads through every link argument of every page, {executed} ran as script"
            + (f"; not shown as text: {not_shown}" if not_shown else "")
        )
    finally:
        for process in (signed, unsigned):
            process.terminate()
            process.wait(15)
    attempts, escaped = reads_outside_roots()
    print(f"reads outside the roots: {escaped} of {attempts} crafted reads got through")
    set_secrets, seen = secrets_in_kernel_env()
    print(f"kernel: {seen} of {set_secrets} secrets in the server's environment visible to approved code")
    print(
        json.dumps(
            {
                "xss_payloads_tried": tried,
                "xss_executed": executed,
                "secrets_in_kernel_env": seen,
                "reads_outside_roots": escaped,
                "read_attacks_tried": attempts,
                "unauthenticated_routes": len(exposed),
                "routes_tried": len(paths),
                "sign_in_overhead_ms": round(with_sign_in - without, 2),
                "page_request_signed_in_ms": round(with_sign_in, 1),
                "page_request_no_auth_ms": round(without, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
