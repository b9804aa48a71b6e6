"""Several objects of one file on one time axis ("timeseries alignment", as Neurosift calls it).

Not to be confused with ``aligned.py`` (trials aligned to an event for a PSTH): here nothing
moves in time; each picked object is read for the same absolute window and stacked, one panel
each. This module decides from the index alone which objects can be stacked and as what
(``stackable_objects``), and reads one object's window (``read_stacked``) through the same
extraction function its own view uses: ``read_trace_window`` (decimated, bounded in bytes),
``read_events``, ``read_spike_window``, ``read_intervals``. The one reader of its own is for
events that are only timestamps (AnnotationSeries, ``EventsTable``, ndx-events ``Events``): no existing
function reads a window of a bare timestamps column, so it searches it with ``SortedColumn``
as every other window read does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from engines.nwb.extract._common import child, is_numeric
from engines.nwb.extract._robust import TimeRange, bulk_of
from engines.nwb.extract._search import SortedColumn
from engines.nwb.extract.errors import InvalidRequest, UnsupportedData
from engines.nwb.extract.events import EventWindow, read_events
from engines.nwb.extract.tables import read_intervals
from engines.nwb.extract.timeseries import TraceWindow, read_trace_window, robust_time_range
from engines.nwb.extract.units import SpikeWindow, read_spike_window, read_units_table
from engines.nwb.index import NwbIndex, ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = [
    "Kind",
    "StackItem",
    "StackedWindow",
    "IntervalSpans",
    "stackable_objects",
    "stack_item",
    "read_stacked",
    "stacked_extent",
    "default_stacked_window",
]

Kind = Literal["traces", "events", "intervals", "units"]
KINDS: tuple[Kind, ...] = ("traces", "events", "intervals", "units")

CHANNELS_PER_PANEL = 4
"""A stacked panel is compact: the first few channels of a series (its own view shows them all)."""
MAX_EVENTS = 5_000
MAX_SPIKES = 20_000
"""A panel draws at most this many spikes, the first ones in time (the raster view datashades more)."""
MAX_INTERVALS = 100_000
DEFAULT_SPAN_S = 30.0
"""The first window when none is shared yet: long enough for a few trials, short enough to read fast."""

_EVENT_TYPES = ("AnnotationSeries", "Events", "TTLs", "LabeledEvents")
"""Timestamp series of events: core's AnnotationSeries and ndx-events' (0.2) series. Core's (and
ndx-events 0.4's) ``EventsTable`` keeps its times in a ``timestamp`` column, in ascending order."""
_INTEGER_KINDS = "biu"


@dataclass(frozen=True)
class StackItem:
    """One object that can be stacked: where, as what, and its neurodata type (for grouping and labels)."""

    path: str
    kind: Kind
    neurodata_type: str


@dataclass
class IntervalSpans:
    """The intervals of a TimeIntervals table that overlap a window (``row``: their row in the table)."""

    start: np.ndarray
    stop: np.ndarray
    row: np.ndarray
    total_rows: int


@dataclass
class StackedWindow:
    """One object's data for a window; ``data`` is the kind's own result type."""

    item: StackItem
    t_start: float
    t_stop: float
    data: TraceWindow | EventWindow | SpikeWindow | IntervalSpans
    note: str = ""
    coded: bool = False
    """Events with integer codes (drawn one row per code), not bare times."""

    def summary(self) -> str:
        """What the window holds, in words: ``10.00 – 20.00 s · 412 spikes`` (plus the note)."""
        data = self.data
        if isinstance(data, TraceWindow):
            what = f"{len(data.channels)} channel(s), {len(data.t):,} points"
        elif isinstance(data, EventWindow):
            what = f"{data.total_in_window:,} events"
        elif isinstance(data, SpikeWindow):
            what = f"{data.total_in_window:,} spikes"
        else:
            what = f"{len(data.start):,} intervals"
        parts = [f"{self.t_start:.2f} – {self.t_stop:.2f} s", what, self.note]
        return " · ".join(p for p in parts if p)


def _dataset(index: NwbIndex, path: str, name: str) -> ObjectInfo | None:
    """``path/name`` with soft links followed, from the index only."""
    target = path.rstrip("/") + "/" + name
    if target not in index:
        return None
    info = index.get(target)
    for _ in range(8):
        if info.kind != "soft_link" or not info.link_target or info.link_target not in index:
            break
        info = index.get(info.link_target)
    return info if info.kind == "dataset" else None


def stack_item(index: NwbIndex, path: str) -> StackItem | None:
    """What ``path`` is on a shared time axis, or None when it has no times (decided from the index)."""
    info = index.get(path)
    kind = _kind(index, info.path)
    return StackItem(info.path, kind, info.neurodata_type or "") if kind else None


def _kind(index: NwbIndex, path: str) -> Kind | None:
    if index.is_a(path, "TimeIntervals"):
        return "intervals" if _dataset(index, path, "start_time") is not None else None
    if index.is_a(path, "Units"):
        return "units" if _dataset(index, path, "spike_times") is not None else None
    if index.is_a(path, "EventsTable"):
        return "events" if _dataset(index, path, "timestamp") is not None else None
    timestamps = _dataset(index, path, "timestamps")
    if any(index.is_a(path, t) for t in _EVENT_TYPES):
        return "events" if timestamps is not None else None
    if not index.is_a(path, "TimeSeries"):
        return None
    data = _dataset(index, path, "data")
    if data is None or not is_numeric(data):
        return "events" if timestamps is not None and len(timestamps.dims) == 1 else None
    if len(data.dims) not in (1, 2):
        return None
    integer = np.dtype(data.dtype).kind in _INTEGER_KINDS
    return "events" if integer and len(data.dims) == 1 and timestamps is not None else "traces"


