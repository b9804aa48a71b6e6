"""Generated recordings whose sorting has known faults: split units and duplicated units.

The offline demo, the tests and the benchmark all need a sorting where the right merges are
known. SpikeInterface generates the recording (``generate_ground_truth_recording``) and
injects the faults (``split_sorting_by_amplitudes``, ``split_sorting_by_times``,
``inject_some_split_units``, ``inject_some_duplicate_units``); this module composes them and
records, for every unit of the faulty sorting, the true unit it came from, since
``inject_some_duplicate_units`` does not say which unit each duplicate copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from engines._progress import Progress, no_progress

__all__ = ["InjectedFaults", "GroundTruth", "build_ground_truth"]


@dataclass(frozen=True)
class InjectedFaults:
    """How many true units get each kind of fault (each true unit gets at most one)."""

    amplitude_splits: int = 1
    temporal_splits: int = 1
    random_splits: int = 1
    duplicates: int = 1
    duplicate_ratio: float | None = 0.8
    """Fraction of the original spikes the duplicate keeps (None: all of them)."""
    duplicate_max_shift: int = 5
    """The duplicate's spikes are shifted by up to this many samples."""

    @property
    def total(self) -> int:
        return self.amplitude_splits + self.temporal_splits + self.random_splits + self.duplicates


@dataclass
class GroundTruth:
    """A generated recording, the faulty sorting to curate, and where each of its units came from."""

    recording: Any
    sorting: Any
    true_sorting: Any
    origin: dict[int, str]
    """Unit id of ``sorting`` -> id of the true unit it holds spikes of."""
    faults: dict[str, list[tuple[int, ...]]] = field(default_factory=dict)
    """Fault kind -> the groups of ``sorting`` unit ids that should be merged back."""

    def true_groups(self) -> list[tuple[int, ...]]:
        """Groups of units that hold the same true unit (the merges a perfect curator makes)."""
        by_origin: dict[str, list[int]] = {}
        for unit_id, source in self.origin.items():
            by_origin.setdefault(source, []).append(unit_id)
        return sorted(tuple(sorted(units)) for units in by_origin.values() if len(units) > 1)

    def true_pairs(self) -> set[frozenset[int]]:
        """Every unordered pair of units that belong to the same true unit."""
        return {frozenset(pair) for group in self.true_groups() for pair in combinations(group, 2)}

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": {str(k): v for k, v in self.origin.items()},
            "faults": {kind: [list(map(int, g)) for g in groups] for kind, groups in self.faults.items()},
            "true_groups": [list(map(int, g)) for g in self.true_groups()],
        }


def _pick_units(
    rng: np.random.Generator, unit_ids: np.ndarray, peak_uv: np.ndarray, faults: InjectedFaults
) -> dict[str, list[str]]:
    """Disjoint true units per fault, among units a sorter would find (peak-to-peak >= 30 µV)."""
    visible = [u for u, ptp in zip(unit_ids, peak_uv) if ptp >= 30.0]
    if faults.total > len(visible):
        raise ValueError(
            f"{faults.total} faults need as many units of 30 µV or more (have {len(visible)}); "
            "generate more units or fewer faults"
        )
    rest = list(rng.permutation(visible))
    picked = {}
    for kind in ("duplicates", "amplitude_splits", "temporal_splits", "random_splits"):
        count = getattr(faults, kind)
        picked[kind], rest = rest[:count], rest[count:]
    return picked


def _memory_analyzer(sorting: Any, recording: Any, main_channels: np.ndarray) -> Any:
    from spikeinterface.core import create_sorting_analyzer

    return create_sorting_analyzer(
        sorting, recording, format="memory", sparse=False, main_channel_indices=main_channels
    )


