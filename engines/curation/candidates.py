"""Candidate merge groups from SpikeInterface's ``compute_merge_unit_groups``, and its presets and
step parameters described as data the page renders as a form.

Each preset chains steps that each keep or drop pairs of units; a step's parameters are the
thresholds it applies. One preset rarely finds every kind of split (``temporal_splits`` finds
units active at different times, ``similarity_correlograms`` units whose correlograms agree),
so several presets can be run and their pairs united before a judge decides.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from engines._progress import Cancel, Progress, no_progress, raise_if_cancelled
from engines.curation.analyzer import check_not_empty
from engines.curation.data import UnitId, mapping_of, plain_unit_id
from engines.curation.errors import CurationError, MissingExtensions

__all__ = [
    "PRESETS",
    "STEP_HELP",
    "TEMPLATE_DIFF_THRESH_HELP",
    "StepParameter",
    "CandidateRun",
    "CandidateRequest",
    "CandidateSet",
    "step_parameters",
    "preset_form",
    "find_candidates",
    "required_extensions",
    "DEFAULT_UNION",
]


def _library_tables() -> tuple[dict[str, list[str]], dict[str, dict[str, Any]], dict[str, list[str]]]:
    """SpikeInterface's own preset, default-parameter and extension tables (so the form never drifts)."""
    from spikeinterface.curation import auto_merge

    return auto_merge._compute_merge_presets, auto_merge._default_step_params, auto_merge._required_extensions


PRESETS: dict[str, tuple[str, ...]] = {name: tuple(steps) for name, steps in _library_tables()[0].items()}

DEFAULT_UNION: tuple[str, ...] = ("similarity_correlograms", "temporal_splits", "x_contaminations", "slay")
"""Presets united by default: each finds a different kind of split (feature_neighbors needs
spike_locations)."""

TEMPLATE_DIFF_THRESH_HELP = (
    "template_diff_thresh is a distance, not a similarity: the step keeps a pair when 1 - similarity "
    "is below it, with the similarity measured by the step's own method (l1 unless you change "
    "similarity_method). So 0.25 keeps pairs whose l1 similarity is above 0.75, and 0.9 (the SpikeAgent "
    "tutorial's value) keeps pairs above 0.1, which is nearly every pair of nearby units."
)

STEP_HELP: dict[str, str] = {
    "num_spikes": "Drops units with fewer spikes than min_spikes (too few to compare correlograms).",
    "snr": "Drops units whose signal-to-noise ratio is below min_snr.",
    "remove_contaminated": "Drops units whose own refractory-period contamination is above "
    "contamination_thresh.",
    "unit_locations": "Keeps pairs whose estimated positions are at most max_distance_um apart.",
    "correlogram": "Keeps pairs whose cross-correlogram looks like each unit's auto-correlogram "
    "(difference below corr_diff_thresh).",
    "template_similarity": "Keeps pairs whose average waveforms are alike. " + TEMPLATE_DIFF_THRESH_HELP,
    "presence_distance": "Keeps pairs that fire at different times of the recording (a unit that drifted "
    "and was split in two); presence_distance_thresh is the minimum distance between their presence.",
    "knn": "Keeps pairs whose spikes are nearest neighbours in feature space (needs spike_locations).",
    "cross_contamination": (
        "Keeps pairs whose cross-contamination is not significant (p-value above p_value)."
    ),
    "quality_score": "Keeps pairs whose merge would improve a quality score that balances firing rate "
    "against contamination.",
    "slay_score": "Keeps pairs whose SLAy score (template similarity, cross-correlogram significance, "
    "refractory violations) is above slay_threshold.",
}


@dataclass(frozen=True)
class StepParameter:
    """One field of the candidate form: which step, which name, its default and what it means."""

    step: str
    name: str
    default: float | int | str
    kind: str
    """``float``, ``int`` or ``choice``."""
    help: str
    choices: tuple[str, ...] = ()


