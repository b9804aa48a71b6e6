"""Synced video of a remote NWB file: reading the cameras' timing, and a seek through the app's movie route.

A seek is what a browser's ``<video>`` asks when the window moves: one range of the movie from
``<prefix>/nwb-movie/<token>/<n>``, which the route reads from the sibling URL of the NWB file.
The first seek of a movie also probes its size (one more request); later seeks cost one request
each. The baseline is what a user does without the route: download the whole movie, then seek.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from components.nwb.movie_grants import MOVIE_PATH, grant, revoke
from components.nwb.movie_route import movie_routes
from engines.io.policy import SourcePolicy
from engines.nwb.external_movies import _SIZES
from engines.nwb.extract.video import read_video_series, video_series_paths
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from tests.support.nwb_files.video import write_video_nwb
from tests.support.range_server import RangeServerProcess
from tests.support.tornado_app import serve_routes

SEEK_BYTES = 64 << 10


def _timing_s(url: str, policy: SourcePolicy, runs: int) -> float:
    """Open the remote file (first visit: a fresh index) and read every camera's timing."""
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            nwb = open_nwb(url, policy, IndexStore(Path(folder)))
            for path in video_series_paths(nwb.index):
                read_video_series(nwb, path)
            times.append(time.perf_counter() - started)
            nwb.close()
    return statistics.median(times)


def _seek(base: str, token: str) -> float:
    started = time.perf_counter()
    answer = requests.get(f"{base}/{MOVIE_PATH}/{token}/0", headers={"Range": "bytes=0-65535"}, timeout=30)
    assert answer.status_code == 206, answer.status_code
    return time.perf_counter() - started


def measure(server: RangeServerProcess, data: Path, runs: int) -> dict[str, Any]:
    nwb_path = data / "video" / "video.nwb"
    if not nwb_path.exists():
        write_video_nwb(nwb_path)
    root = server.root
    url = server.url_for(nwb_path.resolve().relative_to(root))
    movie_url = server.url_for((nwb_path.parent / "camera_side.mp4").resolve().relative_to(root))
    with tempfile.TemporaryDirectory() as workspace:
        policy = SourcePolicy(workspace=Path(workspace), allow_private_urls=True)
        timing_s = _timing_s(url, policy, runs)
        token = grant(url, ["camera_side.mp4"])
        try:
            with serve_routes(movie_routes(lambda: policy)) as base:
                first, later, requests_per_seek = [], [], []
                for _ in range(runs):
                    _SIZES.clear()
                    first.append(_seek(base, token))
                    assert server.log is not None
                    server.log.clear()
                    later.append(_seek(base, token))
                    requests_per_seek.append(server.log.count)
        finally:
            revoke(token)
    download = []
    for _ in range(runs):
        started = time.perf_counter()
        requests.get(movie_url, timeout=30).raise_for_status()
        download.append(time.perf_counter() - started)
    seek_s = statistics.median(later)
    print(
        f"video: timing of 2 cameras {timing_s:.3f} s; first seek {statistics.median(first) * 1000:.0f} ms, "
        f"later seeks {seek_s * 1000:.0f} ms ({max(requests_per_seek)} request each); "
        f"whole-movie download {statistics.median(download) * 1000:.0f} ms"
    )
    return {
        "video_timing_s": round(timing_s, 3),
        "video_first_seek_s": round(statistics.median(first), 3),
        "video_seek_s": round(seek_s, 3),
        "video_seek_requests": max(requests_per_seek),
        "video_download_s": round(statistics.median(download), 3),
    }
