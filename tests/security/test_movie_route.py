"""Attacks on the movie route: it serves only the movies a live grant's NWB file names, never a path it is
given, and a token reaches only its own session's file."""

from __future__ import annotations

import http.client
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from components.nwb.movie_grants import MOVIE_PATH, grant, revoke
from components.nwb.movie_route import movie_routes
from engines.io.policy import SourcePolicy
from tests.support.nwb_files.video import write_video_nwb
from tests.support.tornado_app import serve_routes

SECRET = b"the server's private file"


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, Path]:
    """Two sessions' NWB files in two folders under the root, and a secret outside it."""
    top = tmp_path_factory.mktemp("attack")
    root, outside = top / "root", top / "outside"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(SECRET)
    write_video_nwb(root / "a" / "video.nwb")
    write_video_nwb(root / "b" / "video.nwb")
    (root / "a" / "escape.mp4").symlink_to(outside / "secret.mp4")
    return {"root": root, "outside": outside}


@pytest.fixture(scope="module")
def served(places, tmp_path_factory):
    policy = SourcePolicy(workspace=tmp_path_factory.mktemp("ws"), allowed_roots=(places["root"],))
    with serve_routes(movie_routes(lambda: policy)) as base:
        yield base


def _get(base: str, path: str) -> tuple[int, bytes]:
    """A raw request, so ``..`` and encoded slashes reach the server as written."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path, headers={"Range": "bytes=0-"})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_paths_in_the_address_are_never_followed(served, places):
    token = grant(str(places["root"] / "a" / "video.nwb"), ["camera_side.mp4"])
    try:
        assert _get(served, f"/{MOVIE_PATH}/{token}/0")[0] == 206  # the granted movie itself is served
        for path in (
            f"/{MOVIE_PATH}/{token}/../../../../outside/secret.mp4",
            f"/{MOVIE_PATH}/{token}/0/../../../outside/secret.mp4",
            f"/{MOVIE_PATH}/{token}/..%2f..%2foutside%2fsecret.mp4",
            f"/{MOVIE_PATH}/..%2f..%2foutside/0",
            f"/{MOVIE_PATH}/{token}/%2e%2e/video.nwb",
            f"/{MOVIE_PATH}/{token}/camera_side.mp4",
            f"/{MOVIE_PATH}/{token}/-1",
        ):
            status, body = _get(served, path)
            assert status == 404, path
            assert SECRET not in body
    finally:
        revoke(token)


def test_an_nwb_file_naming_a_place_outside_the_roots_is_refused(served, places):
    secret = places["outside"] / "secret.mp4"
    names = ["../../outside/secret.mp4", str(secret), "escape.mp4", "../" * 20 + "etc/passwd"]
    token = grant(str(places["root"] / "a" / "video.nwb"), names)
    try:
        for number in range(len(names)):
            status, body = _get(served, f"/{MOVIE_PATH}/{token}/{number}")
            assert status == 403, names[number]
            assert SECRET not in body
            if "outside" not in names[number]:  # a symlink's target is never told
                assert str(places["outside"]) not in body.decode()
    finally:
        revoke(token)


def test_a_token_reaches_only_its_own_sessions_file(served, places):
    mine = grant(str(places["root"] / "a" / "video.nwb"), ["camera_side.mp4"])
    theirs = grant(str(places["root"] / "b" / "video.nwb"), ["camera_top_part1.mp4", "camera_top_part2.mp4"])
    try:
        theirs_data = (places["root"] / "b" / "camera_top_part2.mp4").read_bytes()
        assert _get(served, f"/{MOVIE_PATH}/{theirs}/1") == (206, theirs_data)
        assert _get(served, f"/{MOVIE_PATH}/{mine}/1")[0] == 404  # my token has one movie, not their second
        guessed = secrets.token_urlsafe(24)
        assert _get(served, f"/{MOVIE_PATH}/{guessed}/0")[0] == 404
        assert _get(served, f"/{MOVIE_PATH}/{theirs[:-1]}/0")[0] == 404  # one character short
        revoke(theirs)  # their session ended: its token serves nothing, to anyone
        assert _get(served, f"/{MOVIE_PATH}/{theirs}/1")[0] == 404
    finally:
        revoke(mine)
        revoke(theirs)
