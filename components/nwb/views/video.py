"""Synced video of ImageSeries (movie files beside the NWB file, or frames inside it) on the shared window.

The video shows the frame at the window's start: moving the window (another view's zoom, a deep
link's ``t0``) seeks it, and seeking or playing it moves the window (width kept). A series with
movie files is shown with the file's other cameras side by side; the one selected leads while
they play, the others follow. The browser fetches movies from the app's own origin
(``<prefix>/nwb-movie/<token>/<n>``, ``components.nwb.movie_route``) under a token granted to
this view for just the names its NWB file lists, revoked when the view goes.
"""

from __future__ import annotations

import panel as pn

from components.nwb.movie_grants import MOVIE_PATH, grant, revoke
from components.nwb.views.base import NwbView
from components.nwb.views.video_parts import Camera, InFileFrames
from components.safe_text import escape_text, text_alert
from engines.errors import NeurodeckError
from engines.nwb.extract.timeseries import DEFAULT_WINDOW_S
from engines.nwb.extract.video import VideoSeries, read_video_series, video_series_paths
from engines.nwb.index import NwbIndex

__all__ = ["VideoView"]

_MICROSCOPY = ("TwoPhotonSeries", "OnePhotonSeries")


def movie_base() -> str:
    """The movie route's address as this page reached the app (a prefix, a proxy): absolute path of the
    page's folder."""
    location = pn.state.location
    pathname = location.pathname if location is not None and location.pathname else ""
    return (pathname.rsplit("/", 1)[0] + "/" if pathname else "") + MOVIE_PATH


class VideoView(NwbView):
    id = "video"
    title = "Video"
    neurodata_types = ("ImageSeries",)
    time_based = True

    @classmethod
    def applies(cls, index: NwbIndex, path: str) -> bool:
        """Movie files, or plain in-file frames (microscopy keeps the Frames view)."""
        if not super().applies(index, path):
            return False
        base = path.rstrip("/")
        if base + "/external_file" in index.objects:
            return True
        data = index.objects.get(base + "/data")
        in_file = data is not None and data.shape is not None and len(data.shape) >= 3
        return in_file and not any(index.is_a(path, t) for t in _MICROSCOPY)

    def __panel__(self) -> pn.viewable.Viewable:
        self._message = pn.Column(sizing_mode="stretch_width")
        self._row = pn.Row(sizing_mode="stretch_width")
        self._parts: list[Camera | InFileFrames] = []
        self._status = pn.pane.Markdown("Reading the series' times…", css_classes=["nd-muted"])
        self.work.run(self.work_key("series"), self._read, apply=self._show, failed=self._failed)
        return pn.Column(self._status, self._message, self._row, sizing_mode="stretch_width")

    def _read(self) -> list[VideoSeries]:
        """The selected series, and for movie files the file's other cameras (a camera that fails to read is
        left out)."""
        selected = read_video_series(self.nwbfile, self.path)
        if selected.in_file:
            return [selected]
        others = []
        for path in video_series_paths(self.nwbfile.index):
            if path != self.path:
                try:
                    others.append(read_video_series(self.nwbfile, path))
                except NeurodeckError:
                    continue
        return [selected, *others]

    def _failed(self, exc: BaseException) -> None:
        self._status.object = ""
        self._message[:] = [text_alert(exc, alert_type="danger", sizing_mode="stretch_width")]

    def _show(self, found: list[VideoSeries]) -> None:
        if self.disposed:
            return
        if found[0].in_file:
            frames = InFileFrames(self.nwbfile, found[0], self.work, self.work_key("frame"), self.move)
            self.on_dispose(frames.stop)
            self._parts = [frames]
        else:
            self._parts = [*self._cameras(found)]
        self._row[:] = [part.panel() for part in self._parts]
        self._status.object = self._summary(found)
        self.watch_controller(self._window_moved, ["time_window"])
        self.show_window()

    def _cameras(self, found: list[VideoSeries]) -> list[Camera]:
        names = [name for series in found for name in series.external_files]
        token = grant(self.nwbfile.source.location, names)
        self.on_dispose(lambda: revoke(token))
        base, cameras, position = movie_base(), [], 0
        for series in found:
            urls = [f"{base}/{token}/{position + i}" for i in range(len(series.external_files))]
            position += len(series.external_files)
            cameras.append(Camera(series, urls, self.move))
        cameras[0].leads, cameras[0].followers = True, cameras[1:]
        for camera in cameras[1:]:
            camera.followers = [cameras[0]]
        return cameras

    def _summary(self, found: list[VideoSeries]) -> str:
        first = found[0]
        rate = first.timing.frame_rate
        where = "frames inside the file" if first.in_file else f"{len(first.external_files)} movie file(s)"
        others = f" · with {len(found) - 1} other camera(s) of this file, in sync" if len(found) > 1 else ""
        return (
            f"**{escape_text(first.path)}** · {where} · {rate:.3g} frames/s · "
            f"shows the frame at the time window's start{others}"
        )

    # --- the shared window -------------------------------------------------------------------------
    def _window_moved(self, _event) -> None:
        self.show_window()

    def show_window(self) -> None:
        window = self.controller.time_window
        t = window[0] if window is not None else self._parts[0].series.timing.time_of(0)
        for part in self._parts:
            part.show(t)

    def move(self, t: float) -> None:
        """Playback or a seek reached series time ``t``: the window starts there, its width kept."""
        window = self.controller.time_window
        width = window[1] - window[0] if window is not None else DEFAULT_WINDOW_S
        self.controller.set_window(t, t + width)
