"""The pictures of the pose view: keypoint trajectories, confidence, and the skeleton over a video frame.

Pure functions from engine results to HoloViews elements, so the view module keeps only its
widgets and reads. Node names reach the plots only as Bokeh text (legends, labels, hover values),
which Bokeh draws as text; the view's node table escapes them itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import holoviews as hv
import numpy as np
import pandas as pd

from components.nwb.views.frames import frame_element
from engines.nwb.extract import Frame
from engines.nwb.extract.pose import PoseLayout, PoseWindow, Trajectory

__all__ = [
    "Shown",
    "NodeAt",
    "node_colours",
    "nodes_at",
    "trajectory_plot",
    "confidence_plot",
    "skeleton_plot",
]

_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_HEIGHT = 180
_FRAME_PX = 380
"""Height of the video frame's plot; its width follows the frame's shape (pixels stay square)."""


@dataclass(frozen=True)
class Shown:
    """What the trajectory plots draw: the window's keypoints, the time cursor, the confidence threshold."""

    pose: PoseWindow
    time: float
    threshold: float


@dataclass(frozen=True)
class NodeAt:
    """One node at the cursor: its position (NaN when hidden or absent), its confidence (None: not stored)."""

    node: str
    x: float
    y: float
    confidence: float | None

    @property
    def visible(self) -> bool:
        return bool(np.isfinite(self.x) and np.isfinite(self.y))


def node_colours(nodes: list[str]) -> dict[str, str]:
    return {node: _PALETTE[i % len(_PALETTE)] for i, node in enumerate(nodes)}


def _kept(trajectory: Trajectory, threshold: float) -> np.ndarray:
    """Rows whose confidence reaches the threshold (all rows when the series stores no confidence)."""
    if trajectory.confidence is None:
        return np.ones(len(trajectory.t), dtype=bool)
    return np.nan_to_num(trajectory.confidence, nan=0.0) >= threshold


def nodes_at(pose: PoseWindow, time: float, threshold: float) -> list[NodeAt]:
    """Each node at the last frame at or before ``time`` (the first frame before the window's data)."""
    found = []
    for trajectory in pose.trajectories:
        if len(trajectory.t) == 0:
            found.append(NodeAt(trajectory.node, np.nan, np.nan, None))
            continue
        row = min(max(int(np.searchsorted(trajectory.t, time, "right")) - 1, 0), len(trajectory.t) - 1)
        confidence = None if trajectory.confidence is None else float(trajectory.confidence[row])
        keep = bool(_kept(trajectory, threshold)[row])
        x, y = (trajectory.xyz[row, 0], trajectory.xyz[row, 1]) if keep else (np.nan, np.nan)
        found.append(NodeAt(trajectory.node, float(x), float(y), confidence))
    return found


def trajectory_plot(shown: Shown, window: tuple[float, float], axis: int, unit: str) -> hv.Overlay:
    """Coordinate ``axis`` (0: x, 1: y) of every node over time; points under the threshold left out."""
    colours = node_colours([t.node for t in shown.pose.trajectories])
    name = "xyz"[axis]
    curves = {}
    for trajectory in shown.pose.trajectories:
        values = np.where(_kept(trajectory, shown.threshold), trajectory.xyz[:, axis], np.nan)
        curves[trajectory.node] = hv.Curve((trajectory.t, values), "time (s)", f"{name} ({unit})").opts(
            color=colours[trajectory.node]
        )
    overlay = hv.NdOverlay(curves, kdims="node").opts(
        hv.opts.Curve(line_width=1.5, tools=["hover"], framewise=True),
        hv.opts.NdOverlay(legend_position="right", framewise=True),
    )
    return (overlay * hv.VLine(shown.time).opts(color="#444", line_dash="dashed")).opts(
        responsive=True, height=_HEIGHT, xlim=tuple(window), title=f"{name} of each node", active_tools=[]
    )


