"""The video view on the shared window: a window seeks every camera, a seek or playback moves the window,
its grant lives exactly as long as the view."""

from __future__ import annotations

from pathlib import Path

import panel as pn
import pytest

from components.nwb.controller import NwbFileController
from components.nwb.movie_grants import lookup
from components.nwb.views.video import VideoView
from engines.io.policy import SourcePolicy
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import open_nwb
from tests.support.nwb_files.video import write_video_nwb


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("video-view")
    write_video_nwb(folder / "video.nwb")
    return folder


@pytest.fixture
def nwb(video_dir, workspace):
    policy = SourcePolicy(workspace=workspace, allowed_roots=(video_dir,))
    f = open_nwb(str(video_dir / "video.nwb"), policy, IndexStore(workspace))
    yield f
    f.close()


def _view(nwb, path: str, window=(2.0, 4.0)) -> VideoView:
    view = VideoView(nwb, path, controller=NwbFileController(time_window=window))
    pn.panel(view.__panel__()).get_root()  # all the way to Bokeh models
    return view


def _token(view: VideoView) -> str:
    return view._parts[0].player.src.split("/")[-2]


def test_the_window_seeks_both_cameras_and_the_grant_ends_with_the_view(nwb):
    view = _view(nwb, "/acquisition/camera_side")
    side, top = view._parts
    assert side.player.seek_to == pytest.approx(2.05) and top.player.seek_to == pytest.approx(1.95)
    assert "frame 21 · t = 2.000 s" in side.caption.object  # frame numbers count from 1 for people
    assert "file 1 of 2 · frame 20 · t = 1.950 s" in top.caption.object
    assert side.player.src.endswith("nwb-movie/" + _token(view) + "/0") and top.player.src.endswith("/1")
    grant = lookup(_token(view))
    assert grant is not None and grant.names == (
        "camera_side.mp4",
        "camera_top_part1.mp4",
        "camera_top_part2.mp4",
    )
    view.controller.set_window(3.0, 5.0)  # another view's zoom, or a deep link
    assert side.player.seek_to == pytest.approx(3.05)
    assert top.player.src.endswith("/2") and top.player.seek_to == pytest.approx(0.95)
    token = _token(view)
    view.dispose()
    assert lookup(token) is None


def test_a_seek_moves_the_window_keeping_its_width(nwb):
    view = _view(nwb, "/acquisition/camera_side")
    side, top = view._parts
    side.player.time = 1.27  # the browser reports a person's seek: frame 12
    assert view.controller.time_window == pytest.approx((1.2, 3.2))
    assert top.player.seek_to == pytest.approx(1.15)  # the top camera's frame 11 (t = 1.15)
    top.player.time = 0.33  # a seek on the other camera moves the window too: its frame 3, t = 0.35
    assert view.controller.time_window == pytest.approx((0.35, 2.35))
    view.dispose()


def test_while_playing_the_selected_camera_leads_and_the_others_play_along(nwb):
    view = _view(nwb, "/acquisition/camera_side")
    side, top = view._parts
    side.player.playing = True
    assert top.player.playing
    top.player.time = 3.5  # a follower's playback reports do not move the window
    assert view.controller.time_window == pytest.approx((2.0, 4.0))
    side.player.time = 2.57  # the leader's do
    assert view.controller.time_window == pytest.approx((2.5, 4.5))
    view.dispose()


def test_a_series_in_two_files_plays_on_into_the_second(nwb):
    view = _view(nwb, "/acquisition/camera_top", window=(1.0, 2.0))
    top = view._parts[0]
    assert top.player.src.endswith("/0") and view._parts[1].player.src.endswith("/2")  # the selected first
    top.player.playing = True
    top.player.ended += 1
    assert view.controller.time_window == pytest.approx((2.05, 3.05))  # the first frame of the second file
    assert top.player.src.endswith("/1") and top.player.seek_to == pytest.approx(0.05) and top.player.playing
    view.dispose()


def test_a_movie_the_browser_cannot_play_says_why_escaped(nwb):
    view = _view(nwb, "/acquisition/camera_side")
    side = view._parts[0]
    side.player.error = "No file at '<img src=x onerror=alert(1)>.mp4'."
    assert "does not play here" in side.caption.object
    assert "<img" not in side.caption.object
    view.dispose()


def test_frames_inside_the_file_follow_the_window(nwb):
    view = _view(nwb, "/acquisition/frames_inside", window=(1.0, 2.0))
    frames = view._parts[0]
    assert frames.caption.object.startswith("Frame 6 of 20 · t = 1.000 s")
    view.controller.set_window(2.0, 3.0)
    assert frames.caption.object.startswith("Frame 11 of 20")
    frames._step()  # one tick of playback: the next frame's time
    assert view.controller.time_window == pytest.approx((2.2, 3.2))
    view.dispose()
