"""spikeinterface-gui's deep dive on an analyzer under review: whether it can run, what it may touch, and how
the curation made in it (merges, labels, removed units) becomes verdicts and labels in the decision store.

spikeinterface-gui is an optional extra (``pip install "neurodeck[sigui]"``); ``sigui_missing`` says, at call
time, whether it imports here. Its controller gets ``read_only_analyzer``: a shallow copy of the review's
analyzer flagged read-only, so what its views compute (correlograms, similarity, unit locations with other
parameters) lives in that copy's memory only: SpikeInterface neither saves nor deletes an extension folder
of a read-only analyzer, and the review's own extensions (which its images and judges read) stay as they
were. Its curation starts from ``starting_curation`` and every change is written by ``save_changes``:

- a new merge of units of the group in focus is an ``accept`` verdict for that group with those units;
- a merge that reaches outside the group becomes a new (manual) group, accepted;
- a quality label (good, MUA, noise) is the unit's human label; a removed unit is labelled noise.

Verdicts carry the review's owner (the signed-in person), as the grid's keys do. Unmerging in
spikeinterface-gui takes nothing back: a verdict is undone in the grid (``u``).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
from collections.abc import Iterable
from typing import Any

from engines.curation.data import UnitId, plain_unit_id
from engines.curation.errors import CurationError
from engines.curation.review import CurationReview

__all__ = [
    "SIGUI_INSTALL",
    "NEEDED_EXTENSIONS",
    "sigui_missing",
    "check_deep_dive",
    "read_only_analyzer",
    "starting_curation",
    "save_changes",
]

SIGUI_INSTALL = 'pip install "neurodeck[sigui]"'
"""The command that installs the optional extra (spikeinterface-gui)."""

NEEDED_EXTENSIONS = ("random_spikes", "templates", "unit_locations")
"""What spikeinterface-gui's controller asserts or would compute at start; computing ``templates`` reads the
whole recording, so a missing one is computed by the page's extensions job, not silently here."""

_LABELS = {"good": "good", "mua": "mua", "noise": "noise"}
"""spikeinterface-gui's default quality labels (good, MUA, noise) to the store's labels."""
_HTML_CHARACTERS = set("<>&\"'`")


def sigui_missing() -> str:
    """'' when spikeinterface-gui imports here, else what to do (the install command). Checked at each call:
    a server whose environment gained or lost the extra answers accordingly without a restart of the page."""
    if importlib.util.find_spec("spikeinterface_gui") is None:
        return f"spikeinterface-gui is not installed on this server: {SIGUI_INSTALL}, then restart it."
    try:
        importlib.import_module("spikeinterface_gui")
    except ImportError as exc:
        return f"spikeinterface-gui could not be imported ({exc}): {SIGUI_INSTALL}, then restart the server."
    return ""


def check_deep_dive(review: CurationReview) -> None:
    """Raise ``CurationError`` with what to do when the deep dive cannot open this analyzer.

    spikeinterface-gui renders unit and channel ids (and unit property names, as column titles) into HTML
    unescaped, so ids with HTML characters (an analyzer folder is not trusted) are refused, not shown."""
    missing = sigui_missing()
    if missing:
        raise CurationError(missing)
    ids = [
        *review.analyzer.unit_ids,
        *review.analyzer.channel_ids,
        *review.analyzer.sorting.get_property_keys(),
    ]
    if any(_HTML_CHARACTERS & set(str(i)) for i in ids):
        raise CurationError(
            "This analyzer's unit ids, channel ids or unit property names hold HTML characters (< > & "
            "quotes), which spikeinterface-gui would render as markup; the deep dive is not opened for it."
        )
    lacking = [name for name in NEEDED_EXTENSIONS if name not in review.analyzer.extensions]
    if lacking:
        raise CurationError(
            f"The deep dive needs {', '.join(lacking)}; compute the missing extensions under "
            "Candidates & judge first."
        )


