"""Sparse integer event series (TTL codes, trial markers): events with their codes, not a line.

A TimeSeries of a few thousand small integers at irregular times (``/acquisition/events``
of the demo file: TTL codes 0–61 over 47 minutes) drawn as a line is a comb of spikes that
says nothing; drawn as markers labelled with their codes it shows what happened when.
``event_series_info`` tells such a series apart from the index and one small read;
``read_events`` gives the events of a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engines.nwb.extract._common import read
from engines.nwb.extract._robust import TimeRange
from engines.nwb.extract.errors import InvalidRequest
from engines.nwb.extract.timeseries import SeriesLayout, series_layout
from engines.nwb.nwbfile import NwbFile

__all__ = ["EventSeriesInfo", "EventWindow", "event_series_info", "is_event_series", "read_events"]

MAX_EVENT_RATE_HZ = 50.0
"""Series with more samples per second (over the bulk of their timestamps) are signals, not events."""
MAX_CODES = 256
"""An event series uses at most this many distinct codes in its first samples."""
_SAMPLE_VALUES = 4096
"""Float series are checked for whole-number codes on this many first values (one small read)."""


@dataclass(frozen=True)
class EventSeriesInfo:
    """A sparse integer event series: ``n_events`` over ``time_range`` (bulk and strays), ``rate_hz``
    over the bulk, and the distinct ``codes`` of its first events (all of them when ``codes_complete``)."""

    path: str
    n_events: int
    time_range: TimeRange
    rate_hz: float
    codes: list[int]
    codes_complete: bool


@dataclass
class EventWindow:
    """Events with ``t_start <= t < t_stop`` (the last event too when ``t_stop`` lies past it), in time order.

    ``codes`` are the series' values at those times (integers). When more than ``max_events``
    fall in the window, the first ones are returned and ``truncated`` is set;
    ``total_in_window`` counts them all.
    """

    times: np.ndarray
    codes: np.ndarray
    t_start: float
    t_stop: float
    total_in_window: int
    truncated: bool

    @property
    def distinct_codes(self) -> list[int]:
        return sorted(int(c) for c in np.unique(self.codes))


def _candidate(series: SeriesLayout) -> bool:
    """From the index: one column of integers or floats placed by timestamps (events are irregular)."""
    kind = np.dtype(series.data.dtype).kind
    return (
        series.timestamps is not None
        and series.n_channels == 1
        and len(series.data.dims) == 1
        and kind in "biuf"
    )


def event_series_info(f: NwbFile, path: str) -> EventSeriesInfo | None:
    """The event facts of ``path`` when it is a sparse integer event series, else None.

    Sparse: at most 50 events per second over the bulk of its timestamps. Integer: an integer
    or boolean dtype, or floats whose first 4,096 values are whole numbers; at most 256 distinct
    codes among them. Costs the robust time range (a few block reads of the timestamps) and one
    read of the first 4,096 values.
    """
    series = series_layout(f, path)
    if not _candidate(series):
        return None
    span = series.robust_range()
    n_bulk = series.n_samples - span.n_outside - span.n_nan
    duration = span.stop - span.start
    if not math.isfinite(duration) or n_bulk < 1:
        return None
    rate = n_bulk / duration if duration > 0 else math.inf
    if rate > MAX_EVENT_RATE_HZ:
        return None
    head = np.asarray(read(f, series.data, slice(0, min(series.n_samples, _SAMPLE_VALUES))))
    if head.dtype.kind == "f":
        finite = head[np.isfinite(head)]
        if finite.size == 0 or not np.all(finite == np.round(finite)):
            return None
        head = finite
    codes = np.unique(head.astype(np.int64))
    if len(codes) > MAX_CODES:
        return None
    return EventSeriesInfo(
        path=path,
        n_events=series.n_samples,
        time_range=span,
        rate_hz=float(rate),
        codes=[int(c) for c in codes],
        codes_complete=series.n_samples <= _SAMPLE_VALUES,
    )


def is_event_series(f: NwbFile, path: str) -> bool:
    """Whether ``path`` is best drawn as events (markers with codes); see ``event_series_info`` for the
    cost."""
    return event_series_info(f, path) is not None


def read_events(
    f: NwbFile, path: str, t_start: float | None = None, t_stop: float | None = None, max_events: int = 20_000
) -> EventWindow:
    """The events (times and integer codes) of a window; without bounds, the bulk of the series.

    Stray timestamps far from the rest (see ``robust_time_range``) are outside the default
    window, not dropped: ask for their times explicitly to see them. Costs two searches of the
    timestamps (a few block reads) and one read each of the window's times and codes (at most
    ``max_events`` of each).
    """
    if max_events < 1:
        raise InvalidRequest("max_events must be at least 1.")
    series = series_layout(f, path)
    if not _candidate(series):
        raise InvalidRequest(
            f"'{path}' is not a series of single values at timestamps, so it has no events. "
            "Open it in the Traces view."
        )
    if t_start is None or t_stop is None:
        span = series.robust_range()
        t_start = span.start if t_start is None else t_start
        t_stop = math.nextafter(span.stop, math.inf) if t_stop is None else t_stop
    if not (math.isfinite(t_start) and math.isfinite(t_stop)) or t_stop < t_start:
        raise InvalidRequest(f"The window {t_start}–{t_stop} s is not valid: t_stop must be after t_start.")
    i0, i1 = series.index_range(t_start, t_stop)
    total = max(i1 - i0, 0)
    stop = i0 + min(total, max_events)
    times = series.times(i0, stop) if stop > i0 else np.empty(0)
    values = np.asarray(read(f, series.data, slice(i0, stop))) if stop > i0 else np.empty(0)
    keep = np.isfinite(times) & (np.isfinite(values) if values.dtype.kind == "f" else True)
    return EventWindow(
        times=times[keep],
        codes=values[keep].astype(np.int64),
        t_start=float(t_start),
        t_stop=float(t_stop),
        total_in_window=total,
        truncated=total > max_events,
    )
