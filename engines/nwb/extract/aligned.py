"""Trial-aligned data: spikes and traces around an event of each trial (PSTH, trial raster, trial averages).

The alignment comes from a TimeIntervals table (trials, epochs): one time column (``start_time``
or any per-trial time such as ``response_time``) and, optionally, a column whose values group
the trials (condition, stimulus). Only what the picture needs is read: the two columns, and
each unit's spikes (or the series' samples) inside the trials' windows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engines.nwb.extract.errors import InvalidRequest, UnsupportedData
from engines.nwb.extract.tables import read_column, table_columns
from engines.nwb.extract.timeseries import read_trace_window
from engines.nwb.extract.units import count_spikes, read_spike_window, read_units_table
from engines.nwb.nwbfile import NwbFile

__all__ = [
    "TrialAlignment",
    "AlignedSpikes",
    "AlignedTraces",
    "read_alignment",
    "align_spikes",
    "align_traces",
    "psth",
]

MAX_ALIGNED_SPIKES = 2_000_000
MAX_TRIALS_FOR_TRACES = 500


@dataclass(frozen=True)
class TrialAlignment:
    """Per-trial event times (``times``, NaN where missing) and group labels, from a TimeIntervals table."""

    table: str
    column: str
    times: np.ndarray
    groups: np.ndarray
    group_column: str | None = None

    @property
    def n_trials(self) -> int:
        return int(len(self.times))

    def group_names(self) -> list[str]:
        return sorted({str(g) for g in self.groups})


@dataclass
class AlignedSpikes:
    """Spike times relative to each trial's event: ``trial``, ``unit`` (id) and ``t`` (s), one row per
    spike."""

    frame: pd.DataFrame
    alignment: TrialAlignment
    window: tuple[float, float]
    units: list[int] = field(default_factory=list)


@dataclass
class AlignedTraces:
    """Samples around each trial's event on a common time grid: ``values[trial, sample, channel]``."""

    t: np.ndarray
    values: np.ndarray
    channels: list[int]
    channel_labels: list[str]
    alignment: TrialAlignment
    unit: str = ""

    def mean_by_group(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per group: (mean, standard error of the mean) over trials, shaped (samples, channels)."""
        result = {}
        for name in self.alignment.group_names():
            rows = np.array([str(g) == name for g in self.alignment.groups])
            block = self.values[rows]
            count = np.sum(np.isfinite(block), axis=0)
            with warnings.catch_warnings():  # samples outside every trial's data are NaN, not an error
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(block, axis=0) if len(block) else np.full(self.values.shape[1:], np.nan)
                sem = np.nanstd(block, axis=0) / np.sqrt(np.maximum(count, 1))
            result[name] = (mean, sem)
        return result


def read_alignment(
    f: NwbFile, table: str, column: str = "start_time", group_by: str | None = None
) -> TrialAlignment:
    """The event time of every trial (one read of ``column``) and its group (one read of ``group_by``)."""
    columns = table_columns(f, table)
    for name in (column, group_by):
        if name and name not in columns and name not in ("start_time", "stop_time"):
            raise InvalidRequest(f"'{table}' has no column '{name}'; its columns are {', '.join(columns)}.")
    ids = f.resolve(f"{table}/id").dims if f"{table}/id" in f.index else []
    n = ids[0] if ids else 0
    if n == 0:
        raise UnsupportedData(f"'{table}' has no trials to align to.")
    times = np.asarray(
        pd.to_numeric(pd.Series(read_column(f, table, column, 0, n)), errors="coerce"), dtype=float
    )
    groups = (
        np.asarray([str(v) for v in read_column(f, table, group_by, 0, n)]) if group_by else np.full(n, "all")
    )
    return TrialAlignment(table=table, column=column, times=times, groups=groups, group_column=group_by)


def _check_window(window: tuple[float, float]) -> tuple[float, float]:
    pre, post = float(window[0]), float(window[1])
    if not post > pre:
        raise InvalidRequest(
            f"The window {pre:g} to {post:g} s around the event is empty: give a start before the end."
        )
    return pre, post


def align_spikes(
    f: NwbFile,
    units_path: str,
    alignment: TrialAlignment,
    window: tuple[float, float] = (-0.5, 1.0),
    units: Sequence[int] | None = None,
) -> AlignedSpikes:
    """Every spike of ``units`` (ids; default all) within ``window`` of each trial's event, relative to it.

    Reads each unit's spikes between the first and last trial's windows (counted first: more
    than ``MAX_ALIGNED_SPIKES`` is refused with a message instead of read).
    """
    pre, post = _check_window(window)
    table = read_units_table(f, units_path).frame
    ids = [int(u) for u in table["unit"]]
    rows = list(range(len(ids))) if not units else [ids.index(u) for u in units if u in ids]
    events = alignment.times[np.isfinite(alignment.times)]
    if not len(events) or not rows:
        return AlignedSpikes(
            pd.DataFrame({"trial": [], "unit": [], "t": []}), alignment, (pre, post), [ids[r] for r in rows]
        )
    t0, t1 = float(events.min() + pre), float(events.max() + post)
    total = count_spikes(f, units_path, t0, t1, units=rows).total
    if total > MAX_ALIGNED_SPIKES:
        raise UnsupportedData(
            f"{total:,} spikes fall in the trials' span; pick fewer units (at most "
            f"{MAX_ALIGNED_SPIKES:,} spikes are aligned at once)."
        )
    spikes = read_spike_window(f, units_path, t0, t1, units=rows, max_spikes=max(total, 1))
    order = np.argsort(spikes.times, kind="stable")
    times, unit_rows = spikes.times[order], spikes.unit_rows[order]
    pieces = []
    for trial, event in enumerate(alignment.times):
        if not np.isfinite(event):
            continue
        lo, hi = np.searchsorted(times, event + pre), np.searchsorted(times, event + post)
        if hi > lo:
            pieces.append(
                pd.DataFrame(
                    {"trial": trial, "unit": np.asarray(ids)[unit_rows[lo:hi]], "t": times[lo:hi] - event}
                )
            )
    frame = (
        pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame({"trial": [], "unit": [], "t": []})
    )
    return AlignedSpikes(frame, alignment, (pre, post), [ids[r] for r in rows])


def psth(aligned: AlignedSpikes, bin_s: float = 0.02) -> pd.DataFrame:
    """Firing rate (Hz, per unit averaged over units and trials) per time bin and group: ``t``, ``group``,
    ``rate_hz``."""
    if not bin_s > 0:
        raise InvalidRequest("The bin must be longer than 0 s.")
    pre, post = aligned.window
    edges = np.arange(pre, post + bin_s / 2, bin_s)
    centres = 0.5 * (edges[:-1] + edges[1:])
    groups = aligned.alignment.groups
    valid = np.isfinite(aligned.alignment.times)
    frames = []
    n_units = max(len(aligned.units), 1)
    for name in aligned.alignment.group_names():
        trials = np.flatnonzero(valid & np.array([str(g) == name for g in groups]))
        if not len(trials):
            continue
        spikes = aligned.frame[aligned.frame["trial"].isin(trials)]["t"].to_numpy()
        counts, _ = np.histogram(spikes, edges)
        frames.append(
            pd.DataFrame(
                {
                    "t": centres,
                    "group": name,
                    "rate_hz": counts / (len(trials) * n_units * bin_s),
                    "trials": len(trials),
                }
            )
        )
    return (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({"t": [], "group": [], "rate_hz": []})
    )


def align_traces(
    f: NwbFile,
    series_path: str,
    alignment: TrialAlignment,
    window: tuple[float, float] = (-0.5, 1.0),
    channels: Sequence[int] | None = None,
    points: int = 400,
) -> AlignedTraces:
    """Each trial's samples around its event, resampled to ``points`` times (one window read per trial).

    At most ``MAX_TRIALS_FOR_TRACES`` trials are read (the first ones); the rest are left out.
    """
    pre, post = _check_window(window)
    grid = np.linspace(pre, post, points)
    trials = np.flatnonzero(np.isfinite(alignment.times))[:MAX_TRIALS_FOR_TRACES]
    values, picked, labels, unit = None, list(channels or []), [], ""
    for trial in trials:
        event = float(alignment.times[trial])
        window_data = read_trace_window(
            f, series_path, event + pre, event + post, channels=channels or None, max_points=points * 4
        )
        if values is None:
            picked, labels, unit = (
                list(window_data.channels),
                list(window_data.channel_labels),
                window_data.unit,
            )
            values = np.full((len(alignment.times), points, len(picked)), np.nan)
        if window_data.t.size >= 2:
            for column in range(len(picked)):
                values[trial, :, column] = np.interp(
                    grid, window_data.t - event, window_data.values[:, column], left=np.nan, right=np.nan
                )
    if values is None:
        raise UnsupportedData("No trial has an event time to align to.")
    return AlignedTraces(
        t=grid, values=values, channels=picked, channel_labels=labels, alignment=alignment, unit=unit
    )