def read_only_analyzer(analyzer: Any) -> Any:
    """A copy of ``analyzer`` sharing its sorting, recording and loaded extensions, flagged read-only, with
    its own extension dict: what spikeinterface-gui computes stays in this copy's memory (see module
    docstring), and it reads no extension from the folder that the review did not load (unpickling one
    would run code from the folder). Costs no copy of the data."""
    view = copy.copy(analyzer)
    view.extensions = dict(analyzer.extensions)
    view._read_only = True  # SpikeInterface's own flag: no save, no delete of extension folders
    # what the folder holds beyond what open_analyzer loaded (pickled parts it left out without
    # --trust-pickles, broken ones) stays unread: get_extension would load a saved one from the folder
    view.get_saved_extension_names = lambda: list(view.extensions)
    return view


def starting_curation(review: CurationReview) -> dict[str, Any]:
    """The curation (SpikeInterface format v2) spikeinterface-gui opens with: the stored labels, and the
    merges of accepted groups, so what was decided already shows and only new changes are saved."""
    labels = [
        {"unit_id": unit, "labels": {"quality": ["MUA" if row.label == "mua" else row.label]}}
        for unit, row in review.labels().items()
        if row.label in _LABELS
    ]
    merges: list[dict[str, Any]] = []
    for verdict in review.verdicts().values():
        units = set(verdict.merge_units)
        if (
            verdict.verdict == "accept"
            and len(units) > 1
            and not any(units & set(m["unit_ids"]) for m in merges)
        ):
            merges.append({"unit_ids": list(verdict.merge_units)})
    return {
        "format_version": "2",
        "unit_ids": [plain_unit_id(u) for u in review.analyzer.unit_ids],
        "label_definitions": {"quality": {"label_options": ["good", "noise", "MUA"], "exclusive": True}},
        "manual_labels": labels,
        "merges": merges,
        "splits": [],
        "removed": [],
    }


def _in_analyzer_order(review: CurationReview, units: Iterable[Any]) -> tuple[UnitId, ...]:
    wanted = {plain_unit_id(u) for u in units}
    return tuple(u for u in (plain_unit_id(u) for u in review.analyzer.unit_ids) if u in wanted)


def _quality(curation: dict[str, Any]) -> dict[UnitId, str]:
    found = {}
    for row in curation.get("manual_labels", []):
        values = (row.get("labels") or {}).get("quality") or row.get("quality") or []
        if values:
            found[plain_unit_id(row["unit_id"])] = str(values[0]).lower()
    return found


def save_changes(
    review: CurationReview, group_id: int | None, before: dict[str, Any], after: dict[str, Any]
) -> list[str]:
    """Write what changed from curation ``before`` to ``after`` (spikeinterface-gui's ``curation_data``) to
    the store, as the module docstring says; returns one line per thing saved, for the page to show. Raises
    ``CurationError`` (a unit the analyzer lacks)."""
    saved = []
    old_merges = {frozenset(plain_unit_id(u) for u in m["unit_ids"]) for m in before.get("merges", [])}
    group = set(review.group(group_id).unit_ids) if group_id is not None else set()
    for merge in after.get("merges", []):
        units = _in_analyzer_order(review, merge["unit_ids"])
        if frozenset(units) in old_merges or len(units) < 2:
            continue
        if set(units) <= group:
            review.record_verdict(group_id, "accept", units)  # type: ignore[arg-type]
            saved.append(f"group {group_id} accepted: merge units {', '.join(map(str, units))}")
        else:
            made = review.add_group(units)
            review.record_verdict(made.group_id, "accept", units)
            saved.append(f"new group {made.group_id} accepted: merge units {', '.join(map(str, units))}")
    old_labels, new_labels = _quality(before), _quality(after)
    for unit, label in new_labels.items():
        if old_labels.get(unit) != label and label in _LABELS:
            review.set_label(unit, _LABELS[label])
            saved.append(f"unit {unit} labelled {_LABELS[label]}")
    old_removed = {plain_unit_id(u) for u in before.get("removed", [])}
    for unit in (plain_unit_id(u) for u in after.get("removed", [])):
        if unit not in old_removed:
            review.set_label(unit, "noise")
            saved.append(f"unit {unit} removed: labelled noise")
    return saved
