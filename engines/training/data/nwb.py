"""NWB files to sessions through the NWB engine (``open_nwb`` and the ``extract`` readers).

Default modality mapping, decided from the file's index:

- Units -> ``spikes`` (counts per bin, one feature per unit)
- ElectricalSeries (raw or in an LFP container) -> ``lfp`` (averaged within each bin)
- RoiResponseSeries (in DfOverF or Fluorescence) -> ``calcium``
- SpatialSeries, BehavioralTimeSeries -> behaviour columns; BehavioralEvents -> event counts per bin
- TimeIntervals with a categorical column (trials, stimulus tables) -> stimulus ids

``modality_map`` ({object path: modality}) adds or overrides objects (an EEG ElectricalSeries,
say). Costs: the units' spikes (8 bytes each) and every mapped series read once, each bounded
by ``max_bytes``; a remote file is read with HTTP range requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from engines._progress import Progress
from engines.io.policy import SourcePolicy
from engines.nwb.extract import (
    read_intervals,
    read_spike_window,
    read_trace_window,
    read_units_table,
    series_layout,
    table_columns,
)
from engines.nwb.extract.metadata import file_overview
from engines.nwb.extract.tables import read_column
from engines.nwb.index_store import IndexStore
from engines.nwb.nwbfile import NwbFile, open_nwb
from engines.training.data.session import Session
from engines.training.errors import DataError

__all__ = ["convert_nwb", "plan_nwb_conversion", "NwbConversionPlan"]

_STIMULUS_COLUMNS = (
    "stimulus_name",
    "stim_name",
    "stimulus",
    "stimCategory",
    "condition",
    "trial_type",
    "type",
    "image_name",
    "orientation",
    "tags",
)
_PREFERRED_TABLES = ("trials", "stimulus", "encoding_table", "epochs")


@dataclass
class NwbConversionPlan:
    """Which objects of the file become which part of the session (object paths)."""

    modalities: dict[str, list[str]] = field(default_factory=dict)
    behaviour: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    intervals: str | None = None

    def is_empty(self) -> bool:
        return not any(self.modalities.values())


def plan_nwb_conversion(nwb: NwbFile, modality_map: Mapping[str, str] | None = None) -> NwbConversionPlan:
    """The default mapping of the file's objects (index only, no reads), with ``modality_map`` applied."""
    index, plan = nwb.index, NwbConversionPlan()
    overrides = {("/" + p.strip("/")): m for p, m in (modality_map or {}).items()}

    def add(modality: str, path: str) -> None:
        if path not in overrides:
            plan.modalities.setdefault(modality, []).append(path)

    for info in index.find_by_type("Units"):
        if f"{info.path}/spike_times" in index:
            add("spikes", info.path)
    for info in index.find_by_type("ElectricalSeries"):
        if not index.is_a(info.path, "SpikeEventSeries"):
            add("lfp", info.path)
    for info in index.find_by_type("RoiResponseSeries"):
        add("calcium", info.path)
    for container, target in (
        ("SpatialSeries", plan.behaviour),
        ("BehavioralTimeSeries", plan.behaviour),
        ("BehavioralEvents", plan.events),
    ):
        for info in index.find_by_type(container):
            series = [info] if container == "SpatialSeries" else index.children(info.path)
            target.extend(
                s.path for s in series if f"{s.path}/data" in index or f"{s.path}/timestamps" in index
            )
    for path, modality in overrides.items():
        nwb.resolve(path)  # a wrong path fails here with the NWB engine's message
        plan.modalities.setdefault(modality, []).append(path)
    tables = [i.path for i in index.find_by_type("TimeIntervals") if f"{i.path}/start_time" in index]
    ranked = sorted(
        tables, key=lambda p: next((k for k, n in enumerate(_PREFERRED_TABLES) if p.endswith(n)), 99)
    )
    plan.intervals = ranked[0] if ranked else None
    return plan


def _span(nwb: NwbFile, plan: NwbConversionPlan) -> tuple[float, float]:
    starts, stops = [], []
    for modality, paths in plan.modalities.items():
        for path in paths:
            if modality == "spikes" and nwb.index.is_a(path, "Units"):
                table = read_units_table(nwb, path)
                first, last = table.t_start, table.t_stop
            else:
                first, last = series_layout(nwb, path).time_range()
            if math.isfinite(first) and math.isfinite(last):
                starts.append(first)
                stops.append(last)
    if not starts:
        raise DataError(
            "The file's neural objects hold no samples or spikes with valid times; nothing to train on."
        )
    return min(starts), max(stops)


