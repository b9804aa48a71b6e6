"""A window of a TimeSeries as traces, whatever the series' length: every read is bounded in bytes.

The window's samples are located without reading the time axis: from ``starting_time`` and
``rate`` (no reads), or by searching ``timestamps`` block by block (usually 3 block reads of
64 KB, at worst about 2·log2(n / 8192)). A window that fits in ``max_bytes`` is read whole and
min/max decimated to ``max_points``; a longer one is read as evenly spaced, chunk-aligned
blocks whose total stays under ``max_bytes`` (an approximate envelope, flagged ``sampled``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engines._spread import spread_runs
from engines.nwb.errors import NwbReadError
from engines.nwb.extract._chunks import RowRead, prefetch_rows, read_unfiltered_rows, split_rows
from engines.nwb.extract._clock import series_clock
from engines.nwb.extract._common import attr_float, attr_text, child, is_numeric, read, read_rows
from engines.nwb.extract._robust import TimeRange, bulk_of, exact_range
from engines.nwb.extract._search import SortedColumn
from engines.nwb.extract.decimate import min_max_envelope
from engines.nwb.extract.errors import InvalidRequest, UnsupportedData
from engines.nwb.index import ObjectInfo
from engines.nwb.nwbfile import NwbFile

__all__ = [
    "TraceWindow",
    "SeriesLayout",
    "TimeRange",
    "series_layout",
    "series_time_range",
    "robust_time_range",
    "read_trace_window",
    "DEFAULT_WINDOW_S",
]

DEFAULT_WINDOW_S = 10.0
"""Length of the window shown when the caller gives no bounds."""

_MIN_BLOCK_BYTES = 128 * 1024
"""Sampled blocks are at least this big: a remote read costs a ~100 KB request whatever its size."""

_GROUP_BYTES = 24 << 20
"""A window is fetched in groups of about this many bytes (chunks of a group: concurrent requests),
well under what the range reader keeps for the reads that follow."""


@dataclass
class TraceWindow:
    """Samples of some channels of a series in a time window, scaled to the series' unit."""

    t: np.ndarray
    values: np.ndarray
    channels: list[int]
    channel_labels: list[str]
    unit: str
    t_start: float
    t_stop: float
    series_start: float
    series_stop: float
    decimated: bool
    sampled: bool
    bytes_read: int


@dataclass
class SeriesLayout:
    """Where a series' samples are and how they map to time: enough to plan reads without touching data."""

    path: str
    data: ObjectInfo
    n_samples: int
    n_channels: int
    timestamps: SortedColumn | None
    starting_time: float
    rate: float

    def times(self, lo: int, hi: int) -> np.ndarray:
        if self.timestamps is not None:
            return self.timestamps.values(lo, hi)
        return self.starting_time + np.arange(lo, hi) / self.rate

    def time_range(self) -> tuple[float, float]:
        if self.timestamps is not None:
            return self.timestamps.element(0), self.timestamps.element(self.n_samples - 1)
        return self.starting_time, self.starting_time + (self.n_samples - 1) / self.rate

    def robust_range(self) -> TimeRange:
        """The span of the bulk of the samples, and what lies outside it (see ``robust_time_range``)."""
        if self.timestamps is not None:
            return bulk_of(self.timestamps)
        return exact_range(*self.time_range(), self.n_samples)

    def index_range(self, t0: float, t1: float) -> tuple[int, int]:
        """Samples with t0 <= t < t1, as [i0, i1); the last sample too when t1 lies past it.

        Half-open, like spike windows: a 10-s window of a 30 kHz series is 300,000 samples, so
        windows laid end to end share no sample and a chunk-aligned window reads no extra chunk.
        """
        last = self.time_range()[1]
        if self.timestamps is not None:
            i0 = self.timestamps.searchsorted(t0, "left")
            return i0, self.n_samples if t1 > last else self.timestamps.searchsorted(t1, "left")
        i0 = math.ceil((t0 - self.starting_time) * self.rate - 1e-9)
        i1 = self.n_samples if t1 > last else math.ceil((t1 - self.starting_time) * self.rate - 1e-9)
        return min(max(i0, 0), self.n_samples), min(max(i1, 0), self.n_samples)


