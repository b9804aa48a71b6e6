"""Behind a reverse proxy under a path prefix, and inside another site's iframe through it."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import served_app
from tests.support.range_server import RangeServer
from tests.support.reverse_proxy import ReverseProxy

pytestmark = pytest.mark.browser

RASTER_STATUS = re.compile(r"spikes · (individual spikes|datashaded spikes|density from pyramid)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def proxied_app(tmp_path_factory, nwb_data_dir):
    """The app under /neurodeck with --use-xheaders, reached only through a reverse proxy on another port."""
    port = _free_port()
    with ReverseProxy(f"http://127.0.0.1:{port}") as proxy:
        workspace = tmp_path_factory.mktemp("proxied-workspace")
        with served_app(
            workspace,
            "--prefix",
            "/neurodeck",
            "--use-xheaders",
            "--allow-websocket-origin",
            f"127.0.0.1:{proxy.port}",
            port=port,
            root=nwb_data_dir,
        ):
            yield proxy


def test_the_app_and_a_deep_link_load_through_the_proxy(page: Page, proxied_app: ReverseProxy):
    assert requests.get(proxied_app.url + "/", timeout=10).status_code == 404  # nothing outside the prefix
    page.goto(proxied_app.url + "/neurodeck/?page=nwb&path=/units")
    expect(page.get_by_text(RASTER_STATUS).first).to_be_visible()
    expect(page.get_by_text("sub-4_ses-4_ecephys+image.nwb").first).to_be_visible()
    assert any(
        path.endswith("/neurodeck/ws") for path in proxied_app.paths
    )  # the session's socket went through it
    assert any("/neurodeck/static/" in path for path in proxied_app.paths)
    page.locator(".nd-name", has_text=re.compile("^intervals$")).first.click()
    expect(page).to_have_url(re.compile(r"/neurodeck/\?page=nwb&path=/intervals"))


def test_the_iframe_embedding_works_under_the_prefix(page: Page, proxied_app: ReverseProxy, tmp_path: Path):
    src = proxied_app.url + "/neurodeck/?path=/units&embedded=1"
    (tmp_path / "host.html").write_text(
        f"<html><body><h1>Lab site</h1><iframe src='{src}' width='1300' height='900'></iframe></body></html>"
    )
    with RangeServer(tmp_path) as other_origin:
        page.goto(other_origin.url_for("host.html"))
        frame = page.frame_locator("iframe")
        expect(frame.get_by_text(RASTER_STATUS).first).to_be_visible()
        expect(frame.locator(".nd-logo")).to_be_hidden()


def test_the_neuroglancer_viewer_loads_through_the_proxy(webgl_page: Page, proxied_app: ReverseProxy):
    page = webgl_page
    page.goto(proxied_app.url + "/neurodeck/?page=neuroglancer")
    body = page.frame_locator("iframe[title='Neuroglancer viewer']").first.locator("body")
    expect(body.locator(".neuroglancer-layer-item-label", has_text="image").first).to_be_visible(
        timeout=60_000
    )
    assert any(
        path.startswith("/neurodeck/ngv/v/") for path in proxied_app.paths
    )  # the client came through it
    assert any(path.startswith("/neurodeck/ngdemo/image/") for path in proxied_app.paths)  # and the demo data