def _bin_spikes(nwb: NwbFile, path: str, t0: float, n_bins: int, bin_s: float, max_spikes: int) -> np.ndarray:
    window = read_spike_window(nwb, path, t0, t0 + n_bins * bin_s, max_spikes=max_spikes)
    if window.truncated:
        raise DataError(
            f"'{path}' holds {window.total_in_window:,} spikes; at most {max_spikes:,} are converted. "
            "Convert a shorter time range or raise max_spikes."
        )
    n_units = len(window.units)
    bins = np.clip(((window.times - t0) / bin_s).astype(np.int64), 0, n_bins - 1)
    counts = np.bincount(bins * n_units + window.unit_rows, minlength=n_bins * n_units)
    return counts.reshape(n_bins, n_units).astype(np.float32)


def _bin_series(
    nwb: NwbFile, path: str, t0: float, n_bins: int, bin_s: float, max_bytes: int, events: bool = False
) -> np.ndarray:
    """Samples averaged within each bin, empty bins interpolated (or, for events, counts per bin)."""
    layout = series_layout(nwb, path)
    trace = read_trace_window(
        nwb,
        path,
        t0,
        t0 + n_bins * bin_s,
        max_points=layout.n_samples + 2,
        max_channels=layout.n_channels,
        max_bytes=max_bytes,
    )
    if trace.sampled:
        raise DataError(
            f"'{path}' is larger than {max_bytes / 2**20:.0f} MB in this time range. Convert it with a "
            "larger max_bytes or leave it out with modality_map."
        )
    bins = np.clip(((trace.t - t0) / bin_s).astype(np.int64), 0, n_bins - 1)
    if events:
        return np.bincount(bins, minlength=n_bins).astype(np.float32)[:, None]
    values = np.nan_to_num(trace.values, nan=0.0)
    counts = np.bincount(bins, minlength=n_bins)
    sums = np.stack([np.bincount(bins, values[:, c], n_bins) for c in range(values.shape[1])], axis=1)
    filled = counts > 0
    centres = t0 + (np.arange(n_bins) + 0.5) * bin_s
    if filled.sum() == 0:
        raise DataError(f"'{path}' has no samples inside the session's time range.")
    means = sums[filled] / counts[filled, None]
    return np.stack(
        [np.interp(centres, centres[filled], means[:, c]) for c in range(means.shape[1])], axis=1
    ).astype(np.float32)


