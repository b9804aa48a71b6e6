"""Curation judge against SpikeInterface's presets on a grid of hard generated ground truths.

Run by ``benchmarks/curation.py`` (``--no-hard`` skips it). The seed-11 benchmark recording is
easy: 15 Hz units, 5 µV noise, duplicates keeping 80% of their spikes. Here correlograms are
thin (rates of a few Hz), amplitudes blur (more noise) and duplicates share only part of their
spikes, so the judge must know what it cannot see.

Design (one factor at a time around a hard base cell, plus the hardest combinations), chosen so
the whole grid runs in about 10-15 min on two cores:

- base: 60 units on 32 channels, 300 s, rates drawn in 1-5 Hz, 5 µV noise (the default), three
  faults of each kind (amplitude, temporal, random splits, duplicates) with duplicates keeping
  50% of their spikes;
- rates 5-15 and 15-40 Hz; noise 2.5 µV (low) and 10 µV (twice the default); duplicate overlap
  0.3 and 0.9;
- the hardest cell: 150 units on 64 channels, 1-5 Hz, 10 µV noise, 30% duplicates, five faults
  of each kind.

Every cell holds every split kind, so the split kinds are a column, not more cells: each cell
reports the judge's recall per fault kind (random, temporal, amplitude splits, duplicates). A
cell costs 1-3 min on a loaded two-core machine; one cell per split kind would double the grid.

Each cell has its own seed (``SEED_BASE`` + its index) so the grid is reproducible. For every cell
the judge (on the recommended union of candidates, as the page runs it) and every preset
(``feature_neighbors`` excepted: it needs spike_locations, minutes per cell) are scored on the true
pairs; ``grid_min_margin`` is the smallest judge F1 minus best preset F1 over the cells.

Measured for issue 20 (two loaded cores, about 0.5-2 min a cell): the judge that read an empty refractory
window as a dip had ``grid_min_margin`` -0.14 and precision down to 0.52 (the hardest cell); the judge
that says "not enough evidence" had +0.05 and precision 1.0 on the default seeds, but -0.06 and 0.86 on
seed base 7000 (its hardest cell merged two neurons on chance coincidences left out of the refractory
window; "dup overlap 0.3" missed thin splits), -0.02 and 0.80 on 9000, 0.00 and 0.86 on 11000, -0.10 and
0.91 on 13000, +0.08 and 0.83 on 15000. The judge of ``metrics_judge`` (zero-lag coincidences counted as
violations, waveforms compared against their noise) was tuned on bases 2000 and 7000, then checked on
each next base before a rule came from its failures, so each base was held out once:

- 2000 (tuned): margin +0.09, precision 1.0 in every cell; 7000 (tuned): +0.09, 1.0;
- 9000, held out: -0.02, 0.80 ("noise 2.5 µV": units taking turns in time with waveforms 58-128 times
  their noise apart, a temporal split's half and other neurons), +0.05 and 1.0 after the rule it gave;
- 11000, held out: 0.00, 0.95, then +0.09 and 0.95 (the hardest cell: two units taking turns, amplitudes
  2.3 SDs apart, waveforms within noise once scaled);
- 13000, held out: -0.05 ("noise 2.5 µV": thin splits identical within noise, 0.3-0.5 coincidences
  expected, left to the reviewer), 0.92 (chance dips of 8 expected coincidences between neurons 15-20 µm
  apart), then 0.00 and 1.0;
- 15000, held out for the final rules: +0.10, precision 1.0 in every cell;
- 17000, held out for the final rules: 0.00 (a tie with x_contaminations at 15-40 Hz), precision 1.0 in
  every cell.

Cells hold 12 true pairs (20 in the hardest), so one pair moves F1 by about 0.04: ties with
``x_contaminations`` at 0.00 are within one pair.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any

from engines.curation import (
    AnalyzerData,
    CandidateGroup,
    CandidateRequest,
    GroundTruth,
    InjectedFaults,
    JudgeContext,
    MetricsJudge,
    build_ground_truth,
    compute_missing_extensions,
    find_candidates,
    run_judge,
)
from engines.curation.candidates import PRESETS
from engines.curation.model import UNSURE

SEED_BASE = 2000


def pairs_of(groups) -> set[frozenset]:
    return {frozenset(p) for g in groups for p in combinations(g, 2)}


def scores(predicted: set[frozenset], truth: set[frozenset]) -> dict[str, float]:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4)}


@dataclass(frozen=True)
class HardCell:
    """One ground truth of the grid."""

    name: str
    units: int = 60
    channels: int = 32
    duration_s: float = 300.0
    rates_hz: tuple[float, float] = (1.0, 5.0)
    noise_uv: float = 5.0
    faults: InjectedFaults = InjectedFaults(3, 3, 3, 3, duplicate_ratio=0.5)


BASE = HardCell("base: 1-5 Hz, 5 µV, all splits, dup 0.5")


CELLS: tuple[HardCell, ...] = (
    BASE,
    replace(BASE, name="rates 5-15 Hz", rates_hz=(5.0, 15.0)),
    replace(BASE, name="rates 15-40 Hz", rates_hz=(15.0, 40.0)),
    replace(BASE, name="noise 2.5 µV (low)", noise_uv=2.5),
    replace(BASE, name="noise 10 µV (2x)", noise_uv=10.0),
    replace(BASE, name="dup overlap 0.3", faults=replace(BASE.faults, duplicate_ratio=0.3)),
    replace(BASE, name="dup overlap 0.9", faults=replace(BASE.faults, duplicate_ratio=0.9)),
    replace(
        BASE,
        name="hardest: 150 units, 10 µV, dup 0.3",
        units=150,
        channels=64,
        noise_uv=10.0,
        faults=InjectedFaults(5, 5, 5, 5, duplicate_ratio=0.3),
    ),
)


def run_cell(cell: HardCell, seed: int) -> dict[str, Any]:
    """Generate one cell's ground truth and score the judge and every preset on its true pairs."""
    started = time.perf_counter()
    analyzer, truth = build_cell(cell, seed)
    presets = {
        name: scores(
            pairs_of(find_candidates(analyzer, CandidateRequest.preset(name)).groups), truth.true_pairs()
        )
        for name in PRESETS
        if name != "feature_neighbors"
    }
    row = judge_cell(analyzer, truth, presets)
    return {"cell": cell.name, "seed": seed, **row, "seconds": round(time.perf_counter() - started, 1)}


