"""Apply a curation to an analyzer: a new analyzer in the workspace, metrics recomputed, a before/after
report.

SpikeInterface's ``apply_curation`` does the work (labels, removals, then ``merge_units``);
merges are resolved transitively first and given explicit new ids, so the report can say
which new unit came from which. Merges whose units share too few channels for a "soft"
merge are left out and listed, instead of failing the whole apply. The new analyzer is
written under a temporary name and renamed, so a crash never leaves half an analyzer.
"""

from __future__ import annotations

import shutil
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines._progress import Cancel, Progress, no_progress, raise_if_cancelled
from engines.curation.analyzer import QUALITY_METRIC_NAMES
from engines.curation.data import UnitId, plain_unit_id
from engines.curation.errors import CurationError
from engines.curation.exports import resolve_merges

__all__ = ["ApplyReport", "apply_curation_to_analyzer"]

_REPORT_METRICS = (
    "num_spikes",
    "firing_rate",
    "snr",
    "isi_violations_ratio",
    "rp_contamination",
    "presence_ratio",
    "amplitude_cutoff",
)


@dataclass
class ApplyReport:
    """What changed: unit counts, each merge with its new unit id, and metrics before and after."""

    folder: Path
    n_units_before: int
    n_units_after: int
    merges: list[dict[str, Any]]
    """``{"new_unit_id", "unit_ids"}`` per merge applied."""
    skipped: list[dict[str, Any]] = field(default_factory=list)
    """Merges left out, with the reason."""
    removed: list[UnitId] = field(default_factory=list)
    table: Any = None
    """DataFrame: one row per merged unit and per unit it came from (role: before / after)."""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "n_units_before": self.n_units_before,
            "n_units_after": self.n_units_after,
            "merges": self.merges,
            "skipped": self.skipped,
            "removed": self.removed,
            "seconds": round(self.seconds, 3),
            "table": [] if self.table is None else self.table.to_dict(orient="records"),
        }


def _metrics(analyzer: Any) -> Any:
    ext = analyzer.extensions.get("quality_metrics")
    return None if ext is None else ext.get_data()


def _report_table(before: Any, after: Any, merges: list[dict[str, Any]]) -> Any:
    import pandas as pd

    rows = []
    for merge in merges:
        for unit in merge["unit_ids"]:
            values = before.loc[unit] if before is not None and unit in before.index else {}
            rows.append(
                {
                    "new_unit_id": merge["new_unit_id"],
                    "unit_id": unit,
                    "role": "before",
                    **{m: _value(values, m) for m in _REPORT_METRICS},
                }
            )
        values = (
            after.loc[merge["new_unit_id"]]
            if after is not None and merge["new_unit_id"] in after.index
            else {}
        )
        rows.append(
            {
                "new_unit_id": merge["new_unit_id"],
                "unit_id": merge["new_unit_id"],
                "role": "after",
                **{m: _value(values, m) for m in _REPORT_METRICS},
            }
        )
    return pd.DataFrame(rows, columns=["new_unit_id", "unit_id", "role", *_REPORT_METRICS])


def _value(values: Any, name: str) -> float | None:
    try:
        value = float(values[name])
    except (KeyError, TypeError, ValueError):
        return None
    return None if value != value else round(value, 4)


def _mergeable(analyzer: Any, groups: list[tuple[UnitId, ...]], sparsity_overlap: float) -> tuple[list, list]:
    if analyzer.sparsity is None or not groups:
        return groups, []
    verdicts = analyzer.are_units_mergeable([list(g) for g in groups], sparsity_overlap=sparsity_overlap)
    ok = [g for g, fine in zip(groups, verdicts.values()) if fine]
    skipped = [
        {
            "unit_ids": list(g),
            "reason": f"their channels overlap less than {sparsity_overlap:.0%}, so a soft "
            "merge would be wrong; lower the overlap or merge them with the recording attached",
        }
        for g, fine in zip(groups, verdicts.values())
        if not fine
    ]
    return ok, skipped


def apply_curation_to_analyzer(
    analyzer: Any,
    curation: dict[str, Any],
    folder: Path,
    censor_ms: float | None = 0.4,
    sparsity_overlap: float = 0.5,
    progress: Progress = no_progress,
    cancel: Cancel = None,
) -> ApplyReport:
    """Apply ``curation`` (format v2) to ``analyzer`` and save the result as a binary folder at ``folder``.

    ``censor_ms`` drops spikes of a merged unit closer than this to the previous one (the
    double detections of duplicated units). Quality metrics are recomputed for the merged
    units. Costs a copy of the analyzer's extensions plus writing it to disk (seconds to a
    minute). Raises ``CurationError`` with SpikeInterface's reason when the merge fails.
    """
    from spikeinterface.curation import apply_curation

    started = time.perf_counter()
    folder = Path(folder)
    if folder.exists():
        raise CurationError(f"'{folder}' already exists; choose a new folder for the curated analyzer")
    raise_if_cancelled(cancel, "applying the curation")
    removed = [plain_unit_id(u) for u in curation.get("removed") or []]
    merges, skipped = _planned_merges(analyzer, curation, removed, sparsity_overlap)
    applied = {**curation, "merges": merges, "removed": removed}
    before = _metrics(analyzer)
    progress(0.1, f"merging {len(merges)} group(s)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            curated = apply_curation(
                analyzer, applied, censor_ms=censor_ms, sparsity_overlap=sparsity_overlap, merging_mode="soft"
            )
    except Exception as exc:  # SpikeInterface raises Exception, ValueError and AssertionError here
        raise CurationError(
            f"SpikeInterface could not apply the curation: {type(exc).__name__}: {exc}"
        ) from exc
    raise_if_cancelled(cancel, "applying the curation")
    progress(0.5, "recomputing quality metrics")
    if "quality_metrics" in curated.extensions or before is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            curated.compute("quality_metrics", metric_names=QUALITY_METRIC_NAMES)
    raise_if_cancelled(cancel, "applying the curation")
    progress(0.7, "saving the curated analyzer")
    _save_whole(curated, folder)
    progress(1.0, "curated analyzer saved")
    return ApplyReport(
        folder=folder,
        n_units_before=len(analyzer.unit_ids),
        n_units_after=len(curated.unit_ids),
        merges=merges,
        skipped=skipped,
        removed=removed,
        table=_report_table(before, _metrics(curated), merges),
        seconds=time.perf_counter() - started,
    )


def _planned_merges(
    analyzer: Any, curation: dict[str, Any], removed: list[UnitId], sparsity_overlap: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The merges to apply (transitively joined, removed units left out, each with its new unit id) and
    the groups skipped because their units share too few channels."""
    from spikeinterface.core.sorting_tools import generate_unit_ids_for_merge_group

    groups = resolve_merges([m["unit_ids"] for m in curation.get("merges") or []], analyzer.unit_ids)
    groups = [tuple(u for u in g if u not in removed) for g in groups]
    groups, skipped = _mergeable(analyzer, [g for g in groups if len(g) > 1], sparsity_overlap)
    remaining = [u for u in analyzer.unit_ids if plain_unit_id(u) not in removed]
    new_ids = (
        [plain_unit_id(u) for u in generate_unit_ids_for_merge_group(remaining, [list(g) for g in groups])]
        if groups
        else []
    )
    merges = [{"unit_ids": list(g), "new_unit_id": new_id} for g, new_id in zip(groups, new_ids)]
    return merges, skipped


def _save_whole(curated: Any, folder: Path) -> None:
    """Save under a temporary name, then rename, so a crash never leaves half an analyzer at ``folder``."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            curated.save_as(format="binary_folder", folder=temp)
        temp.rename(folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