def step_parameters(step: str) -> list[StepParameter]:
    """The parameters of one step with SpikeInterface's defaults."""
    defaults = _library_tables()[1]
    if step not in defaults:
        raise CurationError(f"unknown merge step {step!r}; known steps: {', '.join(sorted(defaults))}")
    fields = []
    for name, value in defaults[step].items():
        if name == "similarity_method":
            fields.append(
                StepParameter(
                    step, name, value, "choice", "how templates are compared", ("l1", "l2", "cosine")
                )
            )
        else:
            kind = "int" if isinstance(value, int) and not isinstance(value, bool) else "float"
            text = TEMPLATE_DIFF_THRESH_HELP if name == "template_diff_thresh" else STEP_HELP.get(step, "")
            fields.append(StepParameter(step, name, value, kind, text))
    return fields


def preset_form(preset: str) -> list[StepParameter]:
    """Every parameter of every step of ``preset``, in step order (what the page shows as a form)."""
    if preset not in PRESETS:
        raise CurationError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return [param for step in PRESETS[preset] for param in step_parameters(step)]


@dataclass(frozen=True)
class CandidateRun:
    """One ``compute_merge_unit_groups`` call: a preset, or explicit steps, with parameter overrides."""

    preset: str | None = "similarity_correlograms"
    steps: tuple[str, ...] = ()
    steps_params: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"steps:{'+'.join(self.steps)}" if self.steps else f"preset:{self.preset}"

    def kwargs(self) -> dict[str, Any]:
        if self.steps:
            return {"preset": None, "steps": list(self.steps), "steps_params": self.steps_params}
        return {"preset": self.preset, "steps_params": self.steps_params}

    def step_names(self) -> tuple[str, ...]:
        return self.steps or PRESETS.get(self.preset or "", ())

    def to_json(self) -> dict[str, Any]:
        return {"preset": self.preset, "steps": list(self.steps), "steps_params": self.steps_params}


