"""Pose section: the first picture of an hour of pose estimation (ndx-pose) in a remote file.

Ours: open the file (index built from scratch), the PoseEstimation's layout (nodes, skeleton) and
the first 10 s of every node's keypoints and confidence. Baseline: what a user of pynwb would
write, ``remfile`` + h5py + pynwb with ndx-pose, reading each node's timestamps to find the
window and then its rows. Both through the same Range server with its latency per request.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.nwb_files.pose import POSE_PATH, write_pose_nwb
from tests.support.range_server import RangeServerProcess

FRAMES = 108_000
"""One hour at 30 frames/s, four nodes."""
WINDOW = (0.0, 10.0)


def _file(data: Path) -> Path:
    path = data / "pose_hour.nwb"
    if not path.exists():
        write_pose_nwb(path, with_video=False, n_frames=FRAMES)
    return path


def _ours(url: str) -> int:
    from engines.io.policy import SourcePolicy
    from engines.nwb.extract.pose import pose_layout, read_pose_window
    from engines.nwb.index_store import IndexStore
    from engines.nwb.nwbfile import open_nwb

    workspace = Path(tempfile.mkdtemp(prefix="pose-bench-"))  # a cold index every run
    policy = SourcePolicy(workspace=workspace, allowed_roots=(workspace,), allow_private_urls=True)
    nwb = open_nwb(url, policy, IndexStore(workspace))
    try:
        window = read_pose_window(nwb, pose_layout(nwb, POSE_PATH), *WINDOW)
    finally:
        nwb.close()
        shutil.rmtree(workspace, ignore_errors=True)  # the store may still be writing its index
    return window.rows_read


def _baseline(url: str) -> int:
    import h5py
    import ndx_pose  # noqa: F401  (registers the extension's classes with pynwb)
    import remfile
    from pynwb import NWBHDF5IO

    rows = 0
    with h5py.File(remfile.File(url), "r") as h5, NWBHDF5IO(file=h5, mode="r", load_namespaces=True) as io:
        estimation = io.read().processing["behavior"]["PoseEstimation"]
        for series in estimation.pose_estimation_series.values():
            times = np.asarray(series.timestamps[:])
            i0, i1 = np.searchsorted(times, WINDOW, "left")
            positions, _confidence = np.asarray(series.data[i0:i1]), np.asarray(series.confidence[i0:i1])
            rows += len(positions)
    return rows


def _timed(run, url: str, server: RangeServerProcess) -> tuple[float, int, int]:
    server.log.clear()
    started = time.perf_counter()
    rows = run(url)
    return time.perf_counter() - started, rows, server.log.count


def measure(server: RangeServerProcess, data: Path, runs: int) -> dict[str, Any]:
    path = _file(data)
    url = server.url_for(path.resolve().relative_to(server.root))
    ours, baseline = [], []
    for _ in range(runs):
        ours.append(_timed(_ours, url, server))
        baseline.append(_timed(_baseline, url, server))
    if ours[0][1] != baseline[0][1]:
        raise RuntimeError(f"ours read {ours[0][1]} rows, the baseline {baseline[0][1]}: not the same window")
    ours_s = statistics.median(t for t, _, _ in ours)
    baseline_s = statistics.median(t for t, _, _ in baseline)
    print(
        f"pose: first 10 s of a 1-h, 4-node pose file: ours {ours_s:.2f} s ({ours[-1][2]} requests), "
        f"pynwb+ndx-pose over remfile {baseline_s:.2f} s ({baseline[-1][2]} requests)"
    )
    return {
        "pose_first_window_s": round(ours_s, 3),
        "pose_first_window_requests": ours[-1][2],
        "pose_baseline_s": round(baseline_s, 3),
        "pose_baseline_requests": baseline[-1][2],
        "pose_speedup": round(baseline_s / ours_s, 2),
    }
