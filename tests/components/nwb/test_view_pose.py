"""The pose view renders to Bokeh models, follows the shared window, and says what a file lacks."""

from __future__ import annotations

from pathlib import Path

import holoviews as hv
import panel as pn
import param
import pytest

from components.background import BackgroundWork
from components.nwb.controller import NwbFileController
from components.nwb.views import view_by_id, views_for
from components.nwb.views.pose import PoseView
from engines.io.policy import SourcePolicy
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import NwbFile, open_nwb
from tests.support.nwb_files.pose import NODES, POSE_PATH, write_pose_nwb

XSS_NODE = "<img src=x onerror=alert(1)>"


def _open(path: Path, tmp_path: Path) -> NwbFile:
    policy = SourcePolicy(workspace=tmp_path, allowed_roots=(path.parent, tmp_path))
    return open_nwb(str(path), policy, IndexStore(tmp_path))


@pytest.fixture
def opened(tmp_path: Path):
    files: list[NwbFile] = []

    def open_written(**options) -> NwbFile:
        folder = tmp_path / f"files{len(files)}"
        folder.mkdir()
        nwb = _open(write_pose_nwb(folder / "pose.nwb", **options), tmp_path / f"ws{len(files)}")
        files.append(nwb)
        return nwb

    yield open_written
    for nwb in files:
        nwb.close()


def _drag(slider: pn.widgets.FloatSlider, value: float) -> None:
    """What a drag that ends at ``value`` sets (``value_throttled`` is the widget's, set on release)."""
    with param.edit_constant(slider):
        slider.param.update(value=value, value_throttled=value)


def _render(view: PoseView) -> None:
    pn.panel(view.__panel__()).get_root()


def test_pose_view_is_the_first_view_of_an_estimation_and_its_series(opened):
    nwb = opened()
    assert view_by_id("pose") is PoseView
    assert views_for(nwb.index, POSE_PATH)[0] is PoseView
    assert views_for(nwb.index, f"{POSE_PATH}/nose")[0] is PoseView
    assert not PoseView.applies(nwb.index, "/acquisition/behavior_video")


def test_renders_nodes_skeleton_frame_and_plots(opened):
    view = PoseView(opened(), POSE_PATH)
    _render(view)
    assert "4 nodes" in view._status.object and "skeleton mouse (4 edges)" in view._status.object
    assert "frame 151 of 300" in view._status.object
    for node in NODES:
        assert f"{node} |" in view._table.object
    picture = view._skeleton.object
    assert isinstance(picture, hv.Overlay)
    assert [type(e).__name__ for e in picture] == ["Image", "Segments", "Points", "Labels"]
    assert len(picture.Segments.I.data) == 4  # every edge drawn at t = 5 s (confidence 0.95)
    assert len(view._plots) == 3  # x, y and confidence


def test_a_series_shows_its_estimation_and_says_so(opened):
    view = PoseView(opened(), f"{POSE_PATH}/right_ear")
    _render(view)
    assert "'right_ear' is one node of '/processing/behavior/PoseEstimation'" in view._status.object
    assert "4 nodes" in view._status.object


def test_threshold_hides_low_confidence_points_and_time_moves_the_frame(opened):
    view = PoseView(opened(), POSE_PATH)
    _render(view)
    _drag(view._time, 4.5)  # inside the dip: confidence 0.1
    assert view._table.object.count("hidden") == len(NODES)
    assert len(view._skeleton.object.Points.I.data) == 0
    assert "frame 136 of 300" in view._status.object
    _drag(view._threshold, 0.05)
    assert "hidden" not in view._table.object
    assert len(view._skeleton.object.Points.I.data) == len(NODES)


def test_follows_the_shared_time_window(opened):
    controller = NwbFileController(object_path=POSE_PATH, time_window=(2.0, 3.0))
    view = PoseView(opened(), POSE_PATH, controller=controller, work=BackgroundWork())
    _render(view)
    assert "Window **2.000 – 3.000 s**" in view._status.object and "120 rows read" in view._status.object
    controller.set_window(6.0, 8.0)
    assert (view._time.start, view._time.end, view._time.value) == (6.0, 8.0, 7.0)
    assert "Window **6.000 – 8.000 s**" in view._status.object and "frame 211 of 300" in view._status.object
    controller.set_window(20.0, 30.0)  # after the recording: said, not an empty plot without a word
    assert "no keypoints in this window (they span 0.000 – 9.967 s)" in view._status.object


def test_crafted_node_names_are_escaped(opened):
    view = PoseView(opened(node_names=[XSS_NODE, "b", "c", "d"]), POSE_PATH)
    _render(view)
    assert "<img" not in view._table.object and "&#60;img src=x onerror=alert(1)&#62;" in view._table.object


def test_missing_skeleton_video_and_three_d_are_said(opened):
    view = PoseView(opened(with_skeleton=False, with_video=False, three_d=True), POSE_PATH)
    _render(view)
    text = view._status.object
    assert "no skeleton" in text and "has no Skeleton, so no edges are drawn" in text
    assert "No video of these poses is stored in this file" in text
    assert "3-D: they are drawn as their x/y projection" in text
    assert [type(e).__name__ for e in view._skeleton.object][0] == "Points"  # blank axes, no image
