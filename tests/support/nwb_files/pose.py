"""A small pose-estimation NWB file (ndx-pose) whose keypoints move on known paths.

Four nodes over 10 s at 30 frames/s: ``nose`` circles the frame centre (radius 16 px, one
turn every 5 s), the ears follow it 4 px behind on either side, ``tail_base`` stays at
(32, 56). Every node's confidence is 0.95 except between ``DIP`` seconds, where it drops to
0.1. An in-file ``ImageSeries`` (64x64 uint8 frames on the same timestamps, the
PoseEstimation's ``source_video``) shows a bright square under the nose, so the skeleton drawn
over a frame can be checked by eye.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

__all__ = ["write_pose_nwb", "NODES", "EDGES", "RATE", "N_FRAMES", "DIP", "SIZE", "node_path"]

NODES = ("nose", "left_ear", "right_ear", "tail_base")
EDGES = ((0, 1), (0, 2), (1, 3), (2, 3))
RATE = 30.0
N_FRAMES = 300
DIP = (4.0, 5.0)
"""Seconds (start inclusive, end exclusive) where every node's confidence is 0.1 instead of 0.95."""
SIZE = 64
POSE_PATH = "/processing/behavior/PoseEstimation"


def node_path(t: np.ndarray, node: int) -> np.ndarray:
    """The (x, y) pixel position of node ``node`` at times ``t`` (the paths written to the file)."""
    angle = 2 * np.pi * t / 5.0
    nose = np.stack([32 + 16 * np.cos(angle), 32 + 16 * np.sin(angle)], axis=1)
    if node == 0:
        return nose
    if node == 3:
        return np.tile([32.0, 56.0], (len(t), 1))
    side = 1 if node == 1 else -1
    back = -4 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    across = 4 * side * np.stack([-np.sin(angle), np.cos(angle)], axis=1)
    return nose + back + across


def _positions(t: np.ndarray, node: int, three_d: bool) -> np.ndarray:
    xy = node_path(t, node)
    return (np.column_stack([xy, np.full(len(t), 10.0 * node)]) if three_d else xy).astype(np.float32)


def _frames(t: np.ndarray) -> np.ndarray:
    """Dark frames with a bright 5x5 square centred on the nose (rows are y, columns x)."""
    frames = np.full((len(t), SIZE, SIZE), 20, dtype=np.uint8)
    for i, (x, y) in enumerate(np.rint(node_path(t, 0)).astype(int)):
        frames[i, max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3] = 230
    return frames


def write_pose_nwb(
    path: Path,
    node_names: Sequence[str] = NODES,
    with_skeleton: bool = True,
    with_video: bool = True,
    three_d: bool = False,
    n_frames: int = N_FRAMES,
) -> Path:
    """Write the file to ``path`` (a temporary name, then a rename) and return ``path``.

    ``node_names`` renames the nodes (series and skeleton alike); ``with_skeleton=False`` leaves the
    PoseEstimation without a Skeleton, ``with_video=False`` without an in-file video; ``three_d`` adds
    a z column (``z = 10 * node index``);
    ``n_frames`` makes a longer recording (the benchmark's hour is 108,000 frames, without video).
    """
    from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.image import ImageSeries

    path = Path(path)
    t = np.arange(n_frames) / RATE
    nwb = NWBFile(
        session_description="pose estimation test file",
        identifier="neurodeck-pose",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    video = None
    if with_video:
        video = ImageSeries(
            name="behavior_video", data=_frames(t), unit="n.a.", timestamps=t, description="64x64 camera"
        )
        nwb.add_acquisition(video)
    behavior = nwb.create_processing_module(name="behavior", description="pose")
    skeleton = None
    if with_skeleton:
        skeleton = Skeleton(name="mouse", nodes=list(node_names), edges=np.asarray(EDGES, dtype=np.uint8))
        behavior.add(Skeletons(skeletons=[skeleton]))
    confidence = np.where((t >= DIP[0]) & (t < DIP[1]), 0.1, 0.95).astype(np.float32)
    series: list[PoseEstimationSeries] = []
    for i, name in enumerate(node_names):
        series.append(
            PoseEstimationSeries(
                name=name,
                data=_positions(t, i, three_d),
                unit="pixels",
                reference_frame="(0, 0) is the top-left corner of the frame",
                timestamps=series[0] if series else t,  # one timestamps dataset, linked by the others
                confidence=confidence,
                confidence_definition="test values",
            )
        )
    behavior.add(
        PoseEstimation(
            name="PoseEstimation",
            pose_estimation_series=series,
            description="test poses",
            scorer="test",
            source_software="numpy",
            skeleton=skeleton,
            source_video=video,
        )
    )
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    with NWBHDF5IO(str(temporary), "w") as io:
        io.write(nwb)
    os.replace(temporary, path)
    return path