def series_layout(f: NwbFile, path: str) -> SeriesLayout:
    """Check that ``path`` is a series of 1-D or 2-D numbers and gather its layout.

    Index only, except ``starting_time`` when the index lacks its value (one scalar read).
    """
    group = f.resolve(path)
    data = child(f, path, "data") if group.kind == "group" else None
    if data is None:
        external = child(f, path, "external_file") if group.kind == "group" else None
        if external is not None:
            raise UnsupportedData(
                f"'{path}' keeps its frames in external files, not in this NWB file; "
                "the Frames view lists them."
            )
        raise NwbReadError(f"'{path}' has no data. The file is incomplete or this is not a TimeSeries.")
    if data.kind != "dataset":
        raise NwbReadError(f"'{path}/data' is not a dataset; this file does not follow the NWB schema here.")
    if not is_numeric(data):
        raise UnsupportedData(
            f"'{path}' holds {data.dtype} data, not numbers, so it cannot be drawn as traces. "
            "Open it in the raw data view."
        )
    shape = data.shape or []
    if len(shape) not in (1, 2):
        what = "a single value" if not shape else f"{len(shape)}-D data {tuple(shape)}"
        where = (
            "Open it in the Frames view."
            if f.index.is_a(path, "ImageSeries")
            else "Browse it in the raw data view."
        )
        raise UnsupportedData(f"'{path}' holds {what}; traces need time × channels. {where}")
    n_samples = shape[0]
    clock = series_clock(f, path)
    timestamps, column = clock.timestamps, None
    if timestamps is not None:
        if not is_numeric(timestamps) or len(timestamps.dims) != 1:
            raise NwbReadError(
                f"The timestamps of '{path}' are not a list of numbers, so its samples cannot be "
                "placed in time. The file needs fixing."
            )
        n_samples = min(n_samples, timestamps.dims[0])
        column = SortedColumn(f, timestamps, 0, n_samples)
    start, rate = clock.starting_time, clock.rate
    if n_samples == 0:
        raise UnsupportedData(f"'{path}' has no samples (its data is empty).")
    return SeriesLayout(path, data, n_samples, shape[1] if len(shape) == 2 else 1, column, start, rate)


def series_time_range(f: NwbFile, path: str) -> tuple[float, float]:
    """First and last sample time in seconds: no reads for a rate series, the first and last block of
    timestamps."""
    return series_layout(f, path).time_range()


def robust_time_range(f: NwbFile, path: str) -> TimeRange:
    """Where the bulk of a series' samples lie, for default windows and overview ranges.

    Stray timestamps far from the rest (a clock before synchronisation) are counted and
    reported (``TimeRange.describe``), not hidden. No reads for a rate series; a few block
    reads of the timestamps otherwise.
    """
    return series_layout(f, path).robust_range()


def _pick_channels(series: SeriesLayout, channels: Sequence[int] | None, max_channels: int) -> list[int]:
    if channels is None:
        return list(range(min(series.n_channels, max_channels)))
    picked = [int(c) for c in channels][:max_channels]
    outside = [c for c in picked if not 0 <= c < series.n_channels]
    if outside:
        raise InvalidRequest(
            f"'{series.path}' has channels 0–{series.n_channels - 1}; channel {outside[0]} does not exist."
        )
    if not picked:
        raise InvalidRequest("Choose at least one channel to show.")
    return picked


def _column_plan(series: SeriesLayout, channels: list[int]) -> tuple[object, list[int], list[int]]:
    """How to select the channels: (column selection, stored columns it reads, position of each channel in
    them).

    Nearby channels are read as one column range and picked afterwards; scattered ones by
    HDF5 point selection, so memory holds only the chosen columns.
    """
    if len(series.data.dims) == 1:
        return None, [0], [0] * len(channels)
    unique = sorted(set(channels))
    if unique[-1] - unique[0] + 1 <= 2 * len(unique):
        span = list(range(unique[0], unique[-1] + 1))
        return slice(span[0], span[-1] + 1), span, [c - span[0] for c in channels]
    return unique, unique, [unique.index(c) for c in channels]


