"""Synced video in real headless Chromium: deep links seek the movies, seeking and playing move the window,
and movies come from the app's own origin by range requests, also from a remote NWB file."""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import SIGNED_IN, served_app
from tests.support.nwb_files.video import write_video_nwb
from tests.support.range_server import RangeServer
from tests.support.reverse_proxy import ReverseProxy

pytestmark = pytest.mark.browser

SIDE, TOP = "/acquisition/camera_side", "/acquisition/camera_top"


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("video-files")
    write_video_nwb(folder / "video.nwb")
    return folder


@pytest.fixture(scope="module")
def video_app(tmp_path_factory, video_dir):
    with served_app(tmp_path_factory.mktemp("video-app"), root=video_dir) as (url, _port):
        yield url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _link(app_url: str, **params: str) -> str:
    return app_url + "?" + "&".join(f"{k}={quote(v, safe='/:')}" for k, v in params.items())


def _movie(page: Page, camera: str):
    """The <video> of the selected camera ("first") or the file's other one ("second")."""
    return page.locator("video.nd-movie").nth(0 if camera == "first" else 1)


def _current_time(page: Page, camera: str) -> float:
    return _movie(page, camera).evaluate("v => v.currentTime")


def _t0(page: Page) -> float:
    return float(parse_qs(urlsplit(page.url).query)["t0"][0])


def _wait_for(page: Page, camera: str, seconds: float, tolerance: float = 0.02) -> None:
    page.wait_for_function(
        """([video, want, tol]) => video.readyState >= 1 && Math.abs(video.currentTime - want) < tol""",
        arg=[_movie(page, camera).element_handle(), seconds, tolerance],
        timeout=20_000,
    )


def test_a_deep_link_window_seeks_both_cameras(page: Page, video_app: str, video_dir: Path):
    requests_seen: list[str] = []
    page.on("request", lambda request: requests_seen.append(request.url))
    page.goto(_link(video_app, url=str(video_dir / "video.nwb"), path=SIDE, view="video", t0="2", t1="4"))
    expect(page.get_by_text("camera_top").first).to_be_visible()
    _wait_for(page, "first", 2.05)  # t = 2.0 is frame 20 of the side camera: the middle of it is 2.05 s in
    _wait_for(page, "second", 1.95)  # ... and frame 19 (t = 1.95) of the top camera, in its first file
    movies = [url for url in requests_seen if "/nwb-movie/" in url]
    assert movies and all(url.startswith(video_app) for url in movies)  # the app's own origin
    assert requests.get(movies[0], timeout=10).status_code == 403  # a stranger, not signed in
    assert requests.get(movies[0], headers=SIGNED_IN, timeout=10).status_code == 200
    elsewhere = [url for url in requests_seen if url.startswith("http") and not url.startswith(video_app)]
    assert not elsewhere  # nothing from any other host


def test_seeking_a_movie_moves_the_window_and_the_other_camera(page: Page, video_app: str, video_dir: Path):
    page.goto(_link(video_app, url=str(video_dir / "video.nwb"), path=SIDE, view="video", t0="1", t1="3"))
    _wait_for(page, "first", 1.05)
    _movie(page, "first").evaluate("v => { v.currentTime = 3.07; }")  # as a person drags the slider
    expect(page).to_have_url(re.compile(r"t0=3(\.0+)?&t1=5"))  # frame 30 starts at 3.0 s; width kept
    _wait_for(page, "second", 0.95)  # t = 3.0 shows the top camera's frame 29: the 10th of its second file
    assert _movie(page, "second").evaluate("v => v.src").endswith("/2")


def test_playing_moves_the_window(page: Page, video_app: str, video_dir: Path):
    page.goto(_link(video_app, url=str(video_dir / "video.nwb"), path=SIDE, view="video", t0="0.5", t1="1.5"))
    _wait_for(page, "first", 0.55)
    _movie(page, "first").evaluate("v => v.play()")
    page.wait_for_function(
        "() => new URLSearchParams(location.search).get('t0') > 1.2", timeout=20_000
    )  # the window runs with the movie
    query = parse_qs(urlsplit(page.url).query)
    assert float(query["t1"][0]) - float(query["t0"][0]) == pytest.approx(1.0)


def test_the_movies_of_a_remote_nwb_file_come_through_the_app(page: Page, video_app: str, video_dir: Path):
    with RangeServer(video_dir) as remote:
        page.goto(_link(video_app, url=remote.url_for("video.nwb"), path=TOP, view="video", t0="2.5", t1="3"))
        _wait_for(page, "first", 0.45)  # the selected camera (top) comes first: frame 24, 5th of its 2nd file
        assert any(path.endswith("camera_top_part2.mp4") for path, _range, _n in remote.log.entries)


def test_frames_inside_the_file_follow_the_window(page: Page, video_app: str, video_dir: Path):
    page.goto(
        _link(
            video_app,
            url=str(video_dir / "video.nwb"),
            path="/acquisition/frames_inside",
            view="video",
            t0="1",
            t1="2",
        )
    )
    expect(page.get_by_text(re.compile(r"Frame 6 of 20 · t = 1\.000 s")).first).to_be_visible()
    page.get_by_role("button", name="▶ Play").click()
    expect(page.get_by_text(re.compile(r"Frame (8|9|1\d) of 20")).first).to_be_visible()
    assert _t0(page) > 1.0


def test_a_missing_movie_says_so_in_the_view(page: Page, video_app: str, video_dir: Path):
    alone = video_dir / "alone"
    alone.mkdir(exist_ok=True)
    shutil.copy(video_dir / "video.nwb", alone / "video.nwb")  # its movies stayed behind
    page.goto(_link(video_app, url=str(alone / "video.nwb"), path=SIDE, view="video", t0="1", t1="2"))
    expect(
        page.get_by_text(re.compile(r"does not play here: No file at 'camera_side\.mp4'")).first
    ).to_be_visible()


def test_movies_come_through_a_reverse_proxy_under_a_prefix(page: Page, video_dir: Path, tmp_path: Path):
    port = _free_port()
    with ReverseProxy(f"http://127.0.0.1:{port}") as proxy:
        extra = (
            "--prefix",
            "/neurodeck",
            "--use-xheaders",
            "--allow-websocket-origin",
            f"127.0.0.1:{proxy.port}",
        )
        with served_app(tmp_path, *extra, port=port, root=video_dir):
            app = proxy.url + "/neurodeck/"
            page.goto(_link(app, url=str(video_dir / "video.nwb"), path=SIDE, view="video", t0="2", t1="4"))
            _wait_for(page, "second", 1.95)
            assert any(path.startswith("/neurodeck/nwb-movie/") for path in proxy.paths)
