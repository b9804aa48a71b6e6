"""Intracellular (patch-clamp) sweeps: the sweep list, each sweep's data, and group averages.

A sweep is one row of the IntracellularRecordingsTable (a response series and the stimulus that
drove it, on one electrode), with the groups the tables above it put it in (simultaneous,
sequential, repetition, condition) and their columns (``sequential.stimulus_type``, ...).
Files written before those tables (NWB < 2.4) have only PatchClampSeries with a
``sweep_number`` attribute: there each response series is a sweep, paired with the stimulus
series of the same sweep number, grouped by ``sweep_number``.

Listing reads the tables' columns (one slice each) and nothing of the series' data; a sweep's
data is one slice of its response and one of its stimulus, scaled by ``conversion``/``offset``.
Averages are plain numpy over sweeps of one unit and sampling interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engines._progress import Cancel, raise_if_cancelled
from engines.nwb.extract._common import attr_float, attr_text, child, read
from engines.nwb.extract._icephys_tables import Part, read_recordings, recordings_table
from engines.nwb.extract.errors import InvalidRequest, UnsupportedData
from engines.nwb.extract.timeseries import series_layout
from engines.nwb.index import NwbIndex
from engines.nwb.nwbfile import NwbFile

__all__ = [
    "SeriesPart",
    "Sweep",
    "SweepList",
    "Trace",
    "SweepData",
    "SweepAverage",
    "STIMULUS_TYPES",
    "list_sweeps",
    "read_sweeps",
    "sweep_samples",
    "fitting",
    "average_sweeps",
]

STIMULUS_TYPES = ("CurrentClampStimulusSeries", "VoltageClampStimulusSeries")
MAX_SAMPLES = 8_000_000
"""Samples (responses and stimuli together) one read of sweeps may bring: 64 MB as float64."""


@dataclass(frozen=True)
class SeriesPart:
    """Where a sweep's response or stimulus lies: a series and a stretch of its samples."""

    path: str
    start: int
    count: int
    neurodata_type: str
    unit: str
    description: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Sweep:
    id: int
    response: SeriesPart | None
    stimulus: SeriesPart | None
    electrode: str
    groups: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``sweep 3 · ccs_03 (CurrentClampSeries)``: what the sweep selector shows."""
        part = self.response or self.stimulus
        assert part is not None  # a sweep has at least one of them
        return f"sweep {self.id} · {part.name} ({part.neurodata_type})"


@dataclass
class SweepList:
    """A file's sweeps, where they came from, and the keys they can be grouped by."""

    sweeps: list[Sweep]
    group_keys: list[str]
    source: str
    """'table' (the icephys tables) or 'series' (PatchClampSeries and their sweep_number)."""

    def pick(self, ids: Sequence[int]) -> list[Sweep]:
        """The sweeps with these ids, in the order given; an unknown id is an error that names the known."""
        known = {sweep.id: sweep for sweep in self.sweeps}
        unknown = [i for i in ids if i not in known]
        if unknown:
            first, last = min(known, default=0), max(known, default=0)
            raise InvalidRequest(
                f"This file has no sweep {unknown[0]}; its sweeps are numbered {first}–{last}. "
                "Pick sweeps in the list."
            )
        return [known[i] for i in ids]

    def of_series(self, path: str) -> list[int]:
        """Ids of the sweeps whose response or stimulus is the series at ``path``."""
        return [
            s.id
            for s in self.sweeps
            if (s.response and s.response.path == path) or (s.stimulus and s.stimulus.path == path)
        ]

    def group_of(self, key: str, sweep: Sweep) -> str:
        return sweep.groups.get(key, "(none)") if key else "all sweeps"


@dataclass
class Trace:
    """A response or stimulus of one sweep: time from the sweep's first sample (s), scaled values."""

    t: np.ndarray
    values: np.ndarray
    unit: str
    path: str


@dataclass
class SweepData:
    sweep: Sweep
    start_time: float
    response: Trace | None
    stimulus: Trace | None


@dataclass
class SweepAverage:
    """Mean and standard deviation per sample of one group's responses (and stimuli)."""

    group: str
    ids: list[int]
    response: Trace | None
    response_sd: np.ndarray | None
    stimulus: Trace | None


def _series_part(index: NwbIndex, path: str, start: int, count: int) -> SeriesPart:
    info = index.get(path)
    data = f"{info.path}/data"
    unit = attr_text(index.get(data), "unit", "") if data in index else ""
    text = attr_text(info, "description", "")
    stimulus = attr_text(info, "stimulus_description", "")
    description = " · ".join(t for t in (text, stimulus) if t and t not in ("no description", "NA", "N/A"))
    return SeriesPart(path, start, count, info.neurodata_type or "TimeSeries", unit, description)


