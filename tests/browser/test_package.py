"""The standalone bundle (``dev/package``): built here, started with no Python around it, renders the NWB
page."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ROOT, TEST_TOKEN, _free_port, wait_until_serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.package,
    pytest.mark.timeout(900),
]  # pytest-timeout counts the module's bundle build (4-5 min here) in the first test


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A slim bundle (no torch) built into a temporary folder; its size and build time are printed."""
    dist, work = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("build")
    started = time.monotonic()
    subprocess.run(
        [str(ROOT / "dev" / "package"), "--slim"],
        cwd=ROOT,
        check=True,
        timeout=720,
        env={**os.environ, "DISTPATH": str(dist), "WORKPATH": str(work)},
    )
    folder = dist / "neurodeck"
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"\nbundle: {size / 2**20:,.0f} MiB, built in {time.monotonic() - started:.0f} s")
    return folder


def test_the_bundle_serves_the_demo_offline_with_no_python_installed(bundle: Path, browser, tmp_path: Path):
    executable = bundle / "neurodeck"
    assert executable.is_file() and os.access(executable, os.X_OK)
    port = _free_port()
    log_path = tmp_path / "bundle.log"
    bare = {
        "HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",  # no venv, no PYTHONPATH
        "NEURODECK_TOKEN": TEST_TOKEN,
    }
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                str(executable),
                "--port",
                str(port),
                "--address",
                "127.0.0.1",
                "--no-show",
                "--workspace",
                str(tmp_path / "ws"),
            ],
            cwd=tmp_path,
            env=bare,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/", process, log_path, timeout_s=120)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/?path=/units")
        expect(page.get_by_text("sub-4_ses-4_ecephys+image.nwb").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile(r"[\d,]+ spikes")).first).to_be_visible(timeout=60_000)
        expect(page.locator("canvas").first).to_be_visible()
        context.close()
        assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]
    finally:
        process.terminate()
        process.wait(20)