@dataclass(frozen=True)
class CandidateRequest:
    """Runs whose pairs are united, optionally plus duplicated units, then joined into groups."""

    runs: tuple[CandidateRun, ...] = (CandidateRun(),)
    find_duplicates: bool = False
    """Also pair units that share most of their spikes (``find_redundant_units``), which the presets'
    template and correlogram steps can reject (a duplicate's template is a shifted copy)."""
    resolve_graph: bool = True
    """Join overlapping pairs into groups of any size (SpikeInterface's default)."""

    @classmethod
    def preset(
        cls, name: str, steps_params: dict[str, dict[str, Any]] | None = None, resolve_graph: bool = True
    ) -> CandidateRequest:
        return cls(runs=(CandidateRun(name, (), steps_params or {}),), resolve_graph=resolve_graph)

    @classmethod
    def recommended(cls) -> CandidateRequest:
        """High recall for a judge to filter: four presets, a looser shape-only run, and duplicates,
        kept as pairs (a loose run chains neighbours into unreadable groups; applying merges joins
        accepted pairs transitively anyway).

        The shape-only run compares templates by cosine (insensitive to the amplitude difference
        of an amplitude split) and keeps pairs above 0.8 within 100 µm.
        """
        loose = CandidateRun(
            None,
            ("num_spikes", "unit_locations", "template_similarity"),
            {
                "num_spikes": {"min_spikes": 30},
                "unit_locations": {"max_distance_um": 100.0},
                "template_similarity": {"similarity_method": "cosine", "template_diff_thresh": 0.2},
            },
        )
        return cls(
            runs=tuple(CandidateRun(name) for name in DEFAULT_UNION) + (loose,),
            find_duplicates=True,
            resolve_graph=False,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": [run.to_json() for run in self.runs],
            "find_duplicates": self.find_duplicates,
            "resolve_graph": self.resolve_graph,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> CandidateRequest:
        runs = tuple(
            CandidateRun(r.get("preset"), tuple(r.get("steps") or ()), dict(r.get("steps_params") or {}))
            for r in payload.get("runs", [])
        )
        return cls(
            runs=runs or (CandidateRun(),),
            find_duplicates=bool(payload.get("find_duplicates")),
            resolve_graph=bool(payload.get("resolve_graph", True)),
        )


@dataclass
class CandidateSet:
    """Unit groups found, with where each came from and how long each run took."""

    groups: list[tuple[UnitId, ...]]
    origins: dict[tuple[UnitId, ...], str]
    """Group -> the runs whose pairs formed it (comma-separated labels)."""
    request: CandidateRequest
    seconds: dict[str, float]
    pairs_by_run: dict[str, list[tuple[UnitId, UnitId]]]


def _check_run(run: CandidateRun) -> None:
    defaults = _library_tables()[1]
    if not run.steps and run.preset not in PRESETS:
        raise CurationError(f"unknown preset {run.preset!r}; choose one of {', '.join(PRESETS)}")
    for step in run.steps:
        if step not in defaults:
            raise CurationError(f"unknown merge step {step!r}; known steps: {', '.join(sorted(defaults))}")
    for step, values in run.steps_params.items():
        if step not in defaults:
            raise CurationError(f"parameters given for unknown step {step!r}")
        unknown = set(values) - set(defaults[step])
        if unknown:
            raise CurationError(
                f"step {step!r} has no parameter {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(defaults[step])}"
            )


def required_extensions(request: CandidateRequest) -> set[str]:
    """The analyzer extensions the request's steps read."""
    _, _, needs = _library_tables()
    steps = {step for run in request.runs for step in run.step_names()}
    wanted = {ext for step in steps for ext in needs.get(step, ())}
    if "snr" in steps:
        wanted.add("quality_metrics")
    return wanted


def find_candidates(
    analyzer: Any,
    request: CandidateRequest = CandidateRequest(),
    progress: Progress = no_progress,
    cancel: Cancel = None,
) -> CandidateSet:
    """Run ``compute_merge_unit_groups`` once per run (and ``find_redundant_units`` when asked),
    unite the pairs and join them into groups.

    Never computes extensions (an analyzer that lacks one raises ``MissingExtensions`` naming
    it, so the page can run the extensions job first). Costs about a second per run for 100 units.
    """
    for run in request.runs:
        _check_run(run)
    check_not_empty(analyzer.sorting)
    missing = sorted(ext for ext in required_extensions(request) if ext not in analyzer.extensions)
    if missing:
        raise MissingExtensions(
            f"these candidate steps need {', '.join(missing)}, which the analyzer lacks; "
            "compute the missing extensions first.",
            missing=tuple(missing),
        )
    pairs_by_run: dict[str, list[tuple[UnitId, UnitId]]] = {}
    seconds: dict[str, float] = {}
    total = len(request.runs) + int(request.find_duplicates)
    for index, run in enumerate(request.runs):
        raise_if_cancelled(cancel, "finding merge candidates")
        progress(index / total, f"running {run.label}")
        started = time.perf_counter()
        pairs_by_run[run.label] = _run_pairs(analyzer, run)
        seconds[run.label] = time.perf_counter() - started
    if request.find_duplicates:
        raise_if_cancelled(cancel, "finding merge candidates")
        progress(len(request.runs) / total, "looking for duplicated units")
        started = time.perf_counter()
        pairs_by_run["duplicates"] = _duplicate_pairs(analyzer)
        seconds["duplicates"] = time.perf_counter() - started
    groups, origins = _join(analyzer, pairs_by_run, request.resolve_graph)
    progress(1.0, f"{len(groups)} candidate groups")
    return CandidateSet(
        groups=groups, origins=origins, request=request, seconds=seconds, pairs_by_run=pairs_by_run
    )


def _run_pairs(analyzer: Any, run: CandidateRun) -> list[tuple[UnitId, UnitId]]:
    from spikeinterface.curation import compute_merge_unit_groups

    try:
        with warnings.catch_warnings(), _scratch_correlograms(analyzer, run):
            warnings.simplefilter("ignore")
            pairs = compute_merge_unit_groups(
                analyzer, resolve_graph=False, compute_needed_extensions=False, **run.kwargs()
            )
    except (ValueError, AssertionError, KeyError) as exc:
        raise CurationError(f"{run.label} failed in SpikeInterface: {exc}") from exc
    return [(plain_unit_id(a), plain_unit_id(b)) for a, b in pairs]


@contextmanager
def _scratch_correlograms(analyzer: Any, run: CandidateRun) -> Iterator[None]:
    """SpikeInterface's ``correlogram`` step zeroes the analyzer's counts near zero lag in place: the metrics
    judge then read duplicates' zero-lag peaks as empty, and a memory-mapped (read-only) file refused it.
    A mapped file gives the step a copy-on-write mapping (only the pages it writes are copied); counts in
    memory get the bins it zeroes back afterwards (a copy of all of them is 0.5 GB at 800 units)."""
    extension = analyzer.extensions.get("correlograms")
    original = None if extension is None else extension.data.get("ccgs")
    if original is None or "correlogram" not in run.step_names():
        yield
        return
    mapped = mapping_of(original)
    if mapped is not None and mapped.filename and mapped.shape == original.shape:
        extension.data["ccgs"] = np.memmap(
            mapped.filename, mapped.dtype, "c", offset=mapped.offset, shape=mapped.shape
        )
        try:
            yield
        finally:
            extension.data["ccgs"] = original
        return
    default = _library_tables()[1]["correlogram"]["censor_correlograms_ms"]
    censor = run.steps_params.get("correlogram", {}).get("censor_correlograms_ms", default)
    edges = np.asarray(extension.data["bins"])[:-1]
    zeroed = (edges >= -censor) & (edges < censor)  # the step's own mask
    kept = original[:, :, zeroed].copy()
    try:
        yield
    finally:
        original[:, :, zeroed] = kept


def _duplicate_pairs(analyzer: Any) -> list[tuple[UnitId, UnitId]]:
    from spikeinterface.curation import find_redundant_units

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = find_redundant_units(
            analyzer.sorting, delta_time=0.4, agreement_threshold=0.2, duplicate_threshold=0.5
        )
    return [(plain_unit_id(a), plain_unit_id(b)) for a, b in pairs]


def _join(
    analyzer: Any, pairs_by_run: dict[str, list[tuple[UnitId, UnitId]]], resolve_graph: bool
) -> tuple[list[tuple[UnitId, ...]], dict[tuple[UnitId, ...], str]]:
    """Groups (pairs, or the graph's groups) in unit order, and the runs whose pairs formed each.

    Linear in pairs: a crowded 800-unit analyzer has thousands of pairs, and matching every group against
    every pair (as this did) took minutes there.
    """
    from spikeinterface.curation.curation_tools import resolve_merging_graph

    origins: dict[frozenset[UnitId], str] = {}
    for label, pairs in pairs_by_run.items():
        for pair in pairs:
            if pair[0] != pair[1]:
                origins.setdefault(frozenset(pair), label)
    all_pairs = [tuple(sorted(p, key=str)) for p in origins]
    if resolve_graph and all_pairs:
        groups = [
            tuple(plain_unit_id(u) for u in g) for g in resolve_merging_graph(analyzer.sorting, all_pairs)
        ]
    else:
        groups = [tuple(p) for p in all_pairs]
    order = {plain_unit_id(u): i for i, u in enumerate(analyzer.unit_ids)}
    ordered = sorted(
        {tuple(sorted(set(g), key=lambda u: order.get(u, np.inf))) for g in groups},
        key=lambda g: [str(u) for u in g],
    )
    return ordered, _origins_of(ordered, origins)


def _origins_of(
    groups: list[tuple[UnitId, ...]], origins: dict[frozenset[UnitId], str]
) -> dict[tuple[UnitId, ...], str]:
    """Each group's runs: the labels of the found pairs among its units."""
    return {
        group: ",".join(
            sorted({origins[pair] for pair in map(frozenset, combinations(group, 2)) if pair in origins})
        )
        for group in groups
    }