def _sweep_number(index: NwbIndex, part: SeriesPart | None) -> str | None:
    if part is None:
        return None
    value = index.get(part.path).attrs.get("sweep_number")
    return None if value is None else str(int(float(value)))


def _from_table(f: NwbFile) -> SweepList | None:
    table = recordings_table(f.index)
    if table is None:
        return None
    rows = read_recordings(f, table)
    sweeps = []
    for row, sweep_id in enumerate(rows.ids):
        parts = [
            _series_part(f.index, p.path, p.start, p.count)
            if isinstance(p, Part) and p.path in f.index
            else None
            for p in (rows.responses[row], rows.stimuli[row])
        ]
        if parts[0] is None and parts[1] is None:
            continue
        groups = {key: values[row] for key, values in rows.groups.items()}
        sweeps.append(Sweep(sweep_id, parts[0], parts[1], rows.electrodes[row], groups))
    keys = list(rows.groups)
    return SweepList(sweeps, _with_common_keys(f.index, sweeps, keys), "table")


def _with_common_keys(index: NwbIndex, sweeps: list[Sweep], keys: list[str]) -> list[str]:
    """Add ``sweep_number`` and ``type`` (of the response) to every sweep's groups and to ``keys``."""
    numbered = False
    for sweep in sweeps:
        number = _sweep_number(index, sweep.response) or _sweep_number(index, sweep.stimulus)
        numbered = numbered or number is not None
        sweep.groups["sweep_number"] = number if number is not None else "(none)"
        sweep.groups["type"] = (sweep.response or sweep.stimulus).neurodata_type  # type: ignore[union-attr]
    return [*keys, *(["sweep_number"] if numbered else []), "type"]


def _from_series(f: NwbFile) -> SweepList:
    """Older files: each response series a sweep, with the stimulus of its sweep number beside it."""
    found = sorted(f.index.find_by_type("PatchClampSeries"), key=lambda info: info.path)
    parts = [_series_part(f.index, info.path, 0, -1) for info in found if f"{info.path}/data" in f.index]
    is_stimulus = [
        any(f.index.is_a(p.path, t) for t in STIMULUS_TYPES) or p.path.startswith("/stimulus/") for p in parts
    ]
    responses = [p for p, stim in zip(parts, is_stimulus) if not stim]
    stimuli = {p.path: p for p, stim in zip(parts, is_stimulus) if stim}
    by_number = {_sweep_number(f.index, p): p for p in stimuli.values() if _sweep_number(f.index, p)}
    sweeps = []
    for response in responses:
        stimulus = by_number.get(_sweep_number(f.index, response) or "")
        sweeps.append(Sweep(0, response, stimuli.pop(stimulus.path) if stimulus else None, ""))
    sweeps += [Sweep(0, None, stimulus, "") for stimulus in stimuli.values()]
    sweeps.sort(key=lambda s: (int(_sweep_number(f.index, s.response or s.stimulus) or -1), s.label))
    for position, sweep in enumerate(sweeps):
        sweep.id = position
        electrode = child(f, (sweep.response or sweep.stimulus).path, "electrode")  # type: ignore[union-attr]
        sweep.electrode = electrode.path if electrode is not None else ""
    return SweepList(sweeps, _with_common_keys(f.index, sweeps, []), "series")


def list_sweeps(f: NwbFile) -> SweepList:
    """Every sweep of the file, from its icephys tables when it has them, else from its PatchClampSeries.

    Reads the tables' columns (a slice each, plus one dereference per recording) and no series data.
    """
    listing = _from_table(f) or _from_series(f)
    if not listing.sweeps:
        raise UnsupportedData(
            "This file has no intracellular recordings: no IntracellularRecordingsTable rows and no "
            "PatchClampSeries (CurrentClampSeries, VoltageClampSeries, ...)."
        )
    return listing


def _read_part(f: NwbFile, part: SeriesPart) -> tuple[float, Trace]:
    layout = series_layout(f, part.path)
    lo = min(part.start, layout.n_samples)
    hi = layout.n_samples if part.count < 0 else min(lo + part.count, layout.n_samples)
    raw = np.asarray(read(f, layout.data, slice(lo, hi)), dtype=np.float64)
    values = (raw.reshape(len(raw), -1)[:, 0] if raw.ndim > 1 else raw) * attr_float(
        layout.data, "conversion", 1.0
    ) + attr_float(layout.data, "offset", 0.0)
    times = layout.times(lo, hi) if hi > lo else np.zeros(0)
    start = float(times[0]) if len(times) else float("nan")
    return start, Trace(times - start if len(times) else times, values, part.unit, part.path)