def build_ground_truth(
    duration_s: float = 20.0,
    num_units: int = 12,
    num_channels: int = 16,
    faults: InjectedFaults = InjectedFaults(),
    seed: int = 0,
    firing_rate_hz: float | tuple[float, float] = 15.0,
    job_kwargs: dict[str, Any] | None = None,
    progress: Progress = no_progress,
    noise_level_uv: float = 5.0,
) -> GroundTruth:
    """Generate a recording and a sorting of it with ``faults`` injected; costs one pass over the
    recording when amplitude splits are asked for (their spike amplitudes), none otherwise.

    ``firing_rate_hz`` is one rate for every unit, or a (low, high) range each unit's rate is drawn
    from uniformly (seeded, so a benchmark grid is reproducible); ``noise_level_uv`` is the noise SD.

    Unit ids of the returned sorting are integers; true units keep their own ids as origins.
    """
    job_kwargs = job_kwargs or {"n_jobs": 1, "progress_bar": False}
    rng = np.random.default_rng(seed)
    progress(0.0, "generating the recording")
    rates = _rates(firing_rate_hz, num_units, rng)
    recording, true_sorting = _generate(duration_s, num_units, num_channels, seed, rates, noise_level_uv)
    unit_ids = true_sorting.unit_ids
    main_channels = recording.ids_to_indices(true_sorting.get_property("main_channel_id"))
    peak_uv = np.ptp(np.asarray(recording.templates), axis=(1, 2))
    picked = _pick_units(rng, unit_ids, peak_uv, faults)
    origin: dict[str, str] = {str(u): str(u) for u in unit_ids}
    groups: dict[str, list[tuple[str, ...]]] = {kind: [] for kind in picked}
    sorting = true_sorting

    if picked["amplitude_splits"]:
        progress(0.1, "splitting units by amplitude")
        sorting, main_channels = _split_by_amplitude(
            sorting, recording, main_channels, picked["amplitude_splits"], rng, job_kwargs, origin, groups
        )
    if picked["temporal_splits"]:
        progress(0.6, "splitting units in time")
        sorting = _split_in_time(
            sorting, recording, main_channels, picked["temporal_splits"], rng, origin, groups
        )
    sorting = sorting.rename_units([int(u) for u in sorting.unit_ids])
    origin_int = {int(k): v for k, v in origin.items()}
    if picked["random_splits"]:
        progress(0.7, "splitting units at random")
        sorting = _split_at_random(sorting, picked["random_splits"], rng, origin_int, groups)
    if picked["duplicates"]:
        progress(0.8, "duplicating units")
        sorting = _duplicate(sorting, picked["duplicates"], faults, rng, origin_int, groups)
    sorting = sorting.rename_units([int(u) for u in sorting.unit_ids])
    sorting = sorting.select_units(sorted(int(u) for u in sorting.unit_ids))
    progress(1.0, "ground truth ready")
    return GroundTruth(
        recording=recording,
        sorting=sorting,
        true_sorting=true_sorting,
        origin=origin_int,
        faults={kind: [tuple(int(u) for u in g) for g in found] for kind, found in groups.items()},
    )


def _rates(firing_rate_hz: float | tuple[float, float], num_units: int, rng: np.random.Generator) -> Any:
    """One rate for every unit, or each unit's drawn uniformly from a (low, high) range."""
    if isinstance(firing_rate_hz, tuple):
        return rng.uniform(*firing_rate_hz, size=num_units)
    return firing_rate_hz


def _generate(
    duration_s: float,
    num_units: int,
    num_channels: int,
    seed: int,
    firing_rate_hz: float | np.ndarray,
    noise_level_uv: float,
) -> tuple[Any, Any]:
    """A simulated recording and its true sorting (4 ms refractory periods, noise made on the fly from
    ``seed``, so the same arguments give the same samples)."""
    from spikeinterface.core import generate_ground_truth_recording

    return generate_ground_truth_recording(
        durations=[float(duration_s)],
        num_channels=num_channels,
        num_units=num_units,
        seed=seed,
        generate_sorting_kwargs={"firing_rates": firing_rate_hz, "refractory_period_ms": 4.0},
        noise_kwargs={"noise_levels": float(noise_level_uv), "strategy": "on_the_fly"},
    )


