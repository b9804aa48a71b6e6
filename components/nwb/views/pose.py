"""Pose estimation (ndx-pose): keypoint trajectories and confidence over the shared time window, and
the skeleton drawn over the in-file video frame at a time inside it.

The window is the file's shared one (the controller's): zooming a trajectory plot, another
view's zoom or a deep link's ``t0``/``t1`` reads that window's rows of every node (off the
session's thread). The time slider moves within the window (it starts at its centre); a move
redraws the skeleton from the rows already read and reads one video frame. The threshold hides
points whose confidence is below it, in every plot; the skeleton's points are faded by confidence.
"""

from __future__ import annotations

from functools import partial

import panel as pn

from components.nwb.views.base import NwbView
from components.nwb.views.pose_plots import (
    NodeAt,
    Shown,
    confidence_plot,
    node_colours,
    nodes_at,
    skeleton_plot,
    trajectory_plot,
)
from components.safe_text import escape_text
from components.windowed_plot import Window, WindowedPlot, as_window
from engines.nwb.extract import DEFAULT_WINDOW_S, Frame
from engines.nwb.extract.pose import PoseWindow, pose_layout, read_pose_window, read_video_frame
from engines.nwb.index import NwbIndex

__all__ = ["PoseView"]

_DEFAULT_THRESHOLD = 0.5