def _samples(part: SeriesPart | None, f: NwbFile) -> int:
    data = child(f, part.path, "data") if part is not None else None
    if part is None or data is None or not data.shape:
        return 0
    total = data.shape[0]
    return max(0, min(total - part.start, total if part.count < 0 else part.count))


def sweep_samples(f: NwbFile, sweep: Sweep) -> int:
    """Samples of the sweep's response and stimulus together, from the index (no reads)."""
    return _samples(sweep.response, f) + _samples(sweep.stimulus, f)


def fitting(f: NwbFile, sweeps: Sequence[Sweep]) -> list[Sweep]:
    """The first of ``sweeps`` that ``read_sweeps`` reads at once (at least one): for default selections."""
    total, kept = 0, list[Sweep]()
    for sweep in sweeps:
        total += sweep_samples(f, sweep)
        if kept and total > MAX_SAMPLES:
            break
        kept.append(sweep)
    return kept


def read_sweeps(f: NwbFile, sweeps: Sequence[Sweep], cancel: Cancel = None) -> list[SweepData]:
    """The data of ``sweeps``: one read of each response and each stimulus, scaled to their units.

    Refuses (before reading) a selection of more than ``MAX_SAMPLES`` samples in all.
    """
    total = sum(sweep_samples(f, s) for s in sweeps)
    if total > MAX_SAMPLES:
        raise InvalidRequest(
            f"These {len(sweeps)} sweeps hold {total:,} samples, more than the {MAX_SAMPLES:,} shown at "
            "once. Pick fewer sweeps, or a smaller group."
        )
    out = []
    for sweep in sweeps:
        raise_if_cancelled(cancel, "Reading the sweeps")
        response = _read_part(f, sweep.response) if sweep.response else None
        stimulus = _read_part(f, sweep.stimulus) if sweep.stimulus else None
        start = (response or stimulus or (float("nan"), None))[0]
        out.append(
            SweepData(sweep, start, response[1] if response else None, stimulus[1] if stimulus else None)
        )
    return out


def _mean(traces: list[Trace]) -> tuple[Trace, np.ndarray]:
    """Sample-wise mean and SD of traces that share a sampling interval (shorter ones count where they
    reach)."""
    length = max(len(t.values) for t in traces)
    stack = np.full((len(traces), length), np.nan)
    for row, trace in enumerate(traces):
        stack[row, : len(trace.values)] = trace.values
    longest = max(traces, key=lambda t: len(t.t))
    with np.errstate(invalid="ignore"):
        mean, sd = np.nanmean(stack, axis=0), np.nanstd(stack, axis=0)
    return Trace(longest.t, mean, traces[0].unit, ""), sd


def _interval(trace: Trace) -> float:
    return round(float(np.median(np.diff(trace.t))), 12) if len(trace.t) > 1 else 0.0


def average_sweeps(listing: SweepList, data: Sequence[SweepData], key: str) -> list[SweepAverage]:
    """Mean ± SD of the responses per group of ``key`` ('' = all sweeps together), in first-seen order.

    A group whose sweeps differ in unit or sampling interval is split (``drug (amperes)``),
    since their mean would mean nothing.
    """
    buckets: dict[tuple[str, str, float], list[SweepData]] = {}
    for item in data:
        sample = item.response or item.stimulus
        if sample is None:
            continue
        bucket = (listing.group_of(key, item.sweep), sample.unit, _interval(sample))
        buckets.setdefault(bucket, []).append(item)
    split = {group for group, *_ in buckets if sum(1 for b in buckets if b[0] == group) > 1}
    averages = []
    for (group, unit, _dt), items in buckets.items():
        responses = [i.response for i in items if i.response is not None]
        stimuli = [i.stimulus for i in items if i.stimulus is not None]
        response, sd = _mean(responses) if responses else (None, None)
        same_stimulus = stimuli and len({(s.unit, _interval(s)) for s in stimuli}) == 1
        stimulus = _mean(stimuli)[0] if same_stimulus else None
        name = f"{group} ({unit or 'no unit'})" if group in split else group
        averages.append(SweepAverage(name, [i.sweep.id for i in items], response, sd, stimulus))
    return averages
