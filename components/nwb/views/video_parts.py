"""The two things the video view shows on the shared time window: a camera (movie files) and in-file frames.

Both follow the window's start (``show(t)``) and, while playing, move it (``move(t)``, given by the
view). A camera plays its movie in the browser (``MoviePlayer``) from the app's movie route; in-file
frames are read one frame per step on the session's pool and drawn server-side.
"""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
from panel.io.callbacks import PeriodicCallback

from components.background import BackgroundWork, run_on_session_thread
from components.nwb.movie_player import MoviePlayer
from components.nwb.views.frames import frame_element
from components.safe_text import escape_text
from engines.nwb.extract import read_frame
from engines.nwb.extract.video import VideoSeries
from engines.nwb.nwbfile import NwbFile

__all__ = ["Camera", "InFileFrames"]

PLAYING_DRIFT_S = 0.3
"""A playing movie is left alone while it is this close to where the window says it should be."""
MAX_STEPS_PER_S = 10.0
"""In-file frames play at their rate, at most this many frames a second (each is one read and one redraw)."""


class Camera:
    """One ImageSeries with movie files: a player that follows the window and, when it leads, moves it."""

    def __init__(self, series: VideoSeries, urls: list[str], move: Callable[[float], None]) -> None:
        self.series = series
        self.urls = urls
        self.leads = False
        self.followers: list[Camera] = []
        self._move = move
        self._which = 0
        self._shown = 0.0
        self._durations: dict[int, float] = {}
        self._last_t: float | None = None
        self._problem = ""
        self.player = MoviePlayer(src=urls[0], sizing_mode="stretch_width", min_height=200)
        self.caption = pn.pane.Markdown(self._title(), css_classes=["nd-muted"], margin=(0, 5))
        self.player.param.watch(self._reported, "time")
        self.player.param.watch(self._measured, "duration")
        self.player.param.watch(self._play_changed, "playing")
        self.player.param.watch(self._ended, "ended")
        self.player.param.watch(self._failed, "error")

    def _title(self) -> str:
        """The camera, its file, the frame shown and that frame's time, and why it does not play, if so."""
        name = escape_text(self.series.path.rsplit("/", 1)[-1])
        files = len(self.urls)
        part = f" · file {self._which + 1} of {files}" if files > 1 else ""
        if self._last_t is not None:
            frame = self.series.timing.frame_at(self._last_t)
            part += f" · frame {frame + 1} · t = {self.series.timing.time_of(frame):.3f} s"
        problem = f" · ⚠ this movie does not play here: {escape_text(self._problem)}" if self._problem else ""
        return f"**{name}**{part}{problem}"

    def panel(self) -> pn.viewable.Viewable:
        return pn.Column(self.caption, self.player, sizing_mode="stretch_width", min_width=240)

    def show(self, t: float) -> None:
        """Put the movie at the frame of series time ``t``, switching files where another one holds it."""
        self._last_t = t
        which, seconds = self.series.movie_time(t, self._durations)
        if which != self._which:
            self._which, self._problem = which, ""
            self.player.src = self.urls[which]
            self._seek(seconds)
            self.caption.object = self._title()
            return
        rate = self.series.file_rate(which, self._durations.get(which))
        tolerance = PLAYING_DRIFT_S if self.player.playing else 1.0 / rate
        if abs(seconds - self._shown) > tolerance:
            self._seek(seconds)
        self.caption.object = self._title()

    def _seek(self, seconds: float) -> None:
        self._shown = seconds
        self.player.seek(seconds)

    def _reported(self, event) -> None:
        """The person seeked or paused, or the movie played on: the window follows (the leader's, while
        playing)."""
        self._shown = event.new
        if self.player.playing and not self.leads:
            return
        which = self._which
        self._move(self.series.series_time(which, event.new, self._durations.get(which)))

    def _measured(self, event) -> None:
        """The movie's length spreads its frames: seek again by it (the rate stood in until now)."""
        if event.new:
            self._durations[self._which] = float(event.new)
            if self._last_t is not None:
                which, seconds = self.series.movie_time(self._last_t, self._durations)
                if which == self._which and not self.player.playing:
                    self._seek(seconds)

    def _play_changed(self, event) -> None:
        for camera in self.followers:
            camera.player.playing = event.new

    def _ended(self, _event) -> None:
        """Playback reached the end of a file: a series in several files goes on with the next one."""
        nxt = self._which + 1
        if nxt < len(self.urls):
            self._move(self.series.timing.time_of(self.series.starting_frames[nxt]))
            self.player.playing = True
        else:
            self.player.playing = False

    def _failed(self, event) -> None:
        self._problem = event.new
        self.caption.object = self._title()


class InFileFrames:
    """An ImageSeries with its frames in the NWB file: the frame at the window's start, and a play button."""

    def __init__(
        self,
        nwbfile: NwbFile,
        series: VideoSeries,
        work: BackgroundWork,
        key: str,
        move: Callable[[float], None],
    ) -> None:
        self._nwbfile, self.series, self._work, self._key, self._move = nwbfile, series, work, key, move
        self._frame: int | None = None
        self._t = series.timing.time_of(0)
        self._timer: PeriodicCallback | None = None
        self._doc = pn.state.curdoc
        self.plot = pn.pane.HoloViews(None, height=440)
        self.caption = pn.pane.Markdown("", css_classes=["nd-muted"])
        self.play = pn.widgets.Toggle(name="▶ Play", width=100, button_type="primary")
        self.play.param.watch(self._toggle, "value")

    def panel(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self.play, self.caption), self.plot, sizing_mode="stretch_width")

    def show(self, t: float) -> None:
        self._t = t
        frame = self.series.timing.frame_at(t)
        if frame == self._frame:
            return
        self._frame = frame
        path = self.series.path

        def picture():
            shown = read_frame(self._nwbfile, path, frame)
            when = f" · t = {shown.time:.3f} s" if shown.time is not None else ""
            text = f"Frame {shown.index + 1} of {shown.n_frames}{when}"
            return frame_element(shown).opts(frame_height=380, data_aspect=1), text

        def apply(result) -> None:
            self.plot.object, self.caption.object = result

        def failed(exc: BaseException) -> None:
            self.caption.object = f"This frame could not be read: {escape_text(exc)}"

        self._work.run(self._key, picture, apply=apply, failed=failed)

    def _toggle(self, event) -> None:
        self.play.name = "⏸ Pause" if event.new else "▶ Play"
        if event.new and self._timer is None:
            rate = min(self.series.timing.frame_rate, MAX_STEPS_PER_S)
            self._timer = pn.state.add_periodic_callback(self._tick, period=int(1000 / rate))
        elif not event.new:
            self.stop()

    def _tick(self) -> None:
        """On Panel's pool: the step itself moves the window on the session's thread."""
        run_on_session_thread(self._doc, self._step)

    def _step(self) -> None:
        timing = self.series.timing
        nxt = timing.frame_at(self._t) + 1
        if timing.n_frames is not None and nxt >= timing.n_frames:
            self.play.value = False
            return
        self._move(timing.time_of(nxt))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
