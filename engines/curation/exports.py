"""What a review produces: the reasoning CSV and SpikeInterface's curation JSON (format v2).

The CSV keeps the SpikeAgent tutorial's ``vlm_merge_reasoning.csv`` layout (a leading index
column, then ``group_id, merge_units, merge_type, reasoning, report``; ``merge_units`` written
as a Python list literal, which code for the tutorial reads with ``ast.literal_eval``), plus
columns it lacked: confidence, score, the calibrated merge probability (``p_merge``), judge, error,
the human verdict. Failed groups are rows
with ``merge_type = "error"`` and the error text, never blanks.

The JSON is validated with ``spikeinterface.curation.validate_curation_dict`` before it is
written, so ``apply_curation`` accepts it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from engines._filesystem import atomic_write
from engines.curation.data import UnitId, plain_unit_id
from engines.curation.errors import CurationError
from engines.curation.model import MERGE, MergeDecision, UnitLabel, Verdict

__all__ = [
    "REASONING_COLUMNS",
    "resolve_merges",
    "reasoning_table",
    "write_reasoning_csv",
    "merges_from_review",
    "build_curation",
    "write_curation_json",
    "QUALITY_LABELS",
]

REASONING_COLUMNS = (
    "group_id",
    "merge_units",
    "merge_type",
    "reasoning",
    "report",
    "confidence",
    "score",
    "p_merge",
    "judge",
    "error",
    "group_units",
    "human_verdict",
    "tokens_in",
    "tokens_out",
    "cost_usd",
)
QUALITY_LABELS = ("good", "mua", "noise")


def resolve_merges(
    groups: Iterable[Iterable[Any]], order: Iterable[Any] | None = None
) -> list[tuple[UnitId, ...]]:
    """Join overlapping merge sets transitively ({1,2} and {2,3} make {1,2,3}); sets of one unit vanish."""
    parent: dict[UnitId, UnitId] = {}

    def find(u: UnitId) -> UnitId:
        while parent.setdefault(u, u) != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for group in groups:
        units = [plain_unit_id(u) for u in group]
        for unit in units[1:]:
            parent[find(unit)] = find(units[0])
    clusters: dict[UnitId, list[UnitId]] = {}
    for unit in list(parent):
        clusters.setdefault(find(unit), []).append(unit)
    rank = {plain_unit_id(u): i for i, u in enumerate(order if order is not None else ())}

    def key(unit: UnitId) -> tuple[int, str]:
        """Units in the given order first, the rest by name."""
        return (rank.get(unit, len(rank)), str(unit))

    return sorted(
        (tuple(sorted(c, key=key)) for c in clusters.values() if len(c) > 1), key=lambda c: key(c[0])
    )


def reasoning_table(decisions: Iterable[MergeDecision], verdicts: Mapping[int, Verdict] | None = None) -> Any:
    """The reasoning log as a DataFrame: one row per group, one per merge set when a group splits."""
    import pandas as pd

    verdicts = verdicts or {}
    rows = []
    for d in decisions:
        verdict = verdicts.get(d.group_id)
        base = {
            "group_id": d.group_id,
            "merge_type": d.merge_type,
            "reasoning": d.reasoning if d.ok else "",
            "report": d.report,
            "confidence": d.confidence,
            "score": d.score,
            "p_merge": d.p_merge,
            "judge": d.judge,
            "error": d.error or "",
            "group_units": str(list(d.unit_ids)),
            "human_verdict": verdict.verdict if verdict else "",
            "tokens_in": d.tokens_in,
            "tokens_out": d.tokens_out,
            "cost_usd": d.cost_usd,
        }
        if d.ok and d.decision == MERGE and d.merge_groups:
            for units in d.merge_groups:
                rows.append({**base, "merge_units": str([plain_unit_id(u) for u in units])})
        else:
            rows.append({**base, "merge_units": str([plain_unit_id(u) for u in d.unit_ids])})
    return pd.DataFrame(rows, columns=list(REASONING_COLUMNS))


def write_reasoning_csv(
    path: Path, decisions: Iterable[MergeDecision], verdicts: Mapping[int, Verdict] | None = None
) -> Path:
    """Write the reasoning CSV atomically (with the tutorial's leading index column)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, reasoning_table(decisions, verdicts).to_csv())


def merges_from_review(
    decisions: Mapping[int, MergeDecision], verdicts: Mapping[int, Verdict], source: str = "human"
) -> list[tuple[UnitId, ...]]:
    """The merge sets a review asks for, before resolving overlaps.

    ``human``: accepted groups only (the units the reviewer accepted); ``judge``: the judge's
    merges only; ``human_then_judge``: a reviewer's accept or reject where given, the judge's
    decision elsewhere (skipped groups fall back to the judge).
    """
    if source not in ("human", "judge", "human_then_judge"):
        raise CurationError(f"unknown merge source {source!r}; use human, judge or human_then_judge")
    sets: list[tuple[UnitId, ...]] = []
    for group_id in sorted(set(decisions) | set(verdicts)):
        verdict = verdicts.get(group_id) if source != "judge" else None
        if verdict is not None and verdict.verdict in ("accept", "reject"):
            if verdict.verdict == "accept" and len(verdict.merge_units) > 1:
                sets.append(tuple(verdict.merge_units))
            continue
        decision = decisions.get(group_id)
        if source != "human" and decision is not None and decision.ok and decision.decision == MERGE:
            sets.extend(decision.merge_groups)
    return sets


def build_curation(
    unit_ids: Iterable[Any],
    merges: Iterable[Iterable[Any]],
    labels: Mapping[Any, UnitLabel] | None = None,
    remove_noise: bool = False,
) -> dict[str, Any]:
    """A curation dict (format v2) that ``apply_curation`` accepts; raises ``CurationError`` otherwise.

    Merges are resolved transitively; units labelled noise are listed in ``removed`` when
    ``remove_noise`` (and dropped from merges, which SpikeInterface would refuse otherwise).
    """
    from spikeinterface.curation import validate_curation_dict

    units = [plain_unit_id(u) for u in unit_ids]
    labels = {plain_unit_id(k): v for k, v in (labels or {}).items()}
    removed = [u for u in units if remove_noise and u in labels and labels[u].label == "noise"]
    kept_merges = [tuple(u for u in group if u not in removed) for group in resolve_merges(merges, units)]
    curation = {
        "format_version": "2",
        "unit_ids": units,
        "label_definitions": {
            "quality": {"name": "quality", "label_options": list(QUALITY_LABELS), "exclusive": True}
        },
        "manual_labels": [
            {"unit_id": u, "labels": {"quality": [labels[u].label]}}
            for u in units
            if u in labels and labels[u].label in QUALITY_LABELS
        ],
        "removed": removed,
        "merges": [{"unit_ids": list(group)} for group in kept_merges if len(group) > 1],
        "splits": [],
    }
    try:
        validate_curation_dict(curation)
    except Exception as exc:  # pydantic ValidationError or ValueError from SpikeInterface's model
        raise CurationError(f"the curation could not be expressed in SpikeInterface's format: {exc}") from exc
    return curation


def write_curation_json(path: Path, curation: dict[str, Any]) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, json.dumps(curation, indent=2))
