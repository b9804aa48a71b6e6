"""Frame <-> time of ImageSeries as video; their movie files found beside the NWB file (local, remote)."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from engines.io.errors import SourceError, SourceNotAllowed, SourceNotFound
from engines.io.policy import SourcePolicy
from engines.nwb.external_movies import movie_type, open_movie
from engines.nwb.extract.errors import UnsupportedData
from engines.nwb.extract.video import read_video_series, video_series_paths
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from tests.conftest import DATA_DIR
from tests.support.nwb_files.video import FPS, N_FRAMES, write_video_nwb
from tests.support.range_server import RangeServer


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("video") / "files"
    write_video_nwb(folder / "video.nwb")
    return folder


@pytest.fixture
def video_policy(video_dir: Path, workspace: Path) -> SourcePolicy:
    return SourcePolicy(
        workspace=workspace,
        allowed_roots=(video_dir, workspace),
        allow_private_urls=True,
        request_timeout_s=3.0,
    )


@pytest.fixture
def video_file(video_dir, video_policy, workspace):
    return open_nwb(str(video_dir / "video.nwb"), video_policy, IndexStore(workspace))


def test_the_cameras_are_the_series_with_movie_files(video_file):
    assert video_series_paths(video_file.index) == ["/acquisition/camera_side", "/acquisition/camera_top"]


def test_starting_time_and_rate_map_frames_to_times_and_movie_seconds(video_file):
    side = read_video_series(video_file, "/acquisition/camera_side")
    assert side.external_files == ("camera_side.mp4",)
    assert side.timing.n_frames == N_FRAMES and side.timing.rate == FPS
    assert side.timing.frame_at(2.55) == 25 and side.timing.time_of(25) == pytest.approx(2.5)
    assert side.timing.frame_at(-3) == 0 and side.timing.frame_at(99) == N_FRAMES - 1
    assert side.movie_time(2.5) == (0, pytest.approx(2.55))  # the middle of frame 25
    # a movie encoded at another rate: its measured length spreads the same 40 frames over 2 s
    assert side.movie_time(2.5, {0: 2.0}) == (0, pytest.approx(1.275))
    assert side.series_time(0, 1.275, 2.0) == pytest.approx(2.5)


def test_timestamps_and_starting_frame_pick_the_file_and_the_frame_in_it(video_file):
    top = read_video_series(video_file, "/acquisition/camera_top")
    assert top.starting_frames == (0, 20)
    assert top.file_of(19) == (0, 19) and top.file_of(20) == (1, 0)
    assert top.frames_in_file(0) == 20 and top.frames_in_file(1) == 20
    assert top.movie_time(2.5) == (1, pytest.approx(0.45))  # t=2.5 shows frame 24 (t=2.45), the 5th of file 2
    assert top.series_time(1, 0.45) == pytest.approx(2.45)
    for frame in range(N_FRAMES):  # every frame goes to its movie and back
        t = top.timing.time_of(frame)
        which, seconds = top.movie_time(t, {0: 2.0, 1: 2.0})
        assert top.series_time(which, seconds, 2.0) == pytest.approx(t)


def test_frames_inside_the_file_are_video_too(video_file):
    inside = read_video_series(video_file, "/acquisition/frames_inside")
    assert inside.in_file and inside.timing.n_frames == 20
    assert inside.timing.frame_at(1.0) == 5 and inside.timing.frame_rate == 5.0


def test_a_starting_frame_that_does_not_fit_its_files_is_a_clear_error(video_dir, video_policy, workspace):
    copy = workspace / "bad.nwb"
    shutil.copy(video_dir / "video.nwb", copy)
    with h5py.File(copy, "r+") as h5:
        h5["acquisition/camera_top/external_file"].attrs["starting_frame"] = np.array([0])
    with pytest.raises(UnsupportedData, match="starting_frame"):
        read_video_series(open_nwb(str(copy), video_policy, IndexStore(workspace)), "/acquisition/camera_top")


def test_a_local_movie_is_read_beside_its_nwb_file(video_dir, video_policy):
    movie = open_movie(str(video_dir / "video.nwb"), "camera_side.mp4", video_policy)
    data = (video_dir / "camera_side.mp4").read_bytes()
    assert movie.size == len(data) and movie.read(10, 200) == data[10:200]
    assert movie.read(movie.size - 5, movie.size + 100) == data[-5:]
    assert movie_type(movie.name) == "video/mp4"


def test_local_movie_names_cannot_leave_the_roots(video_dir, video_policy, tmp_path):
    secret = tmp_path / "outside" / "secret.mp4"
    secret.parent.mkdir()
    secret.write_bytes(b"secret")
    nwb = str(video_dir / "video.nwb")
    relative = Path("..") / ".." / secret.relative_to(tmp_path)
    (video_dir / "link.mp4").symlink_to(secret)
    for name in (str(relative), str(secret), "link.mp4", "../" * 12 + "etc/passwd"):
        with pytest.raises(SourceNotAllowed):
            open_movie(nwb, name, video_policy)
    with pytest.raises(SourceNotAllowed):
        open_movie(nwb, "https://example.org/movie.mp4", video_policy)
    with pytest.raises(SourceNotFound):
        open_movie(nwb, "missing.mp4", video_policy)
    with pytest.raises(SourceNotAllowed, match="NWB file itself"):
        open_movie(nwb, "video.nwb", video_policy)


def test_a_remote_movie_is_the_sibling_url_read_by_range(video_dir, video_policy):
    data = (video_dir / "camera_top_part2.mp4").read_bytes()
    with RangeServer(video_dir) as server:
        movie = open_movie(server.url_for("video.nwb"), "camera_top_part2.mp4", video_policy)
        assert movie.size == len(data) and movie.read(100, 400) == data[100:400]
        assert any("camera_top_part2.mp4" in entry[0] for entry in server.log.entries)
        for name in ("https://example.org/x.mp4", "/etc/passwd", "//example.org/x.mp4"):
            with pytest.raises(SourceNotAllowed):
                open_movie(server.url_for("video.nwb"), name, video_policy)
        with pytest.raises(SourceError):
            open_movie(server.url_for("video.nwb"), "missing.mp4", video_policy)


def test_one_file_per_frame_with_a_lone_starting_frame_is_read_as_such(policy, index_store):
    """A real stimulus series: 90 movie files, 90 timestamps, and ``starting_frame`` [0]."""
    f = open_nwb(str(DATA_DIR / "sub-4_ses-4_ecephys+image.nwb"), policy, index_store)
    stimuli = read_video_series(f, "/stimulus/presentation/StimulusPresentation_encoding")
    assert len(stimuli.external_files) == 90 and stimuli.starting_frames == tuple(range(90))
    assert stimuli.movie_time(stimuli.timing.time_of(5))[0] == 5
    f.close()
