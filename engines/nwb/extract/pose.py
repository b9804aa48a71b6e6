"""Pose estimation (ndx-pose): a PoseEstimation's nodes, skeleton and video, and keypoints over a time window.

Read from the index and the HDF5 datasets like every extractor (no pynwb objects: building
ndx-pose's containers costs a remote file the whole object tree, and reading needs no ndx-pose
code, only the layout its schema fixes). A PoseEstimation holds one PoseEstimationSeries per
node (data (frames, 2|3), optional confidence (frames,)), links its Skeleton (nodes, edges)
under the skeleton's own name (ndx-pose < 0.2 kept ``nodes``/``edges`` in the group itself),
and names its video with a ``source_video`` link (``original_videos`` text before 0.4).

Video frames are taken as (frame, row, column[, colour]) with keypoint x along columns and y
along rows, which is how pose tools and converters store them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TypeGuard

import numpy as np

from engines.errors import NeurodeckError
from engines.nwb.extract._clock import series_clock
from engines.nwb.extract._common import as_text, attr_float, attr_text, child, is_numeric, read
from engines.nwb.extract._search import SortedColumn
from engines.nwb.extract.errors import InvalidRequest, UnsupportedData
from engines.nwb.extract.images import Frame, count_frames, read_frame
from engines.nwb.extract.timeseries import DEFAULT_WINDOW_S, SeriesLayout, series_layout
from engines.nwb.index import ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = ["PoseLayout", "Trajectory", "PoseWindow", "pose_layout", "read_pose_window", "read_video_frame"]

_MICROSCOPY = ("TwoPhotonSeries", "OnePhotonSeries")


@dataclass
class PoseLayout:
    """What a PoseEstimation holds, from the index (plus its skeleton's small datasets)."""

    path: str
    nodes: list[str]
    series: dict[str, str]
    """Node name -> its PoseEstimationSeries path, for the nodes that can be read."""
    edges: list[tuple[int, int]]
    """Pairs of indices into ``nodes``."""
    skeleton: str | None
    n_dims: int
    unit: str
    video: str | None
    """An in-file ImageSeries to draw the skeleton over, or None."""
    time_range: tuple[float, float]
    problems: list[str] = field(default_factory=list)
    """What is wrong or missing, in words (left-out nodes, no skeleton, no video)."""


@dataclass
class Trajectory:
    """One node's positions in a window (every ``step``-th frame), scaled to the series' unit."""

    node: str
    t: np.ndarray
    xyz: np.ndarray
    confidence: np.ndarray | None


@dataclass
class PoseWindow:
    t_start: float
    t_stop: float
    trajectories: list[Trajectory]
    step: int
    rows_read: int


def _pose_group(f: NwbFile, path: str) -> str:
    """The PoseEstimation of ``path`` (itself, or the parent of one of its series)."""
    info = f.resolve(path)
    if f.index.is_a(info.path, "PoseEstimation"):
        return info.path
    parent = info.parent
    if f.index.is_a(info.path, "PoseEstimationSeries") and parent and f.index.is_a(parent, "PoseEstimation"):
        return parent
    raise UnsupportedData(f"'{path}' is not a PoseEstimation or one of its PoseEstimationSeries.")


def _series_problem(f: NwbFile, path: str) -> str | None:
    """Why this series cannot be drawn, or None (index only)."""
    try:
        series = series_layout(f, path)
    except NeurodeckError as exc:
        return str(exc)
    rows, name = (series.data.shape or [0])[0], path.rsplit("/", 1)[-1]
    if len(series.data.dims) != 2 or series.n_channels not in (2, 3):
        return f"node '{name}' has data of shape {tuple(series.data.dims)}; positions need (frames, 2 or 3)."
    times = child(f, path, "timestamps")
    if times is not None and times.dims[0] != rows:
        return f"node '{name}' has {rows} positions but {times.dims[0]} timestamps; the file needs fixing."
    confidence = child(f, path, "confidence")
    if confidence is not None and (not is_numeric(confidence) or confidence.dims[:1] != [rows]):
        size = confidence.dims[0] if confidence.dims else 0
        return f"node '{name}' has {rows} positions but {size} confidence values; the file needs fixing."
    return None


def _members(f: NwbFile, group: str) -> dict[str, str]:
    """Name -> path of the objects in ``group``, links followed; links to nothing in this file left out."""
    found = {}
    for info in f.index.children(group):
        try:
            found[info.name] = f.resolve(info.path).path
        except NeurodeckError:  # a dangling link, or one into another file
            continue
    return found


def _skeleton(f: NwbFile, group: str) -> tuple[str | None, list[str], np.ndarray]:
    """(skeleton path, node names, edges) from the linked Skeleton or the group's own ``nodes``/``edges``."""
    linked = [path for path in _members(f, group).values() if f.index.is_a(path, "Skeleton")]
    where = linked[0] if linked else group
    nodes, edges = child(f, where, "nodes"), child(f, where, "edges")
    no_edges = np.empty((0, 2), dtype=np.int64)
    if nodes is None:
        return None, [], no_edges
    names = [as_text(n) for n in np.atleast_1d(read(f, nodes))]
    if edges is None or not is_numeric(edges) or len(edges.dims) != 2 or edges.dims[1] != 2:
        return where, names, no_edges
    return where, names, np.asarray(read(f, edges), dtype=np.int64)


def _in_file_video(info: ObjectInfo | None, f: NwbFile) -> TypeGuard[ObjectInfo]:
    """An ImageSeries (not microscopy) whose frames are in this file."""
    data = child(f, info.path, "data") if info is not None and info.kind == "group" else None
    return (
        data is not None
        and info is not None
        and f.index.is_a(info.path, "ImageSeries")
        and not any(f.index.is_a(info.path, t) for t in _MICROSCOPY)
        and len(data.dims) in (3, 4)
        and data.dims[0] > 0
        and is_numeric(data)
    )


def _video(f: NwbFile, group: str, n_frames: int) -> tuple[str | None, str | None]:
    """(in-file video path, a note on how it was found or why there is none)."""
    for name in ("source_video", "labeled_video"):
        linked = child(f, group, name)
        if _in_file_video(linked, f):
            return linked.path, None
    named = child(f, group, "original_videos")
    files = np.atleast_1d(read(f, named)) if named is not None else np.empty(0, dtype=object)
    wanted = {as_text(v).rsplit("/", 1)[-1].rsplit(".", 1)[0] for v in files}  # file stems
    videos = [i for i in f.index.find_by_type("ImageSeries") if _in_file_video(i, f)]
    by_name = [i.path for i in videos if i.name in wanted]
    if by_name:
        return by_name[0], None
    same_length = [i.path for i in videos if count_frames(f, i.path) == n_frames]
    if len(same_length) == 1 or len(videos) == 1:
        path = same_length[0] if len(same_length) == 1 else videos[0].path
        return path, f"The PoseEstimation names no video; '{path}' is the in-file video shown (assumed)."
    return None, "No video of these poses is stored in this file, so the skeleton is drawn on blank axes."


def pose_layout(f: NwbFile, path: str) -> PoseLayout:
    """The nodes, skeleton and video of the PoseEstimation at ``path`` (or of the series at ``path``).

    Index only, plus the skeleton's ``nodes``/``edges`` and ``original_videos`` (small, usually held by
    the index) and the first and last timestamps of one series. Nodes that cannot be drawn are left
    out and said why in ``problems``; a PoseEstimation with no drawable node raises.
    """
    group = _pose_group(f, path)
    series_paths = {n: p for n, p in _members(f, group).items() if f.index.is_a(p, "PoseEstimationSeries")}
    checked = {n: _series_problem(f, p) for n, p in series_paths.items()}
    problems = [problem for problem in checked.values() if problem]
    good = {n: series_paths[n] for n, problem in checked.items() if problem is None}
    if not good:
        why = " ".join(problems) or f"'{group}' holds no PoseEstimationSeries."
        raise UnsupportedData(f"No keypoints of '{group}' can be drawn. {why}")
    skeleton, skeleton_nodes, pairs = _skeleton(f, group)
    if skeleton is None:
        problems.append("This PoseEstimation has no Skeleton, so no edges are drawn: only the keypoints.")
    nodes = [n for n in skeleton_nodes if n in good] + sorted(n for n in good if n not in skeleton_nodes)
    missing = [n for n in skeleton_nodes if n not in series_paths]
    if missing:
        problems.append(f"Skeleton nodes without a PoseEstimationSeries: {', '.join(missing)}.")
    bad = [
        (int(a), int(b))
        for a, b in pairs
        if not (0 <= a < len(skeleton_nodes) and 0 <= b < len(skeleton_nodes))
    ]
    if bad:
        problems.append(
            f"{len(bad)} skeleton edge(s) name nodes the skeleton does not have; they are left out."
        )
    position = {name: i for i, name in enumerate(nodes)}
    edges = [
        (position[skeleton_nodes[a]], position[skeleton_nodes[b]])
        for a, b in pairs
        if (int(a), int(b)) not in bad and skeleton_nodes[a] in position and skeleton_nodes[b] in position
    ]
    first = series_layout(f, good[nodes[0]])
    video, note = _video(f, group, first.n_samples)
    if note:
        problems.append(note)
    return PoseLayout(
        path=group,
        nodes=nodes,
        series={n: good[n] for n in nodes},
        edges=edges,
        skeleton=skeleton,
        n_dims=first.n_channels,
        unit=attr_text(first.data, "unit", ""),
        video=video,
        time_range=first.time_range(),
        problems=problems,
    )


def _read_node(
    f: NwbFile, node: str, series: SeriesLayout, t0: float, t1: float, max_points: int
) -> tuple[Trajectory, int]:
    """The rows of [t0, t1) of one series, every k-th when there are more than ``max_points``; and k."""
    i0, i1 = series.index_range(t0, t1)
    step = max(1, math.ceil((i1 - i0) / max_points))
    rows = slice(i0, i1, step)
    xyz = np.asarray(read(f, series.data, rows), dtype=np.float64).reshape(-1, series.n_channels)
    xyz = xyz * attr_float(series.data, "conversion", 1.0) + attr_float(series.data, "offset", 0.0)
    confidence = child(f, series.path, "confidence")
    values = np.asarray(read(f, confidence, rows), dtype=np.float64) if confidence is not None else None
    return Trajectory(node=node, t=series.times(i0, i1)[::step], xyz=xyz, confidence=values), step


def read_pose_window(
    f: NwbFile,
    layout: PoseLayout,
    t_start: float | None = None,
    t_stop: float | None = None,
    max_points: int = 4000,
) -> PoseWindow:
    """Every node's positions and confidence with ``t_start <= t < t_stop`` (default: the first 10 s).

    Reads only the window's rows of each node's data and confidence, and of the timestamps (plus
    the few blocks the time search needs); a window longer than ``max_points`` frames is read every
    k-th frame (one strided read per dataset).
    """
    if max_points < 1:
        raise InvalidRequest("max_points must be at least 1.")
    t0 = layout.time_range[0] if t_start is None else t_start
    t1 = t0 + DEFAULT_WINDOW_S if t_stop is None else t_stop
    if not (math.isfinite(t0) and math.isfinite(t1)) or t1 <= t0:
        raise InvalidRequest(f"The window {t0}–{t1} s is not valid: t_stop must be after t_start.")
    read_nodes = [
        _read_node(f, node, series_layout(f, layout.series[node]), t0, t1, max_points)
        for node in layout.nodes
    ]
    trajectories = [trajectory for trajectory, _ in read_nodes]
    return PoseWindow(
        t_start=t0,
        t_stop=t1,
        trajectories=trajectories,
        step=max((step for _, step in read_nodes), default=1),
        rows_read=sum(len(t.t) for t in trajectories),
    )


def _frame_index(f: NwbFile, video: str, t: float) -> int:
    """The last frame of ``video`` shown at or before ``t`` (the first frame before the video starts)."""
    n = count_frames(f, video)
    timestamps = child(f, video, "timestamps")
    if timestamps is not None and timestamps.dims and timestamps.dims[0] >= n:
        column = SortedColumn(f, timestamps, 0, n)
        return min(max(column.searchsorted(t, "right") - 1, 0), n - 1)
    clock = series_clock(f, video)  # the one rule: a NaN or missing start is an error, not frame 0
    return min(max(int(math.floor((t - clock.starting_time) * clock.rate + 1e-9)), 0), n - 1)


def read_video_frame(f: NwbFile, video: str, t: float) -> Frame:
    """The frame of the in-file ``video`` shown at time ``t``: the time search plus one frame read."""
    return read_frame(f, video, _frame_index(f, video, t))
