"""The movie route answers a video element's range requests with the right bytes, from a live grant only."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from components.nwb.movie_grants import MOVIE_PATH, grant, lookup, revoke
from components.nwb.movie_route import MAX_SPAN, movie_routes, parse_range
from engines.io.policy import SourcePolicy
from tests.support.nwb_files.video import write_video_nwb
from tests.support.range_server import RangeServer
from tests.support.tornado_app import serve_routes


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("movies")
    write_video_nwb(folder / "video.nwb")
    return folder


@pytest.fixture(scope="module")
def served(video_dir, tmp_path_factory):
    policy = SourcePolicy(
        workspace=tmp_path_factory.mktemp("ws"), allowed_roots=(video_dir,), allow_private_urls=True
    )
    with serve_routes(movie_routes(lambda: policy)) as base:
        yield base


def test_parse_range():
    assert parse_range("bytes=0-99", 1000) == (0, 100)
    assert parse_range("bytes=900-", 1000) == (900, 1000)
    assert parse_range("bytes=-100", 1000) == (900, 1000)
    assert parse_range("bytes=990-2000", 1000) == (990, 1000)
    assert parse_range("bytes=0-", 10 * MAX_SPAN) == (0, MAX_SPAN)  # a long open range comes in parts
    for bad in ("bytes=1000-", "bytes=5-2", "bytes=-0", "bytes=-", "items=0-5", "bytes=0-1,5-9", "bytes=a-b"):
        assert parse_range(bad, 1000) is None, bad
    assert parse_range("bytes=0-", 0) is None


def test_a_range_gets_206_with_exactly_those_bytes(served, video_dir):
    data = (video_dir / "camera_side.mp4").read_bytes()
    token = grant(str(video_dir / "video.nwb"), ["camera_side.mp4", "camera_top_part1.mp4"])
    try:
        url = f"{served}/{MOVIE_PATH}/{token}/0"
        answer = requests.get(url, headers={"Range": "bytes=100-1099"}, timeout=10)
        assert answer.status_code == 206
        assert answer.content == data[100:1100]
        assert answer.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
        assert answer.headers["Accept-Ranges"] == "bytes"
        assert answer.headers["Content-Type"] == "video/mp4"
        tail = requests.get(url, headers={"Range": "bytes=-10"}, timeout=10)
        assert tail.status_code == 206 and tail.content == data[-10:]
        whole = requests.get(url, timeout=10)
        assert whole.status_code == 200 and whole.content == data
        head = requests.head(url, headers={"Range": "bytes=0-9"}, timeout=10)
        assert head.status_code == 206 and head.headers["Content-Length"] == "10" and not head.content
        second = requests.get(f"{served}/{MOVIE_PATH}/{token}/1", headers={"Range": "bytes=0-"}, timeout=10)
        assert second.content == (video_dir / "camera_top_part1.mp4").read_bytes()
    finally:
        revoke(token)


def test_a_range_it_cannot_serve_gets_416(served, video_dir):
    size = (video_dir / "camera_side.mp4").stat().st_size
    token = grant(str(video_dir / "video.nwb"), ["camera_side.mp4"])
    try:
        for bad in (f"bytes={size}-", "bytes=50-10", "pages=1-2", "bytes=0-1,4-5"):
            answer = requests.get(f"{served}/{MOVIE_PATH}/{token}/0", headers={"Range": bad}, timeout=10)
            assert answer.status_code == 416, bad
            assert answer.headers["Content-Range"] == f"bytes */{size}"
    finally:
        revoke(token)


def test_a_remote_nwb_files_movie_comes_through_range_reads(served, video_dir):
    data = (video_dir / "camera_top_part2.mp4").read_bytes()
    with RangeServer(video_dir) as remote:
        token = grant(remote.url_for("video.nwb"), ["camera_top_part2.mp4"])
        try:
            answer = requests.get(
                f"{served}/{MOVIE_PATH}/{token}/0", headers={"Range": "bytes=7-506"}, timeout=10
            )
            assert answer.status_code == 206 and answer.content == data[7:507]
            assert any(
                path.endswith("camera_top_part2.mp4") and rng == "bytes=7-506"
                for path, rng, _n in remote.log.entries
            )
        finally:
            revoke(token)


def test_a_revoked_grant_is_gone(served, video_dir):
    token = grant(str(video_dir / "video.nwb"), ["camera_side.mp4"])
    assert lookup(token) is not None
    revoke(token)
    assert lookup(token) is None
    assert requests.get(f"{served}/{MOVIE_PATH}/{token}/0", timeout=10).status_code == 404