class PoseView(NwbView):
    id = "pose"
    title = "Pose"
    neurodata_types = ("PoseEstimation", "PoseEstimationSeries")
    time_based = True

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        """A PoseEstimation, or a series inside one (a lone series has no nodes to draw with it)."""
        if index.is_a(path, "PoseEstimation"):
            return True
        parent = index.get(path).parent
        return (
            parent is not None
            and index.is_a(path, "PoseEstimationSeries")
            and index.is_a(parent, "PoseEstimation")
        )

    def __init__(self, nwbfile, path, jobs=None, controller=None, work=None, **params) -> None:
        super().__init__(nwbfile, path, jobs, controller, work, **params)
        self._layout = pose_layout(nwbfile, path)
        start = self._layout.time_range[0]
        self._window: Window = as_window(self.controller.time_window or (start, start + DEFAULT_WINDOW_S))
        self._pose = read_pose_window(nwbfile, self._layout, *self._window)
        self._has_confidence = any(t.confidence is not None for t in self._pose.trajectories)
        centre = (self._window[0] + self._window[1]) / 2
        self._threshold = pn.widgets.FloatSlider(
            label="Hide points with confidence below",
            start=0.0,
            end=1.0,
            step=0.05,
            value=_DEFAULT_THRESHOLD if self._has_confidence else 0.0,
            visible=self._has_confidence,
            width=300,
        )
        self._time = pn.widgets.FloatSlider(
            label="Time (s)", start=self._window[0], end=self._window[1], value=centre, step=0.001, width=420
        )
        self._frame: Frame | None = (
            read_video_frame(nwbfile, self._layout.video, centre) if self._layout.video else None
        )
        self._status = pn.pane.Markdown("", css_classes=["nd-muted"], margin=(0, 10))
        self._table = pn.pane.Markdown("", margin=(0, 10), width=340)
        self._skeleton = pn.pane.HoloViews(linked_axes=False)  # sized by the plot: pixels stay square
        shown = self._shown()
        unit = self._layout.unit or "px"
        self._plots = [
            WindowedPlot(
                partial(trajectory_plot, axis=axis, unit=unit),
                shown,
                self._window,
                self.controller.set_window,
            )
            for axis in (0, 1)
        ]
        if self._has_confidence:
            self._plots.append(WindowedPlot(confidence_plot, shown, self._window, self.controller.set_window))
        self._plot_panes = [
            pn.pane.HoloViews(plot.dmap, sizing_mode="stretch_width", height=200) for plot in self._plots
        ]
        self._draw_skeleton()
        self._time.param.watch(self._on_time, "value_throttled")
        self._threshold.param.watch(lambda _: self._redraw(), "value_throttled")
        self.watch_controller(self._on_shared, ["time_window"])

    # --- state ------------------------------------------------------------------------------------
    def _shown(self) -> Shown:
        return Shown(self._pose, float(self._time.value or 0.0), float(self._threshold.value or 0.0))

    def _at(self) -> list[NodeAt]:
        shown = self._shown()
        return nodes_at(shown.pose, shown.time, shown.threshold)

    # --- requests ---------------------------------------------------------------------------------
    def _on_shared(self, *_events) -> None:
        window = self.controller.time_window
        if window is None or as_window(window) == self._window:
            return
        self._window = as_window(window)
        for pane in self._panes():
            pane.loading = True
        t0, t1 = self._window
        self.work.run(
            self.work_key("window"),
            lambda: self._read(t0, t1),
            apply=lambda read: self._show_window(read, (t0, t1)),
            failed=self._failed,
        )

    def _read(self, t0: float, t1: float) -> tuple[PoseWindow, Frame | None]:
        """Off the session's thread: the window's rows, and the frame at its centre."""
        pose = read_pose_window(self.nwbfile, self._layout, t0, t1)
        video = self._layout.video
        return pose, read_video_frame(self.nwbfile, video, (t0 + t1) / 2) if video else None

    def _show_window(self, read: tuple[PoseWindow, Frame | None], window: Window) -> None:
        if window != self._window:
            return  # a newer window was asked for meanwhile
        self._pose, self._frame = read
        centre = (window[0] + window[1]) / 2
        self._time.param.update(start=window[0], end=window[1], value=centre)
        for pane in self._panes():
            pane.loading = False
        self._redraw()

    def _on_time(self, event) -> None:
        self._redraw()
        video = self._layout.video
        if not video:
            return
        self._skeleton.loading = True
        self.work.run(
            self.work_key("frame"),
            lambda: read_video_frame(self.nwbfile, video, float(event.new)),
            apply=self._show_frame,
            failed=self._failed,
        )

    def _show_frame(self, frame: Frame) -> None:
        self._skeleton.loading = False
        self._frame = frame
        self._draw_skeleton()

    def _failed(self, exc: BaseException) -> None:
        for pane in self._panes():
            pane.loading = False
        self._status.object = f"This window could not be read: {escape_text(exc)}"

    # --- drawing ----------------------------------------------------------------------------------
    def _panes(self) -> list[pn.pane.HoloViews]:
        return [self._skeleton, *self._plot_panes]

    def _redraw(self) -> None:
        shown = self._shown()
        for plot in self._plots:
            plot.show(shown, self._window)
        self._draw_skeleton()

    def _draw_skeleton(self) -> None:
        at = self._at()
        self._skeleton.object = skeleton_plot(self._layout, at, self._frame, self._layout.unit or "px")
        self._table.object = self._node_table(at)
        self._status.object = self._describe()

    def _node_table(self, at: list[NodeAt]) -> str:
        colours = node_colours(self._layout.nodes)
        rows = ["| node | x | y | confidence |", "|---|---|---|---|"]
        for node in at:
            where = (f"{node.x:.1f}", f"{node.y:.1f}") if node.visible else ("hidden", "—")
            confidence = "—" if node.confidence is None else f"{node.confidence:.2f}"
            swatch = f'<span style="color:{colours[node.node]}">■</span>'
            rows.append(f"| {swatch} {escape_text(node.node)} | {where[0]} | {where[1]} | {confidence} |")
        return "\n".join(rows)

    def _describe(self) -> str:
        layout, pose = self._layout, self._pose
        skeleton = (
            f"skeleton {escape_text(layout.skeleton.rsplit('/', 1)[-1])} ({len(layout.edges)} edges)"
            if layout.skeleton
            else "no skeleton"
        )
        frame = (
            f" · frame {self._frame.index + 1} of {self._frame.n_frames} of {escape_text(layout.video)}"
            if self._frame is not None
            else ""
        )
        note = f" · one frame in {pose.step} (long window)" if pose.step > 1 else ""
        if pose.rows_read == 0:
            first, last = layout.time_range
            note += f" · no keypoints in this window (they span {first:.3f} – {last:.3f} s)"
        text = (
            f"Window **{pose.t_start:.3f} – {pose.t_stop:.3f} s** · {len(layout.nodes)} nodes · "
            f"{skeleton}{frame} · {pose.rows_read:,} rows read{note}"
        )
        notes = list(layout.problems)
        if self.info.path != layout.path:
            notes.insert(0, f"'{self.info.name}' is one node of '{layout.path}': every node of it is shown.")
        if layout.n_dims == 3:
            notes.append("These keypoints are 3-D: they are drawn as their x/y projection (z is not shown).")
        return text + "".join(f"\n\n{escape_text(n)}" for n in notes)

    def __panel__(self) -> pn.viewable.Viewable:
        picture = pn.Column(self._time, self._skeleton)
        return pn.Column(
            self._status,
            self._threshold,
            pn.Row(picture, self._table, sizing_mode="stretch_width"),
            *self._plot_panes,
            sizing_mode="stretch_both",
        )