def _split_by_amplitude(
    sorting: Any,
    recording: Any,
    main_channels: np.ndarray,
    unit_ids: list[str],
    rng: np.random.Generator,
    job_kwargs: dict[str, Any],
    origin: dict[str, str],
    groups: dict[str, list[tuple[str, ...]]],
) -> tuple[Any, np.ndarray]:
    """Split ``unit_ids`` in two by spike amplitude; the new units' main channels are their sources'."""
    from spikeinterface.generation import split_sorting_by_amplitudes

    analyzer = _memory_analyzer(sorting, recording, main_channels)
    analyzer.compute(["random_spikes", "templates", "spike_amplitudes"], **job_kwargs)
    sorting, pairs = split_sorting_by_amplitudes(analyzer, unit_ids=unit_ids, seed=int(rng.integers(1 << 31)))
    _record_pairs(pairs, origin, groups["amplitude_splits"])
    return sorting, np.concatenate([main_channels, main_channels[[int(a) for a, _ in pairs]]])


def _split_in_time(
    sorting: Any,
    recording: Any,
    main_channels: np.ndarray,
    unit_ids: list[str],
    rng: np.random.Generator,
    origin: dict[str, str],
    groups: dict[str, list[tuple[str, ...]]],
) -> Any:
    """Split ``unit_ids`` in two at a moment of the recording (a drifting unit the sorter cut)."""
    from spikeinterface.generation import split_sorting_by_times

    analyzer = _memory_analyzer(sorting, recording, main_channels)
    sorting, pairs = split_sorting_by_times(
        analyzer, unit_ids=[str(u) for u in unit_ids], seed=int(rng.integers(1 << 31))
    )
    _record_pairs(pairs, origin, groups["temporal_splits"])
    return sorting


def _split_at_random(
    sorting: Any,
    unit_ids: list[str],
    rng: np.random.Generator,
    origin: dict[int, str],
    groups: dict[str, list[tuple[str, ...]]],
) -> Any:
    """Share the spikes of ``unit_ids`` at random between two new units each."""
    from spikeinterface.core import inject_some_split_units

    split_ids = [int(u) for u in unit_ids]
    sorting, new_ids = inject_some_split_units(
        sorting, split_ids=split_ids, num_split=2, output_ids=True, seed=int(rng.integers(1 << 31))
    )
    for old, parts in new_ids.items():
        source = origin.pop(int(old))
        for part in parts:
            origin[int(part)] = source
        groups["random_splits"].append(tuple(str(int(p)) for p in parts))
    return sorting


def _duplicate(
    sorting: Any,
    unit_ids: list[str],
    faults: InjectedFaults,
    rng: np.random.Generator,
    origin: dict[int, str],
    groups: dict[str, list[tuple[str, ...]]],
) -> Any:
    """Add a shifted, partial copy of each of ``unit_ids`` (a unit the sorter found twice)."""
    from spikeinterface.core import inject_some_duplicate_units

    copied_ids = [int(u) for u in unit_ids]  # SpikeInterface copies the first units
    sorting = sorting.select_units(
        copied_ids + [int(u) for u in sorting.unit_ids if int(u) not in copied_ids]
    )
    before = [int(u) for u in sorting.unit_ids]
    sorting = inject_some_duplicate_units(
        sorting,
        num=faults.duplicates,
        max_shift=faults.duplicate_max_shift,
        ratio=faults.duplicate_ratio,
        seed=int(rng.integers(1 << 31)),
    )
    added = [int(u) for u in sorting.unit_ids if int(u) not in set(before)]
    for copied, duplicate in zip(before[: faults.duplicates], added):
        origin[duplicate] = origin[copied]
        groups["duplicates"].append((str(copied), str(duplicate)))
    return sorting


def _record_pairs(pairs: list[tuple[Any, Any]], origin: dict[str, str], found: list[tuple[str, ...]]) -> None:
    for kept, split_off in pairs:
        origin[str(split_off)] = origin[str(kept)]
        found.append((str(kept), str(split_off)))
