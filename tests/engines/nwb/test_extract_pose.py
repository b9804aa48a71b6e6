"""Pose estimation (ndx-pose) read from the index and HDF5: nodes, skeleton, video, keypoint windows.

The reference is what pynwb with ndx-pose reads from the same generated file.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from engines.io.policy import SourcePolicy
from engines.nwb.extract import UnsupportedData
from engines.nwb.extract import pose as pose_module
from engines.nwb.extract.pose import pose_layout, read_pose_window, read_video_frame
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import NwbFile, open_nwb
from tests.support.nwb_files.pose import EDGES, NODES, POSE_PATH, RATE, node_path, write_pose_nwb
from tests.support.range_server import RangeServer

VIDEO = "/acquisition/behavior_video"


@pytest.fixture(scope="module")
def pose_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pose")
    write_pose_nwb(folder / "pose.nwb")
    return folder


def _open(path: Path | str, folder: Path, tmp_path: Path) -> NwbFile:
    policy = SourcePolicy(
        workspace=tmp_path, allowed_roots=(folder, tmp_path), allow_private_urls=True, request_timeout_s=5.0
    )
    return open_nwb(str(path), policy, IndexStore(tmp_path))


@pytest.fixture
def pose_file(pose_dir: Path, tmp_path: Path):
    nwb = _open(pose_dir / "pose.nwb", pose_dir, tmp_path)
    yield nwb
    nwb.close()


def test_index_knows_pose_types_through_the_files_cached_namespace(pose_file):
    series = f"{POSE_PATH}/nose"
    assert pose_file.index.is_a(series, "SpatialSeries") and pose_file.index.is_a(series, "TimeSeries")
    assert pose_file.index.is_a(POSE_PATH, "NWBDataInterface")


def test_layout_lists_nodes_skeleton_and_in_file_video(pose_file):
    layout = pose_layout(pose_file, POSE_PATH)
    assert layout.nodes == list(NODES)
    assert layout.edges == list(EDGES)
    assert layout.skeleton == "/processing/behavior/Skeletons/mouse"
    assert layout.video == VIDEO
    assert layout.n_dims == 2 and layout.unit == "pixels"
    assert layout.time_range == pytest.approx((0.0, 299 / RATE))
    assert layout.problems == []
    assert pose_layout(pose_file, f"{POSE_PATH}/left_ear").path == POSE_PATH  # a series opens its estimation


def test_trajectories_equal_what_pynwb_with_ndx_pose_reads(pose_dir, pose_file):
    import ndx_pose  # noqa: F401  (registers the extension's classes with pynwb)
    from pynwb import NWBHDF5IO

    window = read_pose_window(pose_file, pose_layout(pose_file, POSE_PATH), 3.5, 4.5)
    with NWBHDF5IO(str(pose_dir / "pose.nwb"), "r") as io:
        estimation = io.read().processing["behavior"]["PoseEstimation"]
        for trajectory in window.trajectories:
            series = estimation.pose_estimation_series[trajectory.node]
            times = np.asarray(series.timestamps[:])
            rows = (times >= 3.5) & (times < 4.5)
            np.testing.assert_allclose(trajectory.t, times[rows])
            np.testing.assert_allclose(trajectory.xyz, np.asarray(series.data[:])[rows])
            np.testing.assert_allclose(trajectory.confidence, np.asarray(series.confidence[:])[rows])
    nose = window.trajectories[0]
    np.testing.assert_allclose(nose.xyz, node_path(nose.t, 0), atol=1e-4)  # the known path
    assert nose.confidence[nose.t < 4.0].min() > 0.9 and nose.confidence[nose.t >= 4.0].max() < 0.2


def test_a_window_reads_only_its_rows(pose_file, monkeypatch):
    selections: list[tuple[str, object]] = []
    original = pose_module.read

    def recording(f, info, selection=()):
        selections.append((info.path, selection))
        return original(f, info, selection)

    monkeypatch.setattr(pose_module, "read", recording)
    layout = pose_layout(pose_file, POSE_PATH)
    selections.clear()
    window = read_pose_window(pose_file, layout, 4.0, 4.3)
    assert window.rows_read == 4 * 9 and window.step == 1
    reads = {path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]: s for path, s in selections}
    assert set(reads) == {f"{n}/{d}" for n in NODES for d in ("data", "confidence")}
    assert all(s == slice(120, 129, 1) for s in reads.values())


def test_remote_reads_through_the_range_server_match_local(pose_dir, pose_file, tmp_path):
    with RangeServer(pose_dir) as server:
        remote = _open(server.url_for("pose.nwb"), pose_dir, tmp_path / "remote")
        try:
            got = read_pose_window(remote, pose_layout(remote, POSE_PATH), 1.0, 2.0)
            frame = read_video_frame(remote, VIDEO, 1.5)
        finally:
            remote.close()
    want = read_pose_window(pose_file, pose_layout(pose_file, POSE_PATH), 1.0, 2.0)
    for a, b in zip(got.trajectories, want.trajectories, strict=True):
        np.testing.assert_array_equal(a.xyz, b.xyz)
    assert frame.index == 45


def test_long_window_is_read_every_kth_frame(pose_file):
    window = read_pose_window(pose_file, pose_layout(pose_file, POSE_PATH), 0.0, 10.0, max_points=50)
    assert window.step == 6 and len(window.trajectories[0].t) == 50


def test_video_frame_at_a_time_shows_the_nose(pose_file):
    frame = read_video_frame(pose_file, VIDEO, 4.01)
    assert frame.index == 120 and frame.time == pytest.approx(4.0)
    x, y = np.rint(node_path(np.array([4.0]), 0)[0]).astype(int)
    assert frame.image[y, x] == 230 and frame.image[0, 0] == 20


def test_missing_skeleton_and_video_are_said(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    write_pose_nwb(folder / "bare.nwb", with_skeleton=False, with_video=False)
    nwb = _open(folder / "bare.nwb", folder, tmp_path)
    try:
        layout = pose_layout(nwb, POSE_PATH)
    finally:
        nwb.close()
    assert layout.edges == [] and layout.skeleton is None and layout.video is None
    assert sorted(layout.nodes) == sorted(NODES)
    text = " ".join(layout.problems)
    assert "no Skeleton" in text and "No video" in text


def _shorten(path: Path, dataset: str, rows: int) -> None:
    with h5py.File(path, "r+") as f:
        values = f[dataset][:rows]
        attrs = dict(f[dataset].attrs)
        del f[dataset]
        f.create_dataset(dataset, data=values)
        f[dataset].attrs.update(attrs)


def test_mismatched_lengths_leave_the_node_out_and_say_why(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    path = write_pose_nwb(folder / "mismatch.nwb")
    _shorten(path, f"{POSE_PATH}/left_ear/confidence", 250)
    nwb = _open(path, folder, tmp_path)
    try:
        layout = pose_layout(nwb, POSE_PATH)
    finally:
        nwb.close()
    assert "left_ear" not in layout.nodes and len(layout.nodes) == 3
    assert any("left_ear" in p and "300 positions but 250 confidence" in p for p in layout.problems)
    named = {(layout.nodes[a], layout.nodes[b]) for a, b in layout.edges}
    assert named == {("nose", "right_ear"), ("right_ear", "tail_base")}  # the edges to left_ear are left out


def test_no_drawable_node_raises_with_every_reason(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    path = write_pose_nwb(folder / "broken.nwb", node_names=["a", "b"])
    _shorten(path, f"{POSE_PATH}/a/data", 10)
    _shorten(path, f"{POSE_PATH}/b/confidence", 5)
    nwb = _open(path, folder, tmp_path)
    try:
        with pytest.raises(UnsupportedData, match="No keypoints") as caught:
            pose_layout(nwb, POSE_PATH)
    finally:
        nwb.close()
    assert "'a' has 10 positions but 300 timestamps" in str(caught.value)
    assert "'b' has 300 positions but 5 confidence" in str(caught.value)


def test_three_d_keypoints_keep_z(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    nwb = _open(write_pose_nwb(folder / "3d.nwb", three_d=True), folder, tmp_path)
    try:
        layout = pose_layout(nwb, POSE_PATH)
        window = read_pose_window(nwb, layout, 0.0, 1.0)
    finally:
        nwb.close()
    assert layout.n_dims == 3
    assert window.trajectories[3].xyz.shape == (30, 3) and np.all(window.trajectories[3].xyz[:, 2] == 30.0)
