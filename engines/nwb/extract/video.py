"""Video of ImageSeries: which frame a time shows, which movie file holds that frame, and at what time
inside that movie.

An ImageSeries keeps its frames in the NWB file (``data``: frame, x, y[, colour]) or in movie files
beside it (``external_file``: names relative to the NWB file; its ``starting_frame`` attribute: the
series' frame at which each file starts). ``timestamps``, or ``starting_time`` + ``rate``, give each
frame's time. A movie file plays at its own frame rate, which the NWB file does not record: the
browser reports each movie's duration, and a file's frames are spread evenly over it (a file's rate
is ``frames in the file / duration``); before that is known, the series' rate stands in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.nwb.extract._clock import series_clock
from engines.nwb.extract._common import as_text, child, read, read_scalar
from engines.nwb.extract.errors import UnsupportedData
from engines.nwb.index import NwbIndex
from engines.nwb.nwbfile import NwbFile

__all__ = ["VideoSeries", "VideoTiming", "read_video_series", "video_series_paths"]

MAX_TIMESTAMPS = 20_000_000
"""Timestamps read at once (160 MB of float64): about 8 days of a 30 fps camera."""


@dataclass(frozen=True)
class VideoTiming:
    """Frame <-> time of one series: by its timestamps, else by starting time and rate."""

    n_frames: int | None
    timestamps: np.ndarray | None = None
    starting_time: float = 0.0
    rate: float | None = None

    def frame_at(self, t: float) -> int:
        """The frame shown at time ``t``: the last one that started at or before it (the first before the
        first)."""
        if self.timestamps is not None and len(self.timestamps):
            return max(int(np.searchsorted(self.timestamps, t + 1e-9, side="right")) - 1, 0)
        rate = self.rate or 1.0
        frame = max(int(np.floor((t - self.starting_time) * rate + 1e-6)), 0)
        return frame if self.n_frames is None else min(frame, max(self.n_frames - 1, 0))

    def time_of(self, frame: int) -> float:
        """When frame ``frame`` starts (the last frame's time for any frame past the end)."""
        if self.timestamps is not None and len(self.timestamps):
            return float(self.timestamps[min(max(frame, 0), len(self.timestamps) - 1)])
        return self.starting_time + max(frame, 0) / (self.rate or 1.0)

    @property
    def frame_rate(self) -> float:
        """Frames per second: the rate, else from the median step of the timestamps, else 1."""
        if self.rate:
            return self.rate
        if self.timestamps is not None and len(self.timestamps) > 1:
            step = float(np.median(np.diff(self.timestamps)))
            if step > 0:
                return 1.0 / step
        return 1.0


@dataclass(frozen=True)
class VideoSeries:
    """One ImageSeries as video: its timing, and its movie files (none when its frames are in the file)."""

    path: str
    timing: VideoTiming
    external_files: tuple[str, ...] = ()
    starting_frames: tuple[int, ...] = (0,)

    @property
    def in_file(self) -> bool:
        return not self.external_files

    def file_of(self, frame: int) -> tuple[int, int]:
        """(movie file, frame inside it) holding series frame ``frame``."""
        which = max(int(np.searchsorted(self.starting_frames, frame, side="right")) - 1, 0)
        return which, max(frame - self.starting_frames[which], 0)

    def frames_in_file(self, which: int) -> int | None:
        """How many frames movie file ``which`` holds, where the series' length says it."""
        if which + 1 < len(self.starting_frames):
            return self.starting_frames[which + 1] - self.starting_frames[which]
        n = self.timing.n_frames
        return None if n is None else max(n - self.starting_frames[which], 0)

    def file_rate(self, which: int, duration: float | None) -> float:
        """Frames per second of movie file ``which``: its frames over its duration once known."""
        frames = self.frames_in_file(which)
        if frames and duration and duration > 0:
            return frames / duration
        return self.timing.frame_rate

    def movie_time(self, t: float, durations: dict[int, float] | None = None) -> tuple[int, float]:
        """(movie file, seconds into it) showing series time ``t``: the middle of that frame, so rounding
        in the player never lands on its neighbour."""
        which, local = self.file_of(self.timing.frame_at(t))
        rate = self.file_rate(which, (durations or {}).get(which))
        return which, (local + 0.5) / rate

    def series_time(self, which: int, seconds: float, duration: float | None = None) -> float:
        """The series time of the frame movie file ``which`` shows at ``seconds`` (the inverse of
        ``movie_time``)."""
        local = int(np.floor(max(seconds, 0.0) * self.file_rate(which, duration) + 1e-6))
        frames = self.frames_in_file(which)
        if frames:
            local = min(local, frames - 1)
        return self.timing.time_of(self.starting_frames[which] + local)


def _timing(f: NwbFile, path: str, n_frames: int | None) -> VideoTiming:
    clock = series_clock(f, path)  # the one rule: timestamps win; a NaN or missing start is an error
    timestamps = clock.timestamps
    if timestamps is None:
        return VideoTiming(n_frames=n_frames, starting_time=clock.starting_time, rate=clock.rate)
    if timestamps.shape and timestamps.shape[0] > MAX_TIMESTAMPS:
        raise UnsupportedData(
            f"'{path}' has {timestamps.shape[0]:,} timestamps, more than this view reads "
            f"({MAX_TIMESTAMPS:,}). Open the timestamps in the Traces view."
        )
    times = np.asarray(read(f, timestamps), dtype=float).reshape(-1)
    return VideoTiming(n_frames=len(times), timestamps=times)


def _external_length(f: NwbFile, path: str) -> int | None:
    """Frames of a movie-file series where the file says (``num_samples``, NWB 2.9), else None."""
    count = child(f, path, "num_samples")
    if count is None:
        return None
    value = read_scalar(f, count)
    return int(value) if np.isfinite(value) and value > 0 else None


def read_video_series(f: NwbFile, path: str) -> VideoSeries:
    """The series' timing and movie files: reads its timestamps (or starting time) and its file names."""
    external = child(f, path, "external_file")
    data = child(f, path, "data")
    if external is None:
        if data is None or not data.shape or len(data.shape) < 3:
            raise UnsupportedData(
                f"'{path}' has neither movie files nor frames (frame, x, y). Open it in the raw view."
            )
        return VideoSeries(path, _timing(f, path, data.shape[0]))
    names = tuple(as_text(n) for n in np.atleast_1d(read(f, external)))
    if not names:
        raise UnsupportedData(f"'{path}' lists no external files.")
    timing = _timing(f, path, _external_length(f, path))
    return VideoSeries(path, timing, names, _starting_frames(path, names, external.attrs, timing))


def _starting_frames(path: str, names: tuple[str, ...], attrs: dict, timing: VideoTiming) -> tuple[int, ...]:
    """Where each file starts; a list of one file per frame (stimulus movies) often says only ``[0]``."""
    raw = attrs.get("starting_frame")
    starts = [int(s) for s in np.atleast_1d(raw)] if raw is not None else [0]
    rising = starts[0] == 0 and all(b >= a for a, b in zip(starts, starts[1:]))
    if len(starts) == len(names) and rising:
        return tuple(starts)
    if len(names) == 1:
        return (0,)
    if timing.n_frames == len(names):
        return tuple(range(len(names)))
    raise UnsupportedData(
        f"'{path}' names {len(names)} movie files but its starting_frame ({raw}) does not say "
        "where each one starts (one rising number per file, the first 0)."
    )


def video_series_paths(index: NwbIndex, limit: int = 4) -> list[str]:
    """The file's ImageSeries with movie files (cameras), in index order; at most ``limit``."""
    found = []
    for path in index.objects:
        if index.is_a(path, "ImageSeries") and path.rstrip("/") + "/external_file" in index.objects:
            found.append(path)
            if len(found) == limit:
                break
    return found