def _stops(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Stop times with missing ones (NaN, written by some tools) taken as the next interval's start."""
    following = np.append(start[1:], np.nan)
    durations = (stop - start)[np.isfinite(stop - start)]
    fallback = start + (np.median(durations) if len(durations) else np.nanmedian(np.diff(start)))
    return np.where(np.isfinite(stop), stop, np.where(np.isfinite(following), following, fallback))


def _stimulus(
    nwb: NwbFile, path: str, t0: float, n_bins: int, bin_s: float
) -> tuple[np.ndarray, list[str], str]:
    intervals = read_intervals(nwb, path, limit=1, max_rows=1_000_000)
    n_rows = len(intervals.start)
    columns = table_columns(nwb, path)
    column = next((c for c in _STIMULUS_COLUMNS if c in columns), None)
    labels = (
        [str(v) for v in read_column(nwb, path, column, 0, n_rows)]
        if column
        else [path.rsplit("/", 1)[-1]] * n_rows
    )
    names = sorted(set(labels))
    ids = np.full(n_bins, -1, dtype=np.int64)
    for start, stop, label in zip(intervals.start, _stops(intervals.start, intervals.stop), labels):
        if not (math.isfinite(start) and math.isfinite(stop)):
            continue
        a, b = max(0, int((start - t0) / bin_s)), min(n_bins, int(math.ceil((stop - t0) / bin_s)))
        ids[a:b] = names.index(label)
    return ids, names, column or "(table)"


def _n_bins(nwb: NwbFile, first: float, last: float, bin_s: float, max_bins: int) -> int:
    """Bins covering ``first..last``; refuses a span that would need more than ``max_bins``."""
    n_bins = int(math.ceil((last - first) / bin_s)) + 1
    if n_bins > max_bins:
        raise DataError(
            f"{nwb.label} spans {last - first:,.0f} s: {n_bins:,} bins of {bin_s} s is more than "
            f"{max_bins:,}. Use a larger bin size."
        )
    return n_bins


@dataclass
class _Grid:
    """The time grid and read limits every object of one conversion is binned with."""

    first: float
    n_bins: int
    bin_s: float
    max_spikes: int
    max_bytes: int


def _read_modalities(
    nwb: NwbFile, plan: NwbConversionPlan, grid: _Grid, report: Progress
) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    """Each modality's objects binned and stacked as features, and the object paths behind each."""
    modalities: dict[str, np.ndarray] = {}
    sources: dict[str, list[str]] = {}
    steps = sum(len(p) for p in plan.modalities.values()) + len(plan.behaviour) + len(plan.events) + 1
    done = 0
    for modality, paths in plan.modalities.items():
        parts = []
        for path in paths:
            report(done / steps, f"reading {path}")
            parts.append(
                _bin_spikes(nwb, path, grid.first, grid.n_bins, grid.bin_s, grid.max_spikes)
                if nwb.index.is_a(path, "Units")
                else _bin_series(nwb, path, grid.first, grid.n_bins, grid.bin_s, grid.max_bytes)
            )
            done += 1
        modalities[modality] = np.concatenate(parts, axis=1)
        sources[modality] = paths
    return modalities, sources


def _read_behaviour(
    nwb: NwbFile, plan: NwbConversionPlan, grid: _Grid
) -> tuple[np.ndarray | None, list[str]]:
    """Behaviour series and event counts as columns (None when the file has neither), with names."""
    args = (grid.first, grid.n_bins, grid.bin_s, grid.max_bytes)
    columns = [_bin_series(nwb, p, *args) for p in plan.behaviour]
    columns += [_bin_series(nwb, p, *args, events=True) for p in plan.events]
    behaviour = np.concatenate(columns, axis=1) if columns else None
    names = [f"{p} [{k}]" for p, c in zip(plan.behaviour + plan.events, columns) for k in range(c.shape[1])]
    return behaviour, names


def convert_nwb(
    text: str,
    policy: SourcePolicy,
    store: IndexStore,
    bin_s: float = 0.02,
    *,
    modality_map: Mapping[str, str] | None = None,
    species: str | None = None,
    max_bins: int = 2_000_000,
    max_spikes: int = 20_000_000,
    max_bytes: int = 512 * 2**20,
    progress: Progress | None = None,
) -> Session:
    """The NWB file at ``text`` (path or URL, checked against ``policy``) as a validated session.

    Raises the NWB engine's typed errors for sources it cannot open and ``DataError`` when the
    file has nothing to train on or would need more than ``max_bins`` bins.
    """
    report = progress or (lambda fraction, message: None)
    nwb = open_nwb(text, policy, store)
    try:
        plan = plan_nwb_conversion(nwb, modality_map)
        if plan.is_empty():
            raise DataError(
                f"{nwb.label} has no Units, ElectricalSeries or RoiResponseSeries to train on. "
                "Map other series to a modality with modality_map."
            )
        first, last = _span(nwb, plan)
        n_bins = _n_bins(nwb, first, last, bin_s, max_bins)
        grid = _Grid(first, n_bins, bin_s, max_spikes, max_bytes)
        modalities, sources = _read_modalities(nwb, plan, grid, report)
        behaviour, names = _read_behaviour(nwb, plan, grid)
        stimulus, labels, column = (
            _stimulus(nwb, plan.intervals, first, n_bins, bin_s) if plan.intervals else (None, [], None)
        )
        subject = file_overview(nwb).get("Subject", {})
        report(1.0, "converted")
        return Session(
            session_id=nwb.label.rsplit(".", 1)[0],
            bin_s=bin_s,
            modalities=modalities,
            behaviour=behaviour,
            stimulus=stimulus,
            species=species or subject.get("species") or "unknown",
            metadata={
                "source": text,
                "t0": first,
                "objects": sources,
                "behaviour_names": names,
                "stimulus_table": plan.intervals,
                "stimulus_column": column,
                "stimulus_labels": labels,
            },
        ).validate()
    finally:
        nwb.close()