def _stored_row_bytes(series: SeriesLayout, columns: list[int]) -> int:
    """Bytes HDF5 fetches per time sample for these columns: whole chunks across channels when chunked,
    whole rows when contiguous (the bytes between the chosen columns come along)."""
    itemsize = np.dtype(series.data.dtype).itemsize
    chunks = series.data.chunks
    if len(series.data.dims) == 1 or not chunks:
        return series.n_channels * itemsize
    width = chunks[1]
    return min(len({c // width for c in columns}) * width, series.n_channels) * itemsize


def _blocks(
    series: SeriesLayout, i0: int, i1: int, row_bytes: int, max_points: int, max_bytes: int
) -> tuple[list[tuple[int, int]], bool]:
    """Row ranges to read for [i0, i1): the whole window, or evenly spaced chunk-aligned blocks within budget.

    Blocks are whole chunks along time (a chunk is read and decompressed whole anyway) and at
    least 128 KB, with at most one block per output bin.
    """
    n = i1 - i0
    if n * row_bytes <= max_bytes:
        return [(i0, i1)], False
    budget = max_bytes // row_bytes
    if budget < 1:
        raise InvalidRequest(f"max_bytes ({max_bytes}) is smaller than one sample of the chosen channels.")
    n_bins = max(1, max_points // 2)
    chunk = series.data.chunks[0] if series.data.chunks else 1
    per_block = max(budget // n_bins, math.ceil(_MIN_BLOCK_BYTES / row_bytes), 1)
    if chunk > 1:
        per_block = math.ceil(per_block / chunk) * chunk
    per_block = min(per_block, budget)
    n_blocks = max(1, min(n_bins, budget // per_block))
    return spread_runs(i0, i1, per_block, n_blocks, align=chunk), True


def _columns(rows: np.ndarray, positions: list[int]) -> np.ndarray:
    """The chosen columns of a block in order; no copy when they are all of its columns in order
    (``np.take`` copies ten times faster than list indexing of a 64-column window)."""
    if positions == list(range(rows.shape[1])):
        return rows
    return np.take(rows, np.asarray(positions, dtype=np.intp), axis=1)


def _prefetch(f: NwbFile, series: SeriesLayout, rows: list[tuple[int, int]], columns: list[int]) -> None:
    """Fetch the rows' chunks of data and timestamps with concurrent requests (remote files only); of
    unfiltered data only the rows' bytes in each chunk (``read_unfiltered_rows`` decodes them)."""
    reads = [RowRead(series.data, lo, hi, columns, bands=True) for lo, hi in rows]
    if series.timestamps is not None:
        reads += [RowRead(series.timestamps.info, lo, hi) for lo, hi in rows]
    prefetch_rows(f, reads)


def _scale(f: NwbFile, series: SeriesLayout, channels: list[int]) -> tuple[np.ndarray, float]:
    """Per-channel gain (channel_conversion × conversion) and offset from the series' attributes."""
    gain = np.full(len(channels), attr_float(series.data, "conversion", 1.0))
    per_channel = child(f, series.path, "channel_conversion")
    if (
        per_channel is not None
        and is_numeric(per_channel)
        and (per_channel.shape or [0])[0] >= series.n_channels
    ):
        gain *= np.asarray(read_rows(f, per_channel, channels), dtype=np.float64)
    return gain, attr_float(series.data, "offset", 0.0)


def _channel_labels(f: NwbFile, series: SeriesLayout, channels: list[int]) -> list[str]:
    """'electrode 12' / 'ROI 3' from the series' electrodes or rois region, else 'ch 0', 'ch 1', ..."""
    for name, noun in (("electrodes", "electrode"), ("rois", "ROI")):
        region = child(f, series.path, name)
        if region is None:
            continue
        table = region.attrs.get("table")
        if not (
            isinstance(table, dict)
            and table.get("ref")
            and is_numeric(region)
            and len(region.dims) == 1
            and region.dims[0] >= series.n_channels
        ):
            continue
        ids = child(f, table["ref"], "id")
        rows = np.asarray(read_rows(f, region, channels), dtype=np.int64)
        if ids is None or not is_numeric(ids) or rows.min() < 0 or rows.max() >= (ids.shape or [0])[0]:
            continue
        return [f"{noun} {int(i)}" for i in read_rows(f, ids, rows.tolist())]
    return [f"ch {c}" for c in channels]


def _window(series: SeriesLayout, t_start: float | None, t_stop: float | None) -> tuple[float, float, float]:
    """``(t_stop, t0, t1)``: the asked stop (defaults filled in) and the part of the window to read.

    A window wholly outside the series keeps its bounds (nothing is read from it)."""
    first, last = series.time_range()
    if t_start is None:
        t_start = series.robust_range().start if t_stop is None else t_stop - DEFAULT_WINDOW_S
    if t_stop is None:
        t_stop = t_start + DEFAULT_WINDOW_S
    if not (math.isfinite(t_start) and math.isfinite(t_stop)) or t_stop < t_start:
        raise InvalidRequest(f"The window {t_start}–{t_stop} s is not valid: t_stop must be after t_start.")
    t0, t1 = max(t_start, first), min(t_stop, last)
    if t1 < t0:  # the window lies outside the series: nothing to read
        t0, t1 = t_start, t_stop
    return t_stop, t0, t1


def _read_blocks(
    f: NwbFile,
    series: SeriesLayout,
    blocks: list[tuple[int, int]],
    row_bytes: int,
    selection: object,
    columns: list[int],
    positions: list[int],
    n_channels: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The times and samples of ``blocks`` (row ranges), read a group of concurrent requests at a time."""
    times, pieces = [np.empty(0)], [np.empty((0, n_channels), dtype=np.dtype(series.data.dtype))]
    align = series.data.chunks[0] if series.data.chunks else 1
    for group in split_rows(blocks, row_bytes, _GROUP_BYTES, align):
        _prefetch(f, series, group, columns)
        for lo, hi in group:
            raw = read_unfiltered_rows(f, series.data, lo, hi, columns)
            if raw is None:
                raw = read(
                    f, series.data, (slice(lo, hi),) if selection is None else (slice(lo, hi), selection)
                )
            pieces.append(_columns(np.asarray(raw).reshape(hi - lo, -1), positions))
            times.append(series.times(lo, hi))
    return np.concatenate(times), np.concatenate(pieces)


def read_trace_window(
    f: NwbFile,
    path: str,
    t_start: float | None = None,
    t_stop: float | None = None,
    channels: Sequence[int] | None = None,
    max_points: int = 2000,
    max_channels: int = 64,
    max_bytes: int = 64 * 2**20,
) -> TraceWindow:
    """The samples of ``channels`` (default: the first ``max_channels``) between ``t_start`` and ``t_stop``.

    The window is half-open, ``t_start <= t < t_stop`` (the last sample is included when ``t_stop``
    lies past it). Without bounds it is the first 10 s of the bulk of the samples (stray early
    timestamps skipped, see ``robust_time_range``); with one bound it is 10 s from it. Reads at
    most ``max_bytes`` of data and timestamps together, plus the few single values the time search
    needs; ``bytes_read`` reports what was read. Remote chunks of a window are fetched with
    concurrent requests (about one round trip per 24 MB).
    """
    if max_points < 2:
        raise InvalidRequest("max_points must be at least 2 (one minimum and one maximum).")
    series = series_layout(f, path)
    first, last = series.time_range()
    t_stop, t0, t1 = _window(series, t_start, t_stop)
    picked = _pick_channels(series, channels, max_channels)
    selection, columns, positions = _column_plan(series, picked)
    i0, i1 = series.index_range(t0, t_stop)
    time_bytes = series.timestamps.itemsize if series.timestamps is not None else 0
    row_bytes = _stored_row_bytes(series, columns) + time_bytes
    blocks, sampled = _blocks(series, i0, i1, row_bytes, max_points, max_bytes) if i1 > i0 else ([], False)
    t, raw = _read_blocks(f, series, blocks, row_bytes, selection, columns, positions, len(picked))
    decimated = len(t) > max_points
    if decimated:
        t, raw = min_max_envelope(t, raw, max_points // 2)
    gain, offset = _scale(f, series, picked)
    values = raw.astype(np.float64) * gain + offset
    return TraceWindow(
        t=t,
        values=values,
        channels=picked,
        channel_labels=_channel_labels(f, series, picked),
        unit=attr_text(series.data, "unit", ""),
        t_start=float(t0),
        t_stop=float(t1),
        series_start=float(first),
        series_stop=float(last),
        decimated=decimated,
        sampled=sampled,
        bytes_read=sum(hi - lo for lo, hi in blocks) * row_bytes,
    )