def confidence_plot(shown: Shown, window: tuple[float, float]) -> hv.Overlay:
    """Every node's confidence over time, with the threshold below which points are hidden."""
    colours = node_colours([t.node for t in shown.pose.trajectories])
    curves = {
        t.node: hv.Curve((t.t, t.confidence), "time (s)", "confidence").opts(color=colours[t.node])
        for t in shown.pose.trajectories
        if t.confidence is not None
    }
    overlay = hv.NdOverlay(curves, kdims="node").opts(
        hv.opts.Curve(line_width=1.5, tools=["hover"], framewise=True),
        hv.opts.NdOverlay(legend_position="right", framewise=True),
    )
    marks = hv.HLine(shown.threshold).opts(color="#d62728", line_dash="dotted") * hv.VLine(shown.time).opts(
        color="#444", line_dash="dashed"
    )
    return (overlay * marks).opts(
        responsive=True, height=_HEIGHT, xlim=tuple(window), ylim=(-0.05, 1.05), title="confidence"
    )


def _frame_width(width: float, height: float) -> int:
    """The plot width that keeps pixels square at ``_FRAME_PX`` high, within 200-760 px."""
    return int(min(max(_FRAME_PX * width / max(height, 1.0), 200), 760))


def _extent(layout_nodes: list[NodeAt], frame: Frame | None) -> tuple[float, float]:
    if frame is not None:
        return float(frame.image.shape[1]), float(frame.image.shape[0])
    xs = [n.x for n in layout_nodes if n.visible] or [1.0]
    ys = [n.y for n in layout_nodes if n.visible] or [1.0]
    return max(max(xs) * 1.1, 1.0), max(max(ys) * 1.1, 1.0)


def skeleton_plot(layout: PoseLayout, at: list[NodeAt], frame: Frame | None, unit: str) -> hv.Overlay:
    """The skeleton at one time over the video frame (or blank axes), pixel y pointing down like the image."""
    colours = node_colours(layout.nodes)
    width, height = _extent(at, frame)
    base = (
        frame_element(frame).opts(colorbar=False, tools=[])
        if frame is not None
        else hv.Points([]).opts(alpha=0)  # blank axes where no video is in the file
    ).redim.label(x=f"x ({unit})", y=f"y ({unit})")
    by_name = {n.node: n for n in at}
    segments = [
        (
            by_name[layout.nodes[a]].x,
            by_name[layout.nodes[a]].y,
            by_name[layout.nodes[b]].x,
            by_name[layout.nodes[b]].y,
        )
        for a, b in layout.edges
        if by_name[layout.nodes[a]].visible and by_name[layout.nodes[b]].visible
    ]
    shown = [n for n in at if n.visible]
    points = pd.DataFrame(
        {
            "x": [n.x for n in shown],
            "y": [n.y for n in shown],
            "node": [n.node for n in shown],
            "confidence": [1.0 if n.confidence is None else n.confidence for n in shown],
            "colour": [colours[n.node] for n in shown],
        }
    )
    points["alpha"] = 0.35 + 0.65 * points["confidence"].clip(0, 1)  # faded by confidence
    kdims = [hv.Dimension("x", label=f"x ({unit})"), hv.Dimension("y", label=f"y ({unit})")]
    edges = hv.Segments(segments, [*kdims, "x2", "y2"]).opts(color="#00e5ff", line_width=3)
    dots = hv.Points(points, kdims, ["node", "confidence", "colour", "alpha"]).opts(
        color="colour", alpha="alpha", size=12, line_color="white", tools=["hover"]
    )
    labels = hv.Labels(points, kdims, "node").opts(
        text_color="white" if frame is not None else "#222",
        text_font_size="9pt",
        xoffset=width * 0.03,
        text_align="left",
    )
    return (base * edges * dots * labels).opts(
        hv.opts.Overlay(
            frame_height=_FRAME_PX,
            frame_width=_frame_width(width, height),
            xlim=(0, width),
            ylim=(0, height),
            invert_yaxis=True,
        )
    )