def build_cell(cell: HardCell, seed: int) -> tuple[Any, GroundTruth]:
    """The cell's ground truth and an in-memory analyzer of it with every extension the judge uses."""
    from spikeinterface.core import create_sorting_analyzer

    truth = build_ground_truth(
        cell.duration_s,
        cell.units,
        cell.channels,
        cell.faults,
        seed=seed,
        firing_rate_hz=cell.rates_hz,
        noise_level_uv=cell.noise_uv,
    )
    analyzer = create_sorting_analyzer(truth.sorting, truth.recording, format="memory", sparse=True)
    compute_missing_extensions(analyzer)
    return analyzer, truth


def judge_cell(analyzer: Any, truth: GroundTruth, presets: dict[str, dict[str, float]]) -> dict[str, Any]:
    """The judge's scores on the recommended candidates, beside the given preset scores."""
    true_pairs = truth.true_pairs()
    candidates = find_candidates(analyzer, CandidateRequest.recommended())
    groups = [CandidateGroup(i, g) for i, g in enumerate(candidates.groups)]
    decisions = run_judge(MetricsJudge(), groups, JudgeContext(AnalyzerData(analyzer)))
    merged = pairs_of(s for d in decisions if d.ok for s in d.merge_groups)
    judge = scores(merged, true_pairs)
    best = max(presets, key=lambda n: presets[n]["f1"])
    return {
        "true_pairs": len(true_pairs),
        "groups": len(groups),
        "unsure": sum(d.ok and d.decision == UNSURE for d in decisions),
        "candidate_recall": scores(pairs_of(candidates.groups), true_pairs)["recall"],
        "judge": judge,
        "judge_recall_by_kind": {
            kind: scores(merged, pairs_of(found))["recall"] for kind, found in truth.faults.items() if found
        },
        "presets": presets,
        "best_preset": best,
        "margin": round(judge["f1"] - presets[best]["f1"], 4),
    }


def _table(rows: list[dict[str, Any]]) -> str:
    names = list(rows[0]["presets"]) if rows else []
    head = f"{'cell':38} {'pairs':>5} {'unsure':>6} {'judge P/R/F1':>16} " + " ".join(
        f"{n[:22]:>22}" for n in names
    )
    lines = [head]
    for r in rows:
        j = r["judge"]
        cells = " ".join(
            f"{r['presets'][n]['precision']:.2f}/{r['presets'][n]['recall']:.2f}/{r['presets'][n]['f1']:.2f}".rjust(
                22
            )
            for n in names
        )
        lines.append(
            f"{r['cell'][:38]:38} {r['true_pairs']:>5} {r['unsure']:>6} "
            f"{j['precision']:.2f}/{j['recall']:.2f}/{j['f1']:.2f}".ljust(70)
            + " "
            + cells
        )
    return "\n".join(lines)


def run_hard_grid(cells: tuple[HardCell, ...] = CELLS, seed_base: int = SEED_BASE) -> dict[str, Any]:
    """Every cell's scores (printed as a table as they come) and the grid's worst margin and precision.
    ``seed_base``: other seeds draw other recordings of the same cells (the judge's thresholds were chosen
    on ``SEED_BASE``'s; a held-out base checks they were not fitted to them)."""
    rows = []
    for index, cell in enumerate(cells):
        rows.append(run_cell(cell, seed_base + index))
        r = rows[-1]
        print(
            f"hard cell {cell.name}: judge {r['judge']} vs {r['best_preset']} "
            f"{r['presets'][r['best_preset']]} ({r['seconds']} s)",
            flush=True,
        )
    print(_table(rows))
    return {
        "grid": rows,
        "grid_seed_base": seed_base,
        "grid_min_margin": min(r["margin"] for r in rows),
        "grid_min_judge_precision": min(r["judge"]["precision"] for r in rows),
    }