def stackable_objects(index: NwbIndex) -> list[StackItem]:
    """Every object of the file that can share a time axis, in file order (index only, no reads)."""
    items = []
    for info in index.walk("/"):
        if info.kind == "group" and info.neurodata_type:
            item = stack_item(index, info.path)
            if item is not None:
                items.append(item)
    return items


def _timestamps(f: NwbFile, path: str) -> SortedColumn:
    info = child(f, path, "timestamps") or child(f, path, "timestamp")
    if info is None or not is_numeric(info) or len(info.dims) != 1:
        raise UnsupportedData(f"'{path}' has no list of timestamps, so its events cannot be placed in time.")
    if info.dims[0] == 0:
        raise UnsupportedData(f"'{path}' has no events (its timestamps are empty).")
    return SortedColumn(f, info)


def _coded(index: NwbIndex, path: str) -> bool:
    """Events whose values are numbers (TTL codes), read by ``read_events``; else bare timestamps."""
    data = _dataset(index, path, "data")
    return data is not None and is_numeric(data) and len(data.dims) == 1 and data.dims[0] > 0


def _read_bare_events(f: NwbFile, path: str, t0: float, t1: float, max_events: int) -> EventWindow:
    """Events that are only timestamps: two searches of the column and one read of the window's times."""
    column = _timestamps(f, path)
    i0, i1 = column.searchsorted(t0, "left"), column.searchsorted(t1, "left")
    total = max(i1 - i0, 0)
    times = column.values(i0, i0 + min(total, max_events))
    times = times[np.isfinite(times)]
    return EventWindow(times, np.zeros(len(times), np.int64), t0, t1, total, total > max_events)


def _read_intervals(f: NwbFile, path: str, t0: float, t1: float) -> IntervalSpans:
    table = read_intervals(f, path, offset=0, limit=1, max_rows=MAX_INTERVALS)
    stop = np.where(np.isfinite(table.stop), table.stop, table.start)
    rows = np.flatnonzero((table.start < t1) & (stop >= t0))
    return IntervalSpans(table.start[rows], stop[rows], rows, table.page.total_rows)


def read_stacked(f: NwbFile, item: StackItem, t0: float, t1: float, max_points: int = 1200) -> StackedWindow:
    """``item``'s data with ``t0 <= t < t1``, bounded like its own view's read (see each kind's function)."""
    if not (math.isfinite(t0) and math.isfinite(t1)) or t1 <= t0:
        raise InvalidRequest(f"The window {t0}–{t1} s is not valid: its end must be after its start.")
    if item.kind == "traces":
        trace = read_trace_window(
            f, item.path, t0, t1, channels=None, max_points=max_points, max_channels=CHANNELS_PER_PANEL
        )
        return StackedWindow(item, t0, t1, trace, _trace_note(trace))
    if item.kind == "events":
        coded = _coded(f.index, item.path)
        events = (read_events if coded else _read_bare_events)(f, item.path, t0, t1, MAX_EVENTS)
        note = f"first {len(events.times):,} of {events.total_in_window:,} events" if events.truncated else ""
        return StackedWindow(item, t0, t1, events, note, coded)
    if item.kind == "units":
        spikes = read_spike_window(f, item.path, t_start=t0, t_stop=t1, max_spikes=MAX_SPIKES)
        note = (
            f"first {len(spikes.times):,} of {spikes.total_in_window:,} spikes (to {spikes.t_stop:.2f} s); "
            "zoom in or open the Raster view for all"
            if spikes.truncated
            else ""
        )
        return StackedWindow(item, t0, t1, spikes, note)
    spans = _read_intervals(f, item.path, t0, t1)
    note = f"first {MAX_INTERVALS:,} of {spans.total_rows:,} rows" if spans.total_rows > MAX_INTERVALS else ""
    return StackedWindow(item, t0, t1, spans, note)


def _trace_note(trace: TraceWindow) -> str:
    notes = ["sampled" if trace.sampled else "", "min/max decimated" if trace.decimated else ""]
    return " · ".join(n for n in notes if n)


def stacked_extent(f: NwbFile, item: StackItem) -> TimeRange:
    """Where the bulk of ``item``'s times lie (see ``robust_time_range``): a few block reads, or the
    start/stop columns of an intervals table, or the units' spike index."""
    if item.kind == "traces" or (item.kind == "events" and _coded(f.index, item.path)):
        return robust_time_range(f, item.path)
    if item.kind == "events":
        return bulk_of(_timestamps(f, item.path))
    if item.kind == "units":
        units = read_units_table(f, item.path)
        return TimeRange(units.t_start, units.t_stop, units.t_start, units.t_stop, len(units.frame))
    table = read_intervals(f, item.path, offset=0, limit=1, max_rows=MAX_INTERVALS)
    times = np.concatenate([table.start, table.stop])
    times = times[np.isfinite(times)]
    if not times.size:
        raise UnsupportedData(f"'{item.path}' has no intervals with finite times.")
    return TimeRange(
        float(times.min()), float(times.max()), float(times.min()), float(times.max()), len(times)
    )


def default_stacked_window(extents: list[TimeRange]) -> tuple[float, float]:
    """The first window: from the earliest start, ``DEFAULT_SPAN_S`` or the whole span when shorter."""
    usable = [e for e in extents if math.isfinite(e.start) and math.isfinite(e.stop)]
    if not usable:
        return 0.0, DEFAULT_SPAN_S
    start = min(e.start for e in usable)
    stop = max(e.stop for e in usable)
    return start, start + (min(stop - start, DEFAULT_SPAN_S) if stop > start else 1.0)
